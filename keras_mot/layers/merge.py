"""Adapters for merge layers: Add, Subtract, Multiply, Maximum, Minimum, Concatenate.

TFLite int8 ADD / SUB / MUL / MAXIMUM / MINIMUM rescale their inputs and own an output range
(ADD, SUB and MUL also fuse a following ReLU/ReLU6). CONCATENATION requires its inputs to share
the output's scale (quantization_spec.md), so producers that feed only a Concatenate skip their
own output range and the Concatenate's range becomes theirs.
"""

import keras

from keras_mot.layers.base import LayerAdapter, register_adapter


class _MergeAdapter(LayerAdapter):
    kind = "merge"

    def activation_fn(self, layer):
        return None

    def forward(self, layer, inputs, weights, point):
        return layer.call(inputs)


@register_adapter(keras.layers.Add)
class AddAdapter(_MergeAdapter):
    """Add -> ADD (fuses ReLU/ReLU6)."""

    fuses_relu = True
    tflite_ops = ("ADD",)


@register_adapter(keras.layers.Subtract)
class SubtractAdapter(_MergeAdapter):
    """Subtract -> SUB (fuses ReLU/ReLU6)."""

    fuses_relu = True
    tflite_ops = ("SUB",)


@register_adapter(keras.layers.Multiply)
class MultiplyAdapter(_MergeAdapter):
    """Multiply -> MUL (fuses ReLU/ReLU6)."""

    fuses_relu = True
    tflite_ops = ("MUL",)


@register_adapter(keras.layers.Maximum)
class MaximumAdapter(_MergeAdapter):
    """Maximum -> MAXIMUM."""

    tflite_ops = ("MAXIMUM",)


@register_adapter(keras.layers.Minimum)
class MinimumAdapter(_MergeAdapter):
    """Minimum -> MINIMUM."""

    tflite_ops = ("MINIMUM",)


@register_adapter(keras.layers.Concatenate)
class ConcatenateAdapter(_MergeAdapter):
    """Concatenate -> CONCATENATION (inputs share the output range)."""

    shares_input_range = True
    tflite_ops = ("CONCATENATION",)
