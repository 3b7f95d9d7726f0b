"""The activation rule of the `dynamic_int8` scheme: int8 inputs quantized on every call.

`dynamic_int8` stores weights as `int8_weight_only` does (symmetric int8, one scale per output
channel) and, in Dense, EinsumDense, Conv1D/2D/3D and DepthwiseConv2D layers, quantizes the
layer's input on the fly, from that very input (no calibration, no stored range):

    inv_scale = 127 / (max |x| over the row + 1e-7)
    q = clip(round(x * inv_scale), -127, 127)          # int8 codes
    x_dequantized = q / inv_scale

symmetric (no zero point) and narrow range, the rule of Keras 3's `model.quantize("int8")`
(`keras.quantizers.abs_max_quantize`, epsilon `keras.config.epsilon()`). A "row" is what one
scale covers:

- Dense: the last axis (one scale per example, per token), as Keras' int8 Dense.
- EinsumDense: the input axes the equation contracts, as Keras' int8 EinsumDense.
- Conv and DepthwiseConv2D: the whole example (one scale per batch element), the granularity of
  TFLite's hybrid convolution kernels (Keras has no int8 convolution).

In training the layer sees `x_dequantized` with a straight-through gradient (`x` receives the
upstream gradient unchanged; none reaches the scale). Other layers (Embedding, whose input is
token ids, attention blocks, ...) keep float inputs: their weights are int8 weight-only.

Example:
    >>> axes = activation_axes(dense_layer)            # (-1,)
    >>> y = fake_quant_activation(keras.ops.ones((2, 8)), axes)
"""

import keras
from keras import ops

QMAX = 127
EPSILON = 1e-7  # keras.config.epsilon()'s default, the value Keras' int8 layers use

_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def _plain(layer):
    """No LoRA and no Keras quantization mode: the layer computes its float `call`."""
    mode = getattr(getattr(layer, "dtype_policy", None), "quantization_mode", None)
    return not getattr(layer, "lora_enabled", False) and mode is None


def _einsum_axes(equation):
    try:
        lhs, out = equation.replace(" ", "").split("->")
        inputs, _ = lhs.split(",")
    except ValueError:
        return None
    if "." in equation:
        return None
    axes = tuple(i for i, c in enumerate(inputs) if c not in out)
    return axes or None


def activation_axes(layer):
    """The input axes one activation scale covers in `layer` (see module doc), or `None` where
    `dynamic_int8` leaves the layer's input float (its weights then stay int8 weight-only).

    Example:
        >>> activation_axes(keras.layers.Conv2D(4, 3))
        (1, 2, 3)
    """
    if not _plain(layer):
        return None
    kind = type(layer)
    if kind is keras.layers.Dense:
        return (-1,)
    if kind is keras.layers.EinsumDense:
        return _einsum_axes(layer.equation)
    if kind in _CONVS or kind is keras.layers.DepthwiseConv2D:
        return tuple(range(1, int(layer.rank) + 2))
    return None


def inverse_scale(x, axes):
    """`127 / (max |x| over axes + 1e-7)`, kept dims (keras.ops; no gradient)."""
    amax = ops.max(ops.abs(ops.stop_gradient(x)), axis=axes, keepdims=True)
    return ops.divide(ops.cast(QMAX, x.dtype), ops.add(amax, ops.cast(EPSILON, x.dtype)))


def fake_quant_activation(x, axes):
    """`x` rounded to its per-row int8 grid (module doc), straight-through (keras.ops).

    Example:
        >>> fake_quant_activation(keras.ops.convert_to_tensor([[0.5, -1.0]]), (-1,))
    """
    inv = inverse_scale(x, axes)
    q = ops.clip(ops.round(ops.multiply(ops.stop_gradient(x), inv)), -QMAX, QMAX)
    return x + ops.stop_gradient(ops.divide(q, inv) - x)
