"""Weight-only quantization schemes and their grid math (int8 per channel, int4 in blocks).

Weight-only schemes store weights as integers and compute in float: activations are never
quantized. They are meant for TensorFlow serving (`keras_mot.export.tf_serving`), where the
serving graph dequantizes the stored integer weights into float32 or bfloat16 compute.

- `int8_weight_only`: symmetric int8 codes in [-127, 127], one scale per output channel.
- `int4_weight_only`: symmetric int4 codes in [-7, 7], one scale per output channel and per
  block of `block_size` consecutive elements along the reduction (input) axis. Two codes are
  packed into one int8 byte when exported.
- `dynamic_int8`: the int8 weights of `int8_weight_only`, plus activations quantized on the
  fly on every call (`dynamic=True`; the activation rule is `keras_mot.quantization.dynamic_int8`).

A weight is viewed as a matrix `(reduction, channels)`: the axes it contracts with the input
first, its output-channel axes last (`WeightLayout`). Everything here is `keras.ops` or NumPy.

Example:
    >>> scheme = get_scheme("int4_weight_only")
    >>> layout = WeightLayout(reduce_axes=(0,), channel_axes=(1,))
    >>> codes, scales = quantize_matrix(np.random.randn(128, 4), scheme)   # NumPy
"""

import dataclasses
from typing import Optional, Tuple

import numpy as np
from keras import ops

from keras_mot import codec
from keras_mot.errors import KerasMotError, format_error
from keras_mot.quantization.scheme import QuantScheme, QuantSpec, get_scheme, register_scheme

COMPUTE_DTYPES = ("float32", "bfloat16")
_EPS = 1e-12


@codec.register()
@dataclasses.dataclass(frozen=True)
class WeightOnlyScheme(QuantScheme):
    """A weight-only scheme: integer weights, float activations and compute.

    Attributes:
        block_size: elements per scale along the reduction axis (`None`: one scale per output
            channel). Even, at least 2.
        compute_dtype: `"float32"` or `"bfloat16"`: the dtype the serving graph computes in.
        dynamic: also quantize the inputs of Dense / EinsumDense / Conv / DepthwiseConv2D layers
            to int8 on every call (dynamic range; int8 per channel, float32 compute only).
        integer_matmul: with `dynamic`, large Dense layers serve through oneDNN's int8 matmul
            (`QuantizedMatMulWithBias`; same numbers, faster at batch 32 on CPUs with VNNI /
            AMX); such a SavedModel needs a TensorFlow with oneDNN's custom ops on.

    Example:
        >>> weight_only_scheme(bits=4, block_size=32, compute_dtype="bfloat16").name
        'int4_weight_only_b32_bf16'
    """

    block_size: Optional[int] = None
    compute_dtype: str = "float32"
    dynamic: bool = False
    integer_matmul: bool = False

    def __post_init__(self):
        if self.integer_matmul and not self.dynamic:
            raise KerasMotError(
                format_error(
                    f"Scheme '{self.name}': integer_matmul needs dynamic activations.",
                    received="integer_matmul=True, dynamic=False",
                    fix="Use 'dynamic_int8_onednn', or drop integer_matmul.",
                )
            )
        if self.dynamic and (self.bits != 8 or self.block_size or self.compute_dtype != "float32"):
            raise KerasMotError(
                format_error(
                    f"Scheme '{self.name}': dynamic activations need int8 per-channel weights and "
                    "float32 compute.",
                    received=f"bits={self.bits}, block_size={self.block_size!r}, "
                    f"compute_dtype={self.compute_dtype!r}",
                    fix="Use 'dynamic_int8' as registered, or a weight-only scheme for int4 / bfloat16.",
                )
            )
        if self.block_size is not None and (int(self.block_size) < 2 or self.block_size % 2):
            raise KerasMotError(
                format_error(
                    f"Weight-only scheme '{self.name}': block_size must be an even number >= 2.",
                    received=repr(self.block_size),
                    fix="Use 32, 64 or 128 (or None: per channel).",
                )
            )
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise KerasMotError(
                format_error(
                    f"Weight-only scheme '{self.name}': unknown compute_dtype.",
                    received=repr(self.compute_dtype),
                    fix=f"Use one of {COMPUTE_DTYPES}.",
                )
            )

    @property
    def bits(self):
        """Bits per stored weight code (8 or 4)."""
        return self.weights.bits

    @property
    def qmax(self):
        """Largest code: 127 for int8, 7 for int4 (symmetric, narrow range)."""
        return 2 ** (self.bits - 1) - 1

    def get_config(self):
        """Plain-dict form (a `WeightOnlyWrapper`'s config)."""
        return {
            "bits": self.bits,
            "block_size": self.block_size,
            "compute_dtype": self.compute_dtype,
            "name": self.name,
            "dynamic": self.dynamic,
            "integer_matmul": self.integer_matmul,
        }

    @classmethod
    def from_config(cls, cfg):
        """Inverse of `get_config`."""
        return weight_only_scheme(
            cfg["bits"],
            cfg.get("block_size"),
            cfg.get("compute_dtype", "float32"),
            name=cfg.get("name"),
            dynamic=bool(cfg.get("dynamic", False)),
            integer_matmul=bool(cfg.get("integer_matmul", False)),
        )


def weight_only_scheme(
    bits=8, block_size=None, compute_dtype="float32", name=None, dynamic=False, integer_matmul=False
):
    """A `WeightOnlyScheme` (not registered): `bits` 8 or 4, optional blocks; `dynamic=True`
    adds per-call int8 activation quantization (`dynamic_int8`), `integer_matmul=True` its
    oneDNN int8 Dense kernel (`dynamic_int8_onednn`).

    Example:
        >>> mot.quantize(model, target="tf_serving", scheme=weight_only_scheme(4, 32))
    """
    if bits not in (4, 8):
        raise KerasMotError(
            format_error(
                "Weight-only schemes store int8 or int4 weights.",
                received=f"bits={bits!r}",
                fix="Use bits=8 or bits=4.",
            )
        )
    if name is None and dynamic:
        name = "dynamic_int8" + ("_onednn" if integer_matmul else "")
    if name is None:
        name = (
            f"int{bits}_weight_only"
            + (f"_b{block_size}" if block_size else "")
            + ("_bf16" if compute_dtype == "bfloat16" else "")
        )
    spec = QuantSpec(bits=bits, symmetric=True, narrow_range=True, per_channel=True)
    return WeightOnlyScheme(
        name=name,
        weights=spec,
        activations=None,
        block_size=block_size,
        compute_dtype=compute_dtype,
        dynamic=dynamic,
        integer_matmul=integer_matmul,
    )


def is_weight_only(scheme):
    """True when `scheme` (a name or a scheme) is a weight-only scheme."""
    if scheme is None or scheme == "target":
        return False
    return isinstance(get_scheme(scheme), WeightOnlyScheme)


DEFAULT_INT4_BLOCK = 128  # 0.125 + 1/128 of float32 bytes (float32 scales): under 0.15x

register_scheme(weight_only_scheme(8))
register_scheme(weight_only_scheme(8, compute_dtype="bfloat16"))
register_scheme(weight_only_scheme(4, DEFAULT_INT4_BLOCK, name="int4_weight_only"))
register_scheme(weight_only_scheme(4, DEFAULT_INT4_BLOCK, "bfloat16", name="int4_weight_only_bf16"))
for _block in (32, 64, 128):
    register_scheme(weight_only_scheme(4, _block))
register_scheme(weight_only_scheme(8, dynamic=True))  # "dynamic_int8"
register_scheme(weight_only_scheme(8, dynamic=True, integer_matmul=True))  # "dynamic_int8_onednn"


@dataclasses.dataclass(frozen=True)
class WeightLayout:
    """How a weight tensor maps onto the `(reduction, channels)` matrix that is quantized.

    Attributes:
        reduce_axes: axes contracted with the input (blocks run along them, flattened).
        channel_axes: output-channel axes (one scale per channel, flattened).

    Example:
        >>> WeightLayout((0, 1, 2), (3,)).perm      # Conv2D kernel (kh, kw, in, out)
        (0, 1, 2, 3)
    """

    reduce_axes: Tuple[int, ...]
    channel_axes: Tuple[int, ...]

    @property
    def perm(self):
        """Transpose that puts the reduction axes first."""
        return tuple(self.reduce_axes) + tuple(self.channel_axes)

    def matrix_shape(self, shape):
        """`(R, C)` of a weight of `shape`."""
        r = int(np.prod([shape[a] for a in self.reduce_axes])) if self.reduce_axes else 1
        c = int(np.prod([shape[a] for a in self.channel_axes])) if self.channel_axes else 1
        return r, c

    def to_matrix(self, w):
        """`w` (keras tensor or NumPy) as its `(R, C)` matrix."""
        shape = self.matrix_shape(tuple(w.shape))
        if isinstance(w, np.ndarray):
            return np.transpose(w, self.perm).reshape(shape)
        return ops.reshape(ops.transpose(w, self.perm), shape)

    def from_matrix(self, m, shape):
        """Inverse of `to_matrix` for a weight of `shape`."""
        numpy = isinstance(m, np.ndarray)
        permuted = tuple(shape[a] for a in self.perm)
        t = (np.reshape if numpy else ops.reshape)(m, permuted)
        inverse = tuple(int(i) for i in np.argsort(self.perm))
        return np.transpose(t, inverse) if numpy else ops.transpose(t, inverse)


def block_count(rows, scheme):
    """`(blocks, block)`: number of scale rows and the rows each covers (the last block is
    padded with zeros; a block never exceeds the rows, rounded up to even, so that a short
    reduction axis is one block)."""
    block = min(scheme.block_size, rows + rows % 2) if scheme.block_size else rows
    return -(-rows // block), block


def fake_quant_matrix(m, scheme):
    """`m` (R, C) rounded to the scheme's grid, straight-through (keras.ops).

    The scale of each (block, channel) is max |w| / qmax of the current weights (no gradient
    reaches the scale); the gradient passes to `m` unchanged.
    """
    rows, cols = int(m.shape[0]), int(m.shape[1])
    blocks, block = block_count(rows, scheme)
    pad = blocks * block - rows
    padded = ops.pad(m, ((0, pad), (0, 0))) if pad else m
    grid = ops.reshape(ops.stop_gradient(padded), (blocks, block, cols))
    scale = ops.maximum(ops.max(ops.abs(grid), axis=1, keepdims=True) / scheme.qmax, _EPS)
    q = ops.clip(ops.round(grid / scale), -scheme.qmax, scheme.qmax) * scale
    q = ops.reshape(q, (blocks * block, cols))[:rows]
    return m + ops.stop_gradient(ops.cast(q, m.dtype) - m)


def fake_quant_weight(w, layout, scheme):
    """A weight tensor rounded to the scheme's grid in its own layout, straight-through."""
    shape = tuple(w.shape)
    return layout.from_matrix(fake_quant_matrix(layout.to_matrix(w), scheme), shape)


def quantize_matrix(m, scheme):
    """NumPy: `(codes int8 (blocks*block, C) zero-padded, scales float32 (blocks, C))`.

    Exactly the grid `fake_quant_matrix` trains on: `codes * scales` (per block) reproduces it.
    """
    m = np.asarray(m, np.float32)
    rows, cols = m.shape
    blocks, block = block_count(rows, scheme)
    padded = np.zeros((blocks * block, cols), np.float32)
    padded[:rows] = m
    grid = padded.reshape(blocks, block, cols)
    scale = np.maximum(
        np.max(np.abs(grid), axis=1, keepdims=True) / np.float32(scheme.qmax), np.float32(_EPS)
    ).astype(np.float32)
    codes = np.clip(np.round(grid / scale), -scheme.qmax, scheme.qmax).astype(np.int8)
    return codes.reshape(blocks * block, cols), scale.reshape(blocks, cols)


def pack_int4(codes):
    """Packs int4 codes (rows, C) into int8 bytes (ceil(rows / 2), C): row 2i in the low
    nibble, row 2i + 1 in the high nibble.

    Example:
        >>> unpack_int4(pack_int4(np.array([[-7], [3]], np.int8)))
        array([[-7], [ 3]], dtype=int8)
    """
    codes = np.asarray(codes, np.int8)
    if codes.shape[0] % 2:
        codes = np.concatenate([codes, np.zeros((1,) + codes.shape[1:], np.int8)])
    low = codes[0::2].astype(np.uint8) & 0x0F
    high = (codes[1::2].astype(np.uint8) & 0x0F) << 4
    return (low | high).astype(np.uint8).view(np.int8)


def unpack_int4(packed):
    """NumPy inverse of `pack_int4` (returns an even number of rows)."""
    packed = np.asarray(packed, np.int8)
    low = (packed << 4).astype(np.int8) >> 4
    high = packed >> 4
    return np.stack([low, high], axis=1).reshape((-1,) + packed.shape[1:]).astype(np.int8)
