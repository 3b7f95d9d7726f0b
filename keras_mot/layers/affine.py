"""Adapters for per-channel affine layers: Rescaling, Normalization, standalone BatchNormalization.

Each computes `y = x * a + b` with constant per-channel (or scalar) `a`, `b`. TFLite runs it as
MUL then ADD with int8 constant operands (the converter's output for these layers on TF 2.21);
the intermediate tensor gets its own range. A BatchNormalization that follows a conv or dense
layer is folded into that layer's weights instead (see keras_mot.quantization.bn_fold) and
never reaches this adapter. A standalone BatchNormalization is quantized with its moving
statistics (inference form); gamma and beta stay trainable.
"""

import keras
from keras import ops

from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, register_adapter


class _AffineAdapter(LayerAdapter):
    kind = LayerKind.AFFINE
    fuses_relu = True
    tflite_ops = ("MUL", "ADD")

    def activation_fn(self, layer):
        return None

    def intermediate_points(self, layer):
        return ("scaled",)

    def scale_offset(self, layer, dtype):
        raise NotImplementedError

    def forward(self, layer, inputs, weights, point):
        a, b = self.scale_offset(layer, inputs.dtype)
        y = ops.multiply(inputs, point("constant_scale", a))
        y = point("scaled", y)
        return ops.add(y, point("constant_offset", b))


@register_adapter(keras.layers.Rescaling)
class RescalingAdapter(_AffineAdapter):
    """Rescaling(scale, offset): a = scale, b = offset."""

    def scale_offset(self, layer, dtype):
        a = ops.cast(ops.convert_to_tensor(layer.scale), dtype)
        b = ops.cast(ops.convert_to_tensor(layer.offset), dtype)
        return a, b


@register_adapter(keras.layers.Normalization)
class NormalizationAdapter(_AffineAdapter):
    """Normalization: a = 1 / std, b = -mean / std (inverse: a = std, b = mean)."""

    def scale_offset(self, layer, dtype):
        mean = ops.cast(layer.mean, dtype)
        std = ops.maximum(ops.sqrt(ops.cast(layer.variance, dtype)), keras.backend.epsilon())
        if getattr(layer, "invert", False):
            return std, mean
        return 1.0 / std, -mean / std


@register_adapter(keras.layers.BatchNormalization)
class BatchNormalizationAdapter(_AffineAdapter):
    """Standalone BatchNormalization (moving statistics): a = gamma / sqrt(var + eps)."""

    def scale_offset(self, layer, dtype):
        var = ops.cast(layer.moving_variance, dtype)
        a = ops.rsqrt(var + layer.epsilon)
        if layer.scale:
            a = a * ops.cast(layer.gamma, dtype)
        b = -ops.cast(layer.moving_mean, dtype) * a
        if layer.center:
            b = b + ops.cast(layer.beta, dtype)
        return a, b
