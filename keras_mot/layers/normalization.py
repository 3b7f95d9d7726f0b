"""Adapter for `LayerNormalization`, written with ops that all have TFLite int8 kernels.

Keras' own `ops.layer_normalization` (TF backend) lowers to MEAN, SQUARED_DIFFERENCE, MEAN, ADD,
RSQRT, MUL, MUL, **NEG**, MUL, ADD, ADD (converter output on TF 2.21). NEG has no int8 kernel
(tfl_ops.td: F32/I32/I64 only), so a post-training int8 model runs it in float between
DEQUANTIZE and QUANTIZE: one float island per LayerNormalization (the lint reports it).

The wrapper computes the same function in a form whose every op has an int8 kernel:

    mean = MEAN(x)            centered = SUB(x, mean)      squared = MUL(centered, centered)
    variance = MEAN(squared)  variance_eps = ADD(variance, epsilon)    rsqrt = RSQRT(variance_eps)
    normalized = MUL(centered, rsqrt)   scaled = MUL(normalized, gamma)   output = ADD(scaled, beta)

Each named tensor is an int8 tensor in the converted model and has a quantization point here;
gamma, beta and epsilon are constant operands quantized per tensor as the converter stores them.
`rms_scaling=True` (deprecated in Keras 3.15, which scales by the variance) is refused with a
clear error: exclude such layers, or use keras.layers.RMSNormalization.
"""

import keras
from keras import ops

from keras_mot.errors import KerasMotError, format_error
from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, register_adapter


def _axes(layer):
    return tuple(layer.axis) if isinstance(layer.axis, (list, tuple)) else (layer.axis,)


def _broadcast(vector, layer, shape):
    """gamma/beta reshaped to broadcast over an input of `shape` (as Keras does)."""
    rank = len(shape)
    axes = sorted(a % rank for a in _axes(layer))
    if axes == [rank - 1]:
        return vector
    target = [1] * rank
    for a in axes:
        target[a] = shape[a]
    return ops.reshape(vector, target)


def _rsqrt(point, v):
    """RSQRT as TFLite's int8 kernel computes it.

    An input on the zero code (a variance that rounds to 0 on its grid) gives the output's largest
    code, not inf (tensorflow/lite/kernels/elementwise.cc, quantized Rsqrt: "any value close to 0
    represents the max output value"). At inference `rsqrt(0) = inf` fake-quantizes to that largest
    code already, and the graph holds RSQRT alone, as the converter must see it. In training the
    range is learned from the other positions and the zero positions are put on the range's top
    without an inf, whose gradient (0 * inf) would be NaN.
    """
    if not point.training:
        return point("rsqrt", ops.rsqrt(v))
    positive = ops.greater(v, 0.0)
    y = point("rsqrt", ops.rsqrt(ops.where(positive, v, ops.maximum(ops.max(v), 1e-12))))
    return ops.where(positive, y, point.reuse("rsqrt", ops.full_like(v, 1e30)))


@register_adapter(keras.layers.LayerNormalization)
class LayerNormalizationAdapter(LayerAdapter):
    """LayerNormalization -> MEAN, SUB, MUL, MEAN, ADD, RSQRT, MUL, MUL, ADD (all int8).

    Example:
        >>> q = mot.quantize(keras.Sequential([keras.Input((8, 16)),
        ...                                    keras.layers.LayerNormalization()]))
    """

    kind = LayerKind.NORMALIZATION
    tflite_ops = ("MEAN", "SUB", "MUL", "ADD", "RSQRT")

    def activation_fn(self, layer):
        return None

    def intermediate_points(self, layer):
        if layer.rms_scaling:
            raise KerasMotError(
                format_error(
                    f"LayerNormalization '{layer.name}' uses the deprecated rms_scaling=True, which "
                    "keras_mot does not quantize.",
                    received="rms_scaling=True",
                    fix="Exclude the layer (mot.quantize(..., exclude=[name])) or use "
                    "keras.layers.RMSNormalization.",
                )
            )
        points = ("mean", "centered", "squared", "variance", "variance_eps", "rsqrt")
        if layer.scale or layer.center:
            points += ("normalized",)
        if layer.scale and layer.center:
            points += ("scaled",)
        return points

    def forward(self, layer, inputs, weights, point):
        axes = _axes(layer)
        mean = point("mean", ops.mean(inputs, axis=axes, keepdims=True))
        x = point("centered", ops.subtract(inputs, mean))
        variance = point("variance", ops.mean(point("squared", ops.multiply(x, x)), axis=axes, keepdims=True))
        eps = point("constant_epsilon", ops.convert_to_tensor(layer.epsilon, "float32"))
        inv = _rsqrt(point, point("variance_eps", ops.add(variance, eps)))
        y = ops.multiply(x, inv)
        if not (layer.scale or layer.center):
            return y
        y = point("normalized", y)
        if layer.scale:
            y = ops.multiply(y, point("constant_gamma", _broadcast(layer.gamma, layer, inputs.shape)))
            if layer.center:
                y = point("scaled", y)
        if layer.center:
            y = ops.add(y, point("constant_beta", _broadcast(layer.beta, layer, inputs.shape)))
        return y
