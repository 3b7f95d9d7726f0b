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

Each layout is data built with keywords (`Layout(kind=..., in_axis=..., ...)`): axes count from
the front when >= 0 and from the back when < 0, so one entry holds for every kernel rank.

Example:
    >>> layout = get_layout(LayerKind.CONV)
    >>> layout.matrix_shape((3, 3, 8, 16))
    (72, 16)
"""

import dataclasses
import math
from typing import Dict, Optional

from keras import ops

from keras_mot.errors import KerasMotError, format_error
from keras_mot.layer_kinds import LayerKind


@dataclasses.dataclass(frozen=True)
class Layout:
    """The matrix view of one layer family's weight, as data.

    Attributes:
        kind: the layer family (`LayerKind`, or a string for a family registered by an extension).
        doc: one line, used in findings.
        min_rank: smallest weight rank this layout accepts.
        out_axis: the Keras axis holding output channels (negative = from the back).
        in_axis: the Keras axis holding input channels (blocks along rows must not straddle
            it), or None when rows are not channels.
        col_axes: how many trailing axes (after the permutation) form the cols; exactly one of
            `col_axes` and `row_axes` is set.
        row_axes: how many leading axes form the rows (the cols are the rest).
        swap_last_two: transpose the last two axes before flattening (Conv2DTranspose's
            (kh, kw, out, in) kernel).

    Example:
        >>> Layout(kind="my_fc", doc="(in, out)", min_rank=2, in_axis=0, out_axis=-1,
        ...        col_axes=1).matrix_shape((8, 4))
        (8, 4)
    """

    kind: str
    doc: str
    min_rank: int
    out_axis: int
    in_axis: Optional[int] = None
    col_axes: Optional[int] = None
    row_axes: Optional[int] = None
    swap_last_two: bool = False

    def __post_init__(self):
        if (self.col_axes is None) == (self.row_axes is None):
            raise KerasMotError(
                format_error(
                    f"Layout '{self.kind}' needs exactly one of col_axes and row_axes.",
                    received=f"col_axes={self.col_axes!r}, row_axes={self.row_axes!r}",
                    fix="Say how many trailing axes are cols (col_axes=1 for a Dense kernel) or how "
                    "many leading axes are rows (row_axes=1).",
                )
            )

    def perm(self, rank):
        """Axis permutation applied before flattening."""
        axes = tuple(range(rank))
        return axes[:-2] + (rank - 1, rank - 2) if self.swap_last_two else axes

    def n_col_axes(self, rank):
        """How many trailing axes (after `perm`) form the cols of a rank-`rank` weight."""
        return self.col_axes if self.col_axes is not None else rank - self.row_axes

    def in_axis_of(self, rank):
        """The input-channel axis of a rank-`rank` weight (>= 0), or None."""
        return None if self.in_axis is None else self.in_axis % rank

    def out_axis_of(self, rank):
        """The output-channel axis of a rank-`rank` weight (>= 0)."""
        return self.out_axis % rank

    def permuted_shape(self, shape):
        """Shape after the permutation."""
        return tuple(shape[a] for a in self.perm(len(shape)))

    def matrix_shape(self, shape):
        """(rows, cols) of the matrix view of a weight of `shape`."""
        p = self.permuted_shape(tuple(int(s) for s in shape))
        n = self.n_col_axes(len(p))
        return math.prod(p[: len(p) - n]), math.prod(p[len(p) - n :])

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


_LAYOUTS: Dict[str, Layout] = {}


def register_layout(layout):
    """Adds a `Layout` for a new layer family (adapters of new layer types call this).

    Example:
        >>> register_layout(Layout(kind="my_fc", doc="(in, out)", min_rank=2, in_axis=0,
        ...                        out_axis=-1, col_axes=1))
    """
    _LAYOUTS[layout.kind] = layout
    return layout


def get_layout(kind):
    """Returns the `Layout` of layer family `kind` (e.g. `LayerKind.DENSE` or "dense")."""
    try:
        return _LAYOUTS[kind]
    except (KeyError, TypeError):
        raise KerasMotError(
            format_error(
                "Unknown layer kind for a sparsity pattern.",
                received=repr(kind),
                fix=f"Use one of: {', '.join(sorted(map(str, _LAYOUTS)))}, or register one with "
                "keras_mot.sparsity.register_layout().",
            )
        ) from None


def kinds():
    """Names of all registered layer kinds."""
    return sorted(map(str, _LAYOUTS))


register_layout(
    Layout(
        kind=LayerKind.DENSE,
        min_rank=2,
        in_axis=0,
        out_axis=-1,
        col_axes=1,
        doc="Dense kernel (in, out): rows = input units, cols = output units",
    )
)
register_layout(
    Layout(
        kind=LayerKind.CONV,
        min_rank=3,
        in_axis=-2,
        out_axis=-1,
        col_axes=1,
        doc="Conv kernel (kh, kw, in, out) viewed as (kh*kw*in, out), rows = input channels per "
        "tap (TFLite OHWI order)",
    )
)
register_layout(
    Layout(
        kind=LayerKind.DEPTHWISE,
        min_rank=3,
        in_axis=None,
        out_axis=-2,
        col_axes=2,
        doc="DepthwiseConv kernel (kh, kw, in, mult) viewed as (kh*kw, in*mult), rows = spatial "
        "taps, cols = channels",
    )
)
register_layout(
    Layout(
        kind=LayerKind.CONV_TRANSPOSE,
        min_rank=3,
        in_axis=-1,
        out_axis=-2,
        col_axes=1,
        swap_last_two=True,
        doc="ConvTranspose kernel (kh, kw, out, in) viewed as (kh*kw*in, out), rows = input "
        "channels per tap (TFLite TRANSPOSE_CONV OHWI order)",
    )
)
register_layout(
    Layout(
        kind=LayerKind.EINSUM,
        min_rank=2,
        in_axis=0,
        out_axis=-1,
        row_axes=1,
        doc="EinsumDense kernel (d0, d1, ...) viewed as (d0, d1*...), rows = first axis",
    )
)
register_layout(
    Layout(
        kind=LayerKind.EINSUM_IN2,
        min_rank=3,
        in_axis=1,
        out_axis=-1,
        row_axes=2,
        doc="EinsumDense kernel (d0, d1, d2, ...) contracting d0, d1 viewed as (d0*d1, d2*...): "
        "rows = the FULLY_CONNECTED input axis (row-major)",
    )
)
