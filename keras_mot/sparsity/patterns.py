"""Sparsity patterns: which entries of a weight a magnitude mask may zero.

A pattern turns a weight and a target sparsity into a 0/1 mask of the weight's shape with
`keras.ops` only (graph-safe, `sparsity` may be a scalar tensor). The weight is viewed as a
matrix whose rows run along input channels and cols along output channels; see
`keras_mot.sparsity.layout` for the exact view of each layer kind ("dense", "conv",
"depthwise", "conv_transpose", "einsum").

Pass the *masked* weight (`w * mask`) so that entries pruned earlier stay pruned.

Example:
    >>> import numpy as np
    >>> w = np.random.randn(8, 4).astype("float32")
    >>> mask = Block(4, 1).compute_mask(w, 0.5, "dense")   # TFLite FC "1x4" blocks
    >>> float(np.mean(np.asarray(mask) == 0))
    0.5
"""

from keras import ops

from keras_mot import codec
from keras_mot.errors import KerasMotError, format_error
from keras_mot.findings import Finding
from keras_mot.sparsity.config_value import ConfigValue
from keras_mot.sparsity.layout import get_layout

_POOLINGS = ("avg", "max")


def _positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KerasMotError(
            format_error(
                f"{owner}: `{name}` must be a positive integer.",
                received=repr(value),
                fix=f"Pass e.g. {name}=4.",
            )
        )
    return value


def _keep_largest(scores, sparsity):
    """0/1 float vector keeping the `round(n*(1-sparsity))` (>= 1) largest 1-D `scores`."""
    n = int(scores.shape[0])
    density = 1.0 - ops.cast(sparsity, "float32")
    keep = ops.maximum(ops.cast(ops.round(n * density), "int32"), 1)
    order = ops.argsort(-scores)  # descending
    ranks = ops.argsort(order)  # rank of every entry, exact count kept
    return ops.cast(ops.less(ranks, keep), "float32")


class SparsityPattern(ConfigValue):
    """Base class of sparsity patterns (serializable, comparable by config).

    Subclasses implement `_matrix_mask(matrix, sparsity)` on the (rows, cols) view and
    `_check(shape, layout, layer)`.
    """

    def compute_mask(self, weight, sparsity, kind):
        """Returns a float mask of `weight`'s shape and dtype.

        Args:
            weight: the (already masked) weight tensor.
            sparsity: target fraction of zeros in [0, 1), python float or scalar tensor.
            kind: layer family, a `LayerKind` or its string, e.g. `LayerKind.DENSE` or "dense"
                (see `keras_mot.sparsity.layout`).
        """
        layout = get_layout(kind)
        weight = ops.convert_to_tensor(weight)
        shape = tuple(int(s) for s in weight.shape)
        self._require_rank(shape, layout)
        matrix = ops.abs(ops.cast(layout.to_matrix(weight), "float32"))
        mask = self._matrix_mask(matrix, sparsity)
        return ops.cast(layout.from_matrix(mask, shape), weight.dtype)

    def check(self, weight_shape, kind, layer=""):
        """Returns a `Finding` when `weight_shape` does not fit the pattern exactly, else None."""
        layout = get_layout(kind)
        shape = tuple(int(s) for s in weight_shape)
        if len(shape) < layout.min_rank:
            return Finding(
                layer,
                None,
                "error",
                f"{self!r} needs a weight of rank >= {layout.min_rank} for kind '{kind}'; got shape {shape}.",
                fix="Prune only kernels (not biases), or use the right kind.",
                code="pattern-rank",
            )
        return self._check(shape, layout, layer)

    def _require_rank(self, shape, layout):
        if len(shape) < layout.min_rank:
            raise KerasMotError(
                format_error(
                    f"{self!r} cannot mask a weight of rank {len(shape)} as kind '{layout.kind}' "
                    f"(needs rank >= {layout.min_rank}).",
                    received=f"shape {shape}",
                    fix="Prune only kernels, or pass the right kind.",
                )
            )

    def _check(self, shape, layout, layer):
        return None

    def get_config(self):
        """Constructor arguments as a dict."""
        return {}


@codec.register()
class Unstructured(SparsityPattern):
    """Zero the individually smallest-magnitude entries (no structure).

    Example:
        >>> mask = Unstructured().compute_mask(w, 0.8, "conv")
    """

    def _matrix_mask(self, matrix, sparsity):
        flat = ops.reshape(matrix, (-1,))
        return ops.reshape(_keep_largest(flat, sparsity), matrix.shape)


@codec.register()
class Block(SparsityPattern):
    """Zero whole `rows x cols` blocks of the (input, output) matrix view, scored by pooled |w|.

    `rows` runs along input channels, `cols` along output channels. TFLite's FULLY_CONNECTED
    "1x4" block (4 consecutive input channels of one output) is `Block(4, 1)` on a Keras Dense
    kernel; "1x16" is `Block(16, 1)`. `sparsity` is the fraction of blocks zeroed. A matrix
    that is not a multiple of the block is handled with partial edge blocks (scored by the
    mean/max of their real entries), and `check` reports it.

    Args:
        rows: block size along the input-channel (row) axis.
        cols: block size along the output-channel (col) axis.
        pooling: "avg" (mean |w|) or "max" (max |w|) block score.

    Example:
        >>> Block(4, 1).check((30, 8), "dense").code
        'block-not-divisible'
    """

    def __init__(self, rows, cols, pooling="avg"):
        self.rows = _positive_int(rows, "rows", "Block")
        self.cols = _positive_int(cols, "cols", "Block")
        if pooling not in _POOLINGS:
            raise KerasMotError(
                format_error(
                    "Block: unknown `pooling`.", received=repr(pooling), fix=f"Use one of {_POOLINGS}."
                )
            )
        self.pooling = pooling

    def get_config(self):
        return {"rows": self.rows, "cols": self.cols, "pooling": self.pooling}

    def _matrix_mask(self, matrix, sparsity):
        n_rows, n_cols = (int(s) for s in matrix.shape)
        rb, cb = -(-n_rows // self.rows), -(-n_cols // self.cols)
        pad = [[0, rb * self.rows - n_rows], [0, cb * self.cols - n_cols]]
        tiles = ops.reshape(ops.pad(matrix, pad), (rb, self.rows, cb, self.cols))
        if self.pooling == "max":
            scores = ops.max(tiles, axis=(1, 3))
        else:
            valid = ops.reshape(ops.pad(ops.ones_like(matrix), pad), tiles.shape)
            scores = ops.sum(tiles, axis=(1, 3)) / ops.sum(valid, axis=(1, 3))
        keep = ops.reshape(_keep_largest(ops.reshape(scores, (-1,)), sparsity), (rb, cb))
        full = ops.repeat(ops.repeat(keep, self.rows, axis=0), self.cols, axis=1)
        return full[:n_rows, :n_cols]

    def _check(self, shape, layout, layer):
        n_rows, n_cols = layout.matrix_shape(shape)
        in_axis = layout.in_axis_of(len(shape))
        row_extent = shape[in_axis] if in_axis is not None else n_rows
        problems = []
        if row_extent % self.rows:
            what = "input channels" if in_axis is not None else "matrix rows"
            problems.append(f"{row_extent} {what} are not a multiple of rows={self.rows}")
        if n_cols % self.cols:
            problems.append(f"{n_cols} output columns are not a multiple of cols={self.cols}")
        if not problems:
            return None
        return Finding(
            layer,
            None,
            "warning",
            f"{self!r} does not tile the {layout.kind} weight of shape {shape} "
            f"({layout.doc}): {'; '.join(problems)}. Edge blocks are partial, so "
            "a runtime expecting exact blocks will not see them.",
            fix="Change the layer width to a multiple of the block, or use a "
            "smaller block / Unstructured() for this layer.",
            code="block-not-divisible",
        )


@codec.register()
class NofM(SparsityPattern):
    """Keep the `n` largest-magnitude entries of every `m` consecutive input channels.

    `NofM(2, 4)` is the 2:4 pattern of sparse tensor cores: at most 2 non-zeros in each group
    of 4 consecutive entries along the input-channel (row) axis, i.e. exactly 50 % zeros. The
    fraction of zeros is fixed at `1 - n/m`; the schedule only decides *when* the pattern is
    applied: `compute_mask` returns all ones while the scheduled `sparsity` is 0 and the n:m
    mask as soon as it is > 0.

    Example:
        >>> NofM(2, 4).sparsity
        0.5
    """

    def __init__(self, n, m):
        self.n = _positive_int(n, "n", "NofM")
        self.m = _positive_int(m, "m", "NofM")
        if self.n >= self.m:
            raise KerasMotError(
                format_error(
                    "NofM: `n` (non-zeros kept per group) must be smaller than `m` (group size).",
                    received=f"n={n}, m={m}",
                    fix="Use e.g. NofM(2, 4).",
                )
            )

    @property
    def sparsity(self):
        """The fixed fraction of zeros, `1 - n/m`."""
        return 1.0 - self.n / self.m

    def get_config(self):
        return {"n": self.n, "m": self.m}

    def _matrix_mask(self, matrix, sparsity):
        n_rows, n_cols = (int(s) for s in matrix.shape)
        groups = -(-n_rows // self.m)
        scores = ops.pad(matrix, [[0, groups * self.m - n_rows], [0, 0]], constant_values=-1.0)
        scores = ops.reshape(scores, (groups, self.m, n_cols))
        ranks = ops.argsort(ops.argsort(-scores, axis=1), axis=1)
        mask = ops.reshape(ops.cast(ops.less(ranks, self.n), "float32"), (-1, n_cols))
        mask = mask[:n_rows]
        active = ops.greater(ops.cast(sparsity, "float32"), 0.0)
        return ops.where(active, mask, ops.ones_like(mask))

    def _check(self, shape, layout, layer):
        in_axis = layout.in_axis_of(len(shape))
        extent = shape[in_axis] if in_axis is not None else layout.matrix_shape(shape)[0]
        if extent % self.m == 0:
            return None
        return Finding(
            layer,
            None,
            "warning",
            f"{self!r}: {extent} input channels of the {layout.kind} weight of "
            f"shape {shape} are not a multiple of m={self.m}; the last group is "
            "partial and the weight is not a valid n:m sparse tensor.",
            fix=f"Make the input channels a multiple of {self.m}, or exclude this layer from pruning.",
            code="nofm-not-divisible",
        )
