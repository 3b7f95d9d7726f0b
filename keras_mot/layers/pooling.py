"""Pooling and shape layers.

`PASSTHROUGH` lists layers that become TFLite ops whose int8 output keeps the input's scale and
zero point (RESHAPE, PAD, MAX_POOL_2D, AVERAGE_POOL_2D, RESIZE_*, STRIDED_SLICE, TRANSPOSE ...;
quantization_spec.md "restriction: input and outputs must all have same scale/zero_point"), or
that vanish at inference (Dropout). They need no quantization point of their own.
GlobalAveragePooling becomes MEAN, which owns its output range.
"""

import keras

from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, register_adapter

PASSTHROUGH = tuple(
    getattr(keras.layers, name)
    for name in (
        "InputLayer",
        "Identity",
        "Reshape",
        "Flatten",
        "Permute",
        "RepeatVector",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "ZeroPadding3D",
        "Cropping1D",
        "Cropping2D",
        "Cropping3D",
        "MaxPooling1D",
        "MaxPooling2D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "UpSampling1D",
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
    )
    if hasattr(keras.layers, name)
)


def is_passthrough(layer):
    """True when `layer` keeps its input's quantization parameters in TFLite and its output
    values stay on the input's grid (no new rounding), so it needs no wrapper."""
    if isinstance(layer, (keras.layers.UpSampling2D, keras.layers.Resizing)):
        return getattr(layer, "interpolation", "nearest") == "nearest"
    return isinstance(layer, PASSTHROUGH)


@register_adapter(
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.UpSampling2D,
    keras.layers.Resizing,
)
class SameScaleAdapter(LayerAdapter):
    """AVERAGE_POOL_2D, RESIZE_BILINEAR: the int8 output keeps the input's scale and zero point,
    but the averaged values are rounded back onto that grid. The wrapper re-quantizes the output
    with the producer's own range (no new range), exactly as the kernel rounds."""

    kind = LayerKind.SAME_SCALE
    same_scale_output = True
    tflite_ops = ("AVERAGE_POOL_2D", "RESIZE_BILINEAR")

    def activation_fn(self, layer):
        return None

    def forward(self, layer, inputs, weights, point):
        return layer.call(inputs)


@register_adapter(keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D)
class GlobalAveragePoolingAdapter(LayerAdapter):
    """GlobalAveragePooling -> MEAN with its own output range."""

    kind = LayerKind.POOL
    tflite_ops = ("MEAN",)

    def activation_fn(self, layer):
        return None

    def reduced_axes(self, layer, rank):
        """The axes MEAN averages over: the spatial axes of a `rank`-D input."""
        if getattr(layer, "data_format", "channels_last") == "channels_first":
            return tuple(range(2, rank))
        return tuple(range(1, rank - 1))

    def forward(self, layer, inputs, weights, point):
        return layer.call(inputs)


@register_adapter(keras.layers.Identity)
class IdentityAdapter(LayerAdapter):
    """Identity: used by keras_mot as the model-input quantization point (TFLite QUANTIZE)."""

    kind = LayerKind.IDENTITY
    tflite_ops = ("QUANTIZE",)

    def activation_fn(self, layer):
        return None

    def forward(self, layer, inputs, weights, point):
        return inputs
