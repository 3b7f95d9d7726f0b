"""Adapters for merge layers: Add, Subtract, Multiply, Maximum, Minimum, Concatenate.

TFLite int8 ADD / SUB / MUL / MAXIMUM / MINIMUM rescale their inputs and own an output range
(ADD, SUB and MUL also fuse a following ReLU/ReLU6). CONCATENATION requires its inputs to share
the output's scale (quantization_spec.md), so producers that feed only a Concatenate skip their
own output range and the Concatenate's range becomes theirs.
"""

import keras
from keras import ops

from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, register_adapter


class _MergeAdapter(LayerAdapter):
    kind = LayerKind.MERGE

    def activation_fn(self, layer):
        return None

    def forward(self, layer, inputs, weights, point):
        return layer.call(inputs)


def _arity(layer):
    """Number of inputs the (built) merge layer takes; 2 when unknown."""
    shapes = (layer.get_build_config() or {}).get("input_shape") if layer.built else None
    if isinstance(shapes, (list, tuple)) and shapes and isinstance(shapes[0], (list, tuple)):
        return len(shapes)
    return 2


class _ChainAdapter(_MergeAdapter):
    """A merge of n > 2 inputs becomes a chain of n - 1 binary TFLite ops, each writing an int8
    tensor: the partial results get their own quantization points."""

    _op = None

    def intermediate_points(self, layer):
        return tuple(f"partial_{i}" for i in range(1, _arity(layer) - 1))

    def forward(self, layer, inputs, weights, point):
        if not isinstance(inputs, (list, tuple)) or len(inputs) <= 2:
            return layer.call(inputs)
        y = inputs[0]
        for i, x in enumerate(inputs[1:], 1):
            y = type(self)._op(y, x)
            if i < len(inputs) - 1:
                y = point(f"partial_{i}", y)
        return y


@register_adapter(keras.layers.Add)
class AddAdapter(_ChainAdapter):
    """Add -> ADD (fuses ReLU/ReLU6); n inputs -> n - 1 ADDs."""

    fuses_relu = True
    tflite_ops = ("ADD",)
    _op = ops.add


@register_adapter(keras.layers.Subtract)
class SubtractAdapter(_MergeAdapter):
    """Subtract -> SUB (fuses ReLU/ReLU6)."""

    fuses_relu = True
    tflite_ops = ("SUB",)


@register_adapter(keras.layers.Multiply)
class MultiplyAdapter(_ChainAdapter):
    """Multiply -> MUL (fuses ReLU/ReLU6); n inputs -> n - 1 MULs."""

    fuses_relu = True
    tflite_ops = ("MUL",)
    _op = ops.multiply


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
