"""How a layer family's weight is viewed as a 2-D matrix (rows, cols) for block patterns.

Every pattern works on a matrix view of the weight: **rows run along the input-channel axis,
cols along the output-channel axis**, flattened so that consecutive rows are consecutive
entries of the runtime's innermost (contiguous) storage axis. `Block(rows, cols)` tiles that
matrix with rows x cols blocks; `NofM(n, m)` groups m consecutive rows.

| kind             | Keras weight         | matrix view (rows, cols)        | runtime storage it mirrors |
|------------------|----------------------|---------------------------------|----------------------------|
| "dense"          | (in, out)            | (in, out)                       | FULLY_CONNECTED (out, in)  |
| "conv"           | (kh, kw, in, out)    | (kh*kw*in, out), per-tap in     | CONV_2D OHWI               |
| "depthwise"      | (kh, kw, in, mult)   | (kh*kw, in*mult), rows = taps   | DEPTHWISE_CONV_2D (1,H,W,C*M) |
| "conv_transpose" | (kh, kw, out, in)    | (kh*kw*in, out), per-tap in     | TRANSPOSE_CONV OHWI        |
| "einsum"         | (d0, d1, ...)        | (d0, d1*...)                    | first axis = contracted input |
| "einsum_in2"     | (d0, d1, d2, ...)    | (d0*d1, d2*...)                 | FC input = d0, d1 row-major |

EinsumDense picks its kind from its equation (`keras_mot.layers.einsum.einsum_sparsity_kind`):
the converter lowers a contraction of the kernel's leading axes to FULLY_CONNECTED with those
axes flattened into the input axis (attention q/k/v: "einsum"; the output projection, which
contracts heads and head_dim: "einsum_in2").

The same rules hold for 1-D and 3-D convolutions (rank 3 / 5 kernels): all leading axes are
flattened into rows. For "conv" the flattening order (kh, kw, in) is exactly TFLite's OHWI row
order, so a Keras `Block(4, 1)` on a conv kernel whose `in` is a multiple of 4 is a TFLite
"1x4" block (4 consecutive input channels of one output channel and one tap).
A TFLite "1xK" FULLY_CONNECTED block is `Block(K, 1)` on the Keras Dense kernel (Keras stores
(in, out), TFLite stores (out, in): tensorflow/compiler/mlir/lite/ir/tfl_ops.td, FC weights).

Sources: keras/src/layers/convolutional/base_conv.py (kernel shapes),
keras/src/layers/convolutional/base_conv_transpose.py ((kh, kw, out, in)),
tensorflow/lite/core/c/builtin_op_data.h and tflite/kernels/conv.cc (OHWI filters).

Example:
    >>> layout = get_layout("conv")
    >>> layout.matrix_shape((3, 3, 8, 16))
    (72, 16)
"""

import dataclasses
import math
from typing import Callable, Dict, Tuple

from keras import ops

from keras_mot.errors import KerasMotError, format_error


@dataclasses.dataclass(frozen=True)
class Layout:
    """The matrix view of one layer family's weight.

    Attributes:
        kind: the layer family name.
        perm: `perm(rank)` -> axis permutation applied before flattening (None = identity).
        n_col_axes: `n_col_axes(rank)` -> how many trailing axes (after `perm`) form the cols.
        in_axis: `in_axis(rank)` -> the Keras axis holding input channels (blocks along rows
            must not straddle it), or None when rows are not channels.
        out_axis: `out_axis(rank)` -> the Keras axis holding output channels.
        min_rank: smallest weight rank this layout accepts.
        doc: one line, used in findings.
    """

    kind: str
    perm: Callable[[int], Tuple[int, ...]]
    n_col_axes: Callable[[int], int]
    in_axis: Callable[[int], object]
    out_axis: Callable[[int], int]
    min_rank: int
    doc: str

    def permuted_shape(self, shape):
        """Shape after the permutation."""
        return tuple(shape[a] for a in self.perm(len(shape)))

    def matrix_shape(self, shape):
        """(rows, cols) of the matrix view of a weight of `shape`."""
        p = self.permuted_shape(tuple(int(s) for s in shape))
        n = self.n_col_axes(len(p))
        return math.prod(p[:len(p) - n]), math.prod(p[len(p) - n:])

    def to_matrix(self, w):
        """Permutes and reshapes tensor `w` into its (rows, cols) matrix (keras.ops)."""
        shape = tuple(int(s) for s in w.shape)
        return ops.reshape(ops.transpose(w, self.perm(len(shape))), self.matrix_shape(shape))

    def from_matrix(self, m, shape):
        """Inverse of `to_matrix` for a weight of the original `shape`."""
        perm = self.perm(len(shape))
        m = ops.reshape(m, self.permuted_shape(shape))
        inverse = [perm.index(a) for a in range(len(perm))]
        return ops.transpose(m, inverse)


def _identity(rank):
    return tuple(range(rank))


def _swap_last_two(rank):
    return tuple(range(rank - 2)) + (rank - 1, rank - 2)


_LAYOUTS: Dict[str, Layout] = {}


def register_layout(layout):
    """Adds a `Layout` for a new layer family (adapters of new layer types call this)."""
    _LAYOUTS[layout.kind] = layout
    return layout


def get_layout(kind):
    """Returns the `Layout` of layer family `kind` (e.g. "dense", "conv")."""
    try:
        return _LAYOUTS[kind]
    except (KeyError, TypeError):
        raise KerasMotError(format_error(
            "Unknown layer kind for a sparsity pattern.", received=repr(kind),
            fix=f"Use one of: {', '.join(sorted(_LAYOUTS))}, or register one with "
                "keras_mot.sparsity.register_layout().")) from None


def kinds():
    """Names of all registered layer kinds."""
    return sorted(_LAYOUTS)


register_layout(Layout("dense", _identity, lambda r: 1, lambda r: 0, lambda r: 1, 2,
                       "Dense kernel (in, out): rows = input units, cols = output units"))
register_layout(Layout("conv", _identity, lambda r: 1, lambda r: r - 2, lambda r: r - 1, 3,
                       "Conv kernel (kh, kw, in, out) viewed as (kh*kw*in, out), rows = "
                       "input channels per tap (TFLite OHWI order)"))
register_layout(Layout("depthwise", _identity, lambda r: 2, lambda r: None, lambda r: r - 2, 3,
                       "DepthwiseConv kernel (kh, kw, in, mult) viewed as (kh*kw, in*mult), "
                       "rows = spatial taps, cols = channels"))
register_layout(Layout("conv_transpose", _swap_last_two, lambda r: 1, lambda r: r - 1,
                       lambda r: r - 2, 3,
                       "ConvTranspose kernel (kh, kw, out, in) viewed as (kh*kw*in, out), "
                       "rows = input channels per tap (TFLite TRANSPOSE_CONV OHWI order)"))
register_layout(Layout("einsum", _identity, lambda r: r - 1, lambda r: 0, lambda r: r - 1, 2,
                       "EinsumDense kernel (d0, d1, ...) viewed as (d0, d1*...), rows = "
                       "first axis"))
register_layout(Layout("einsum_in2", _identity, lambda r: r - 2, lambda r: 1, lambda r: r - 1, 3,
                       "EinsumDense kernel (d0, d1, d2, ...) contracting d0, d1 viewed as "
                       "(d0*d1, d2*...): rows = the FULLY_CONNECTED input axis (row-major)"))
