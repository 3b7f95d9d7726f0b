"""Adapters for layers with a weight kernel: Conv1D/2D, DepthwiseConv1D/2D, SeparableConv1D/2D,
Conv1DTranspose/2DTranspose and Dense.

Channel axes follow Keras' kernel layouts:
Conv (kh, kw, in, out) -> out is axis -1; Dense (in, out) -> -1; Depthwise (kh, kw, in, mult) ->
output channel c = i * mult + m, so per-channel ranges run over the flattened last two axes;
ConvTranspose (kh, kw, out, in) -> out is axis -2.
TFLite int8 takes per-channel weights for CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and
FULLY_CONNECTED (quantization_spec.md).
"""

import keras
from keras import ops

from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, WeightRef, register_adapter


def _add_bias(y, bias):
    if bias is None:
        return y
    return ops.add(y, ops.reshape(bias, (1,) * (len(y.shape) - 1) + (-1,)))


def _activation_name(layer):
    fn = getattr(layer, "activation", None)
    if fn is None:
        return "linear"
    return getattr(fn, "__name__", str(fn))


class _KernelAdapter(LayerAdapter):
    fuses_relu = True
    folds_batchnorm = True
    kernel_attr = "kernel"
    channel_axis = -1

    def weights(self, layer):
        return {"kernel": WeightRef(self.kernel_attr, self.channel_axis, self.kind)}

    def bias_attr(self, layer):
        return "bias" if getattr(layer, "use_bias", False) else None

    def activation(self, layer):
        return _activation_name(layer)

    def output_channel_count(self, layer):
        return int(getattr(layer, "filters", None) or layer.units)


@register_adapter(keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
class ConvAdapter(_KernelAdapter):
    """Conv1D/2D -> CONV_2D (Conv1D via EXPAND_DIMS/RESHAPE); Conv3D -> CONV_3D (float only)."""

    kind = LayerKind.CONV
    tflite_ops = ("CONV_2D",)

    def forward(self, layer, inputs, weights, point):
        padding = layer.padding
        if padding == "causal":
            inputs = ops.pad(inputs, layer._compute_causal_padding())
            padding = "valid"
        y = ops.conv(
            inputs,
            weights["kernel"],
            strides=list(layer.strides),
            padding=padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )
        return _add_bias(y, weights.get("bias"))


@register_adapter(keras.layers.Dense)
class DenseAdapter(_KernelAdapter):
    """Dense -> FULLY_CONNECTED."""

    kind = LayerKind.DENSE
    tflite_ops = ("FULLY_CONNECTED",)

    def forward(self, layer, inputs, weights, point):
        if len(inputs.shape) == 3:  # matmul would trace a dynamic tensordot: float FC in TFLite
            return _add_bias(ops.einsum("abc,cd->abd", inputs, weights["kernel"]), weights.get("bias"))
        return _add_bias(ops.matmul(inputs, weights["kernel"]), weights.get("bias"))


@register_adapter(keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
class DepthwiseAdapter(_KernelAdapter):
    """DepthwiseConv2D -> DEPTHWISE_CONV_2D (per-channel over in * depth_multiplier)."""

    kind = LayerKind.DEPTHWISE
    tflite_ops = ("DEPTHWISE_CONV_2D",)
    channel_axis = (-2, -1)

    def output_channel_count(self, layer):
        return int(layer.kernel.shape[-2] * layer.kernel.shape[-1])

    def forward(self, layer, inputs, weights, point):
        y = ops.depthwise_conv(
            inputs,
            weights["kernel"],
            strides=layer.strides,
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )
        return _add_bias(y, weights.get("bias"))


@register_adapter(keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
class SeparableAdapter(_KernelAdapter):
    """SeparableConv2D -> DEPTHWISE_CONV_2D then CONV_2D, with an int8 tensor in between."""

    kind = LayerKind.SEPARABLE
    tflite_ops = ("DEPTHWISE_CONV_2D", "CONV_2D")

    def weights(self, layer):
        return {
            "depthwise_kernel": WeightRef("depthwise_kernel", (-2, -1), LayerKind.DEPTHWISE),
            "kernel": WeightRef("pointwise_kernel", -1, LayerKind.CONV),
        }

    def intermediate_points(self, layer):
        return ("depthwise",)

    def bias_input_point(self, layer):
        return LayerKind.DEPTHWISE

    def forward(self, layer, inputs, weights, point):
        y = ops.depthwise_conv(
            inputs,
            weights["depthwise_kernel"],
            strides=layer.strides,
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )
        y = point("depthwise", y)
        y = ops.conv(y, weights["kernel"], strides=1, padding="valid", data_format=layer.data_format)
        return _add_bias(y, weights.get("bias"))


@register_adapter(keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose)
class ConvTransposeAdapter(_KernelAdapter):
    """Conv2DTranspose -> TRANSPOSE_CONV (kernel (kh, kw, out, in): channels on axis -2)."""

    kind = LayerKind.CONV_TRANSPOSE
    tflite_ops = ("TRANSPOSE_CONV",)
    channel_axis = -2

    def forward(self, layer, inputs, weights, point):
        y = ops.conv_transpose(
            inputs,
            weights["kernel"],
            strides=list(layer.strides),
            padding=layer.padding,
            output_padding=layer.output_padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )
        return _add_bias(y, weights.get("bias"))
