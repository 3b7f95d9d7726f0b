"""`ConstantOp`: a tensor combined with a scalar constant (x + c, x * c, c - x, ...).

Keras 3 Functional graphs record `x + 3.0` on a KerasTensor as a `keras.ops` operation, not a
layer (keras.applications.MobileNetV3's hard-sigmoid does this). keras_mot replaces such nodes
by this small serializable layer so they can be wrapped: TFLite runs them as ADD / SUB / MUL with
an int8 constant operand and their own output range.
"""

import keras
from keras import ops
from keras.src.ops import numpy as knp

from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, register_adapter

_OPS = {
    "add": ops.add,
    "subtract": ops.subtract,
    "multiply": ops.multiply,
}

# keras operation class -> (ConstantOp op name, operand order is commutative)
OPERATION_TYPES = {
    knp.Add: "add",
    knp.Subtract: "subtract",
    knp.Multiply: "multiply",
    knp.Divide: "divide",
    knp.TrueDivide: "divide",
}


@keras.saving.register_keras_serializable(package="keras_mot")
class ConstantOp(keras.layers.Layer):
    """Combines the input with a scalar constant.

    Args:
        op: `"add"`, `"subtract"` or `"multiply"` (division by `c` is multiplication by `1/c`).
        value: the scalar constant.
        constant_first: compute `op(value, x)` instead of `op(x, value)`.

    Example:
        >>> ConstantOp("add", 3.0)(keras.ops.zeros((1, 2)))   # [[3., 3.]]
    """

    def __init__(self, op, value, constant_first=False, **kwargs):
        super().__init__(**kwargs)
        if op not in _OPS:
            raise ValueError(f"ConstantOp.op must be one of {sorted(_OPS)}. Received: {op!r}.")
        self.op = op
        self.value = float(value)
        self.constant_first = bool(constant_first)

    def call(self, inputs, constant=None):
        c = ops.cast(self.value if constant is None else constant, inputs.dtype)
        a, b = (c, inputs) if self.constant_first else (inputs, c)
        return _OPS[self.op](a, b)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        cfg = super().get_config()
        cfg.update(op=self.op, value=self.value, constant_first=self.constant_first)
        return cfg


def constant_op_from_node(operation, args):
    """A `ConstantOp` equivalent to a keras operation applied to `(tensor, scalar)`, or `None`.

    Args:
        operation: the keras `Operation` of a Functional-graph node.
        args: its positional arguments (one KerasTensor and one Python number).
    """
    name = OPERATION_TYPES.get(type(operation))
    if name is None or len(args) != 2:
        return None
    scalar_positions = [i for i, a in enumerate(args) if isinstance(a, (int, float))]
    if len(scalar_positions) != 1:
        return None
    pos = scalar_positions[0]
    value = float(args[pos])
    if name == "divide":
        if pos == 0 or value == 0.0:
            return None
        name, value = "multiply", 1.0 / value
    return ConstantOp(name, value, constant_first=(pos == 0), name=operation.name)


@register_adapter(ConstantOp)
class ConstantOpAdapter(LayerAdapter):
    """ConstantOp -> ADD / SUB / MUL with an int8 constant operand (fuses ReLU/ReLU6)."""

    kind = LayerKind.ELEMENTWISE
    fuses_relu = True
    tflite_ops = ("ADD", "SUB", "MUL")

    def activation_fn(self, layer):
        return None

    def forward(self, layer, inputs, weights, point):
        return layer.call(inputs, constant=point("constant", layer.value))
