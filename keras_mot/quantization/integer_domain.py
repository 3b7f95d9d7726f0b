"""Conv / dense computed on the integer grid, as the int8 kernels do (keras.ops only).

The TFLite kernels accumulate int8 x int8 products exactly in int32, add the int32 bias, and
round once when requantizing. A float32 simulation of `conv(x_fq, w_fq) + b` rounds at every
partial sum, so outputs that sit within ~1e-4 of a half step round the other way now and then;
in deep squeeze-excite networks such one-step differences cascade into flipped predictions
(measured on EfficientNetB0: a flip traced to a depthwise output at -3.500005 steps).

Here the op runs on the integer values themselves (`x / s_x`, `w / s_w`, both exact integers
in float32), so the accumulation is exact while sums stay below 2**24, and the result is scaled
once: `y = (acc + bias_int) * s_x * s_w`. Rounding uses straight-through gradients, so training
sees the same gradients as `conv(x_fq, w_fq) + b`.

With the output grid known (`output_scale`, Keras inference in `simulating()` mode), the result
is also requantized as XNNPack (TFLite's default CPU delegate) does for int8 CONV_2D /
DEPTHWISE_CONV_2D / FULLY_CONNECTED: one float32 multiplier per output channel (or per tensor),
`m = float32(s_x * s_w) / s_out`, and `code = round_half_even(float32(acc + bias_int) * m)`.
Measured on ResNet50's first convolution (1 048 576 outputs, eager): 0 codes differ from
XNNPack's, against 2 for rounding `y / s_out` and 3 for the exact real product (in a traced
`predict`, TensorFlow's constant-folding pass reorders the arithmetic and 3 differ).
"""

from keras import ops

from keras_mot.quantization import bn_fold


def _ste_round(x):
    return x + ops.stop_gradient(ops.round(x) - x)


def _per_output_channel(v, rank):
    return ops.reshape(v, (1,) * (rank - 1) + (-1,)) if len(v.shape) else v


def linear_on_grid(
    forward, inputs, kernel_q, kernel_scale, channel_axis, bias, input_scale, output_scale=None
):
    """Runs the linear op `forward(inputs, kernel)` on integer values.

    Args:
        forward: `(inputs, kernel) -> output`, linear in both (conv, depthwise, dense...).
        inputs: the op's input, already on the int8 grid of scale `input_scale`.
        kernel_q: fake-quantized kernel; `kernel_scale` its scale (per output channel or scalar)
            along `channel_axis` (as in `bn_fold.fold_kernel`).
        bias: float bias or `None` (rounded to the int32 grid `input_scale * kernel_scale`).
        input_scale: scalar scale of the input grid; where it is 0 (ranges not recorded yet)
            the op runs in float on the fake-quantized kernel instead.
        output_scale: scalar scale of the int8 tensor the op writes, or `None`; where given and
            positive, `y` is requantized to that grid with the kernel's arithmetic (module
            docstring).

    Returns:
        `y`: the op's output, bias included.
    """
    ready = input_scale > 0
    s_in = ops.where(ready, input_scale, 1.0)
    x_int = ops.where(ready, _ste_round(inputs / s_in), inputs)
    if len(kernel_scale.shape):
        w_int = bn_fold.fold_kernel(kernel_q, 1.0 / kernel_scale, channel_axis)
    else:
        w_int = kernel_q / kernel_scale
    acc = forward(x_int, _ste_round(w_int))
    rank = len(acc.shape)
    scale = _per_output_channel(s_in * kernel_scale, rank)
    if bias is not None:
        b = bias / (s_in * kernel_scale)
        acc_b = acc + _per_output_channel(ops.where(ready, _ste_round(b), b), rank)
    else:
        acc_b = acc
    y = acc_b * scale
    if output_scale is not None:
        y = _requantize(acc_b, y, s_in * kernel_scale, output_scale, ready, rank)
    return y


def _requantize(acc, y, acc_scale, output_scale, ready, rank):
    """`y` replaced (straight-through) by XNNPack's fp32 requantization of the int32
    accumulator `acc` to the output grid (module docstring), where both grids are known."""
    ready = ready & (output_scale > 0)
    s_out = ops.where(ready, output_scale, 1.0)
    multiplier = _per_output_channel(acc_scale / s_out, rank)
    exact = ops.round(acc * multiplier) * s_out
    return ops.where(ready, y + ops.stop_gradient(exact - y), y)
