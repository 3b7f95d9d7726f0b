"""Quantization schemes: frozen descriptions of how weights and activations are quantized.

A scheme is data. `QuantScheme.weight_spec(kind)` and `QuantScheme.activation_spec()` give the
`QuantSpec` the quantizers read. Schemes are registered by name; a target names its default.
"""

import dataclasses
from typing import Optional

from keras_mot import codec
from keras_mot.errors import KerasMotError, format_error
from keras_mot.layer_kinds import LayerKind


@codec.register()
@dataclasses.dataclass(frozen=True)
class QuantSpec:
    """How one tensor is quantized.

    Attributes:
        bits: number of bits (2..16).
        symmetric: zero point fixed at the middle of the range (min = -max).
        narrow_range: drop the lowest code (int8: [-127, 127]), as TFLite requires for weights.
        per_channel: one range per output channel (weights only).
    """

    bits: int = 8
    symmetric: bool = False
    narrow_range: bool = False
    per_channel: bool = False

    def __post_init__(self):
        if not 2 <= int(self.bits) <= 16:
            raise KerasMotError(format_error("QuantSpec.bits must be in [2, 16].", received=repr(self.bits)))

    def get_config(self):
        """Plain-data form (see `keras_mot.codec`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        """Inverse of `get_config`."""
        return cls(**config)

    @property
    def levels(self):
        """Number of grid steps between the lowest and highest code (int8: 255; narrow: 254)."""
        return (2**self.bits - 1) - (1 if self.narrow_range else 0)


@codec.register()
@dataclasses.dataclass(frozen=True)
class QuantScheme:
    """A named quantization scheme (weights spec per layer kind, activation spec).

    Attributes:
        name: registry key.
        weights: spec for weights of layers whose TFLite kernel takes per-channel weights.
        weights_per_tensor: spec for weights where the target only takes per-tensor ranges.
        per_tensor_kinds: layer kinds (`LayerKind`) whose weights use `weights_per_tensor`;
            stored in configs as their strings.
        activations: spec for activations (per tensor).
        ema_decay: decay of the moving-average activation ranges during training.

    Example:
        >>> get_scheme("int8").weight_spec(LayerKind.CONV)
        QuantSpec(bits=8, symmetric=True, narrow_range=True, per_channel=True)
    """

    name: str
    weights: QuantSpec
    activations: QuantSpec
    weights_per_tensor: Optional[QuantSpec] = None
    per_tensor_kinds: tuple = ()
    ema_decay: float = 0.99

    def weight_spec(self, kind):
        """The `QuantSpec` for a weight of a layer of family `kind`."""
        if kind in self.per_tensor_kinds and self.weights_per_tensor is not None:
            return self.weights_per_tensor
        return self.weights

    def activation_spec(self):
        """The `QuantSpec` for activations."""
        return self.activations

    def get_config(self):
        """Plain-data form (see `keras_mot.codec`): specs encoded, kinds as a list of strings."""
        return {f.name: codec.encode_field(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_config(cls, config):
        """Inverse of `get_config` (specs written as bare mappings by older files are read too)."""
        config = dict(config)
        for key in ("weights", "activations", "weights_per_tensor"):
            if key in config:
                config[key] = codec.decode_field(config[key], QuantSpec)
        config["per_tensor_kinds"] = tuple(config.get("per_tensor_kinds", ()))
        return cls(**config)


_SCHEMES = {}


def register_scheme(scheme):
    """Registers a `QuantScheme` under its name and returns it."""
    _SCHEMES[scheme.name] = scheme
    return scheme


def get_scheme(name):
    """Returns the scheme called `name` (a `QuantScheme` is returned as is)."""
    if isinstance(name, QuantScheme):
        return name
    try:
        return _SCHEMES[name]
    except (KeyError, TypeError):
        raise KerasMotError(
            format_error(
                "Unknown quantization scheme.",
                received=repr(name),
                fix=f"Use one of: {', '.join(sorted(_SCHEMES))}, or register_scheme() your own.",
            )
        ) from None


_PER_TENSOR_INT8 = QuantSpec(bits=8, symmetric=True, narrow_range=True, per_channel=False)

# TFLite int8 spec (quantization_spec.md): weights int8 symmetric, narrow range, per-channel for
# CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV; activations int8 asymmetric. Dense kernels are
# per-tensor: the TF 2.21 converter's QAT path transposes the (in, out) MatMul kernel into
# FULLY_CONNECTED's (out, in) layout and rejects a per-channel FakeQuant there (likewise the
# (kh, kw, out, in) Conv2DTranspose kernel) ("'tfl.transpose'
# op has mismatched quantized axes of input and output", reproduced here).
INT8 = register_scheme(
    QuantScheme(
        name="int8",
        weights=QuantSpec(bits=8, symmetric=True, narrow_range=True, per_channel=True),
        activations=QuantSpec(bits=8, symmetric=False),
        weights_per_tensor=_PER_TENSOR_INT8,
        per_tensor_kinds=(LayerKind.DENSE, LayerKind.CONV_TRANSPOSE),
    )
)

# What the converter's post-training quantization of a float model does (its MLIR quantizer,
# TF 2.21): as "int8", but FULLY_CONNECTED weights per output channel (no transposed FakeQuant to
# reject there). `mot.debug` of a float model and selective export simulate with it.
register_scheme(
    dataclasses.replace(INT8, name="int8_post_training", per_tensor_kinds=(LayerKind.CONV_TRANSPOSE,))
)

# Same numerics with per-tensor weights everywhere (older runtimes, some MCU kernels).
register_scheme(
    QuantScheme(
        name="int8_per_tensor",
        weights=QuantSpec(bits=8, symmetric=True, narrow_range=True, per_channel=False),
        activations=QuantSpec(bits=8, symmetric=False),
    )
)

# TFLite 16x8 (operator_property.cc): int16 symmetric activations (zero point 0), int8 weights.
register_scheme(
    QuantScheme(
        name="int16x8",
        weights=QuantSpec(bits=8, symmetric=True, narrow_range=True, per_channel=True),
        activations=QuantSpec(bits=16, symmetric=True, narrow_range=True),
        weights_per_tensor=_PER_TENSOR_INT8,
        per_tensor_kinds=(LayerKind.DENSE, LayerKind.CONV_TRANSPOSE),
    )
)

# 4-bit weights, 8-bit activations: for studying low-bit accuracy (exported as int8 containers).
register_scheme(
    QuantScheme(
        name="int4w_int8a",
        weights=QuantSpec(bits=4, symmetric=True, narrow_range=True, per_channel=True),
        activations=QuantSpec(bits=8, symmetric=False),
        weights_per_tensor=QuantSpec(bits=4, symmetric=True, narrow_range=True, per_channel=False),
        per_tensor_kinds=(LayerKind.DENSE, LayerKind.CONV_TRANSPOSE),
    )
)
