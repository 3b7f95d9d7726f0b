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
"""

from keras import ops

from keras_mot.quantization import bn_fold


def _ste_round(x):
    return x + ops.stop_gradient(ops.round(x) - x)


def _per_output_channel(v, rank):
    return ops.reshape(v, (1,) * (rank - 1) + (-1,)) if len(v.shape) else v


def linear_on_grid(forward, inputs, kernel_q, kernel_scale, channel_axis, bias, input_scale):
    """Runs the linear op `forward(inputs, kernel)` on integer values.

    Args:
        forward: `(inputs, kernel) -> output`, linear in both (conv, depthwise, dense...).
        inputs: the op's input, already on the int8 grid of scale `input_scale`.
        kernel_q: fake-quantized kernel; `kernel_scale` its scale (per output channel or scalar)
            along `channel_axis` (as in `bn_fold.fold_kernel`).
        bias: float bias or `None` (rounded to the int32 grid `input_scale * kernel_scale`).
        input_scale: scalar scale of the input grid; where it is 0 (ranges not recorded yet)
            the op runs in float on the fake-quantized kernel instead.

    Returns:
        `(z, y)`: the op's output without and with the bias.
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
    z = acc * scale
    if bias is None:
        return z, z
    b = bias / (s_in * kernel_scale)
    b_int = ops.where(ready, _ste_round(b), b)
    return z, (acc + _per_output_channel(b_int, rank)) * scale
