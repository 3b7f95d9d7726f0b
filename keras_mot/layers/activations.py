"""Activation functions as TFLite runs them, and adapters for activation layers.

`ACTIVATIONS` maps a Keras activation name to how the TFLite converter lowers it (read from the
converter's output on TF 2.21; fusion rules from tensorflow/compiler/mlir/lite/transforms/
optimize_patterns.td, fixed output ranges from tensorflow/lite/kernels/activations.cc):

- `fused`: folded into the producing CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / ADD / MUL
  as a fused activation, so no int8 tensor exists before it.
- `fixed`: the op's int8 output range is fixed by the kernel (LOGISTIC, SOFTMAX, TANH).
- `steps`: the ops it lowers to, each producing an int8 tensor (e.g. silu = LOGISTIC then MUL).
- `int8`: False when TFLite has no int8 kernel (the op stays float: a lint finding).
"""

import dataclasses

import keras
from keras import ops

from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, register_adapter


@dataclasses.dataclass(frozen=True)
class Activation:
    """How one activation lowers to TFLite ops (see module docstring)."""

    name: str
    tflite_op: str
    fused: bool = False
    fixed: str = None
    int8: bool = True

    def apply(self, x, point, fn=None, quantize_output=True):
        """Applies the activation, fake-quantizing every int8 tensor TFLite creates.

        Args:
            x: pre-activation tensor.
            point: `point(name, tensor)` fake-quantizes a named tensor.
            fn: the layer's own activation callable (keeps its parameters, e.g. a LeakyReLU
                slope); the table's function is used when `None`.
            quantize_output: whether to fake-quantize the output tensor.
        """
        out = (lambda t: point("output", t)) if quantize_output else (lambda t: t)
        if self.name == "linear":
            return out(x)
        if self.name in ("silu", "swish"):
            s = point("sigmoid", ops.sigmoid(x))
            return out(ops.multiply(x, s))
        if self.name == "hard_sigmoid":  # relu6(x + 3) / 6: ADD (fused RELU6), then MUL
            shifted = point("hard_sigmoid_relu6", ops.relu6(ops.add(x, point("constant_three", 3.0))))
            return out(ops.multiply(shifted, point("constant_sixth", 1.0 / 6.0)))
        return out((fn or _FUNCTIONS[self.name])(x))

    def internal_points(self):
        """Names of the int8 tensors this activation creates before its output."""
        return _INTERNAL_POINTS.get(self.name, ())

    def output_fixed(self):
        """The fixed-range kind of the output tensor, or `None`."""
        return self.fixed


_FUNCTIONS = {
    "relu": ops.relu,
    "relu6": ops.relu6,
    "sigmoid": ops.sigmoid,
    "softmax": lambda x: ops.softmax(x, axis=-1),
    "tanh": ops.tanh,
    "hard_silu": ops.hard_silu,
    "hard_swish": ops.hard_silu,
    "gelu": lambda x: ops.gelu(x, approximate=False),
    "gelu_tanh": lambda x: ops.gelu(x, approximate=True),
    "gelu_approximate": lambda x: ops.gelu(x, approximate=True),  # KerasHub's name
    "hard_sigmoid": ops.hard_sigmoid,
    "leaky_relu": lambda x: ops.leaky_relu(x, negative_slope=0.2),
    "elu": ops.elu,
}

ACTIVATIONS = {
    a.name: a
    for a in (
        Activation("linear", "", fused=True),
        Activation("relu", "RELU", fused=True),
        Activation("relu6", "RELU6", fused=True),
        Activation("sigmoid", "LOGISTIC", fixed="sigmoid"),
        Activation("softmax", "SOFTMAX", fixed="softmax"),
        Activation("tanh", "TANH", fixed="tanh"),
        Activation("hard_silu", "HARD_SWISH"),
        Activation("hard_swish", "HARD_SWISH"),
        Activation("gelu", "GELU"),
        Activation("gelu_tanh", "GELU"),
        Activation("gelu_approximate", "GELU"),
        # TF backend: relu6(x + 3) / 6 (keras/src/backend/tensorflow/nn.py) -> ADD+RELU6, MUL.
        Activation("hard_sigmoid", "ADD+MUL"),
        Activation("leaky_relu", "LEAKY_RELU"),
        Activation("silu", "LOGISTIC+MUL"),
        Activation("swish", "LOGISTIC+MUL"),
        Activation("elu", "ELU", int8=False),
    )
}


_INTERNAL_POINTS = {"silu": ("sigmoid",), "swish": ("sigmoid",), "hard_sigmoid": ("hard_sigmoid_relu6",)}


def keras_function(name):
    """The `keras.ops` function computing activation `name` (a fused ReLU's float form).

    Example:
        >>> keras_function("relu6")(keras.ops.convert_to_tensor([-1.0, 7.0]))   # [0., 6.]
    """
    return _FUNCTIONS[name]


def lookup(name):
    """The `Activation` entry for a Keras activation name, or `None` if unknown."""
    return ACTIVATIONS.get(name)


def relu_layer_activation(layer):
    """Name of the activation a `keras.layers.ReLU` computes, or `None` if TFLite has no op."""
    slope = float(layer.negative_slope or 0.0)
    threshold = float(layer.threshold or 0.0)
    if slope != 0.0 or threshold != 0.0:
        return None
    if layer.max_value is None:
        return "relu"
    if float(layer.max_value) == 6.0:
        return "relu6"
    return None


class _ActivationLayerAdapter(LayerAdapter):
    kind = LayerKind.ACTIVATION

    def forward(self, layer, inputs, weights, point):
        return inputs

    def activation_fn(self, layer):
        return layer.call


@register_adapter(keras.layers.Activation)
class ActivationAdapter(_ActivationLayerAdapter):
    """`Activation(name)`: the op the table names."""

    def activation(self, layer):
        return getattr(layer.activation, "__name__", str(layer.activation))

    def activation_fn(self, layer):
        return layer.activation


@register_adapter(keras.layers.ReLU)
class ReLUAdapter(_ActivationLayerAdapter):
    """`ReLU()` / `ReLU(6.)` -> RELU / RELU6 (fused into the producer when possible)."""

    def activation(self, layer):
        return relu_layer_activation(layer) or "unsupported_relu"


@register_adapter(keras.layers.Softmax)
class SoftmaxAdapter(_ActivationLayerAdapter):
    """`Softmax()` on the last axis -> SOFTMAX (fixed output range)."""

    def activation(self, layer):
        return "softmax" if layer.axis in (-1,) else "unsupported_softmax"


@register_adapter(keras.layers.LeakyReLU)
class LeakyReLUAdapter(_ActivationLayerAdapter):
    """`LeakyReLU(slope)` -> LEAKY_RELU."""

    def activation(self, layer):
        return "leaky_relu"


@register_adapter(keras.layers.ELU)
class ELUAdapter(_ActivationLayerAdapter):
    """`ELU()` -> ELU, which has no int8 kernel in TFLite (stays float)."""

    def activation(self, layer):
        return "elu"
