"""`LayerKind`: the names of layer families that adapters, sparsity layouts, targets and schemes share.

A kind says how a layer computes (its adapter's `kind`) or how one of its weights is laid out
(`WeightRef.kind`, the sparsity layout in `keras_mot.sparsity.layout`). Quantization schemes
(`QuantScheme.per_tensor_kinds`) and sparsity targets (`Target.sparsity`) are keyed by it.

`LayerKind` is a `str` enum: each member equals, hashes and serializes as its old string
(`LayerKind.DENSE == "dense"`), so saved configs stay readable and backward compatible, and an
adapter of a new layer family may still use its own string (registering a layout for it with
`keras_mot.sparsity.register_layout`).

Example:
    >>> LayerKind.DENSE == "dense", LayerKind("conv") is LayerKind.CONV, f"{LayerKind.DEPTHWISE}"
    (True, True, 'depthwise')
"""

import enum


class LayerKind(str, enum.Enum):
    """A layer family (the value is the string used in configs and tables).

    Weight layouts (sparsity patterns, per-tensor/per-channel schemes): `DENSE`, `CONV`,
    `DEPTHWISE`, `CONV_TRANSPOSE`, `EINSUM` (EinsumDense contracting its kernel's first axis),
    `EINSUM_IN2` (contracting its first two axes), `EMBEDDING`.
    Adapter families without a layout of their own: `SEPARABLE`, `ATTENTION`, `ACTIVATION`,
    `MERGE`, `ELEMENTWISE`, `AFFINE`, `NORMALIZATION`, `POOL`, `SAME_SCALE`, `IDENTITY`, `GENERIC`.

    Example:
        >>> {LayerKind.DENSE: "fc"}["dense"]
        'fc'
    """

    DENSE = "dense"
    CONV = "conv"
    DEPTHWISE = "depthwise"
    CONV_TRANSPOSE = "conv_transpose"
    EINSUM = "einsum"
    EINSUM_IN2 = "einsum_in2"
    EMBEDDING = "embedding"
    SEPARABLE = "separable"
    ATTENTION = "attention"
    ACTIVATION = "activation"
    MERGE = "merge"
    ELEMENTWISE = "elementwise"
    AFFINE = "affine"
    NORMALIZATION = "normalization"
    POOL = "pool"
    SAME_SCALE = "same_scale"
    IDENTITY = "identity"
    GENERIC = "generic"

    def __str__(self):
        return self.value

    __format__ = str.__format__


# Kinds whose kernel TFLite runs as FULLY_CONNECTED (EinsumDense is lowered to it).
FULLY_CONNECTED_KINDS = (LayerKind.DENSE, LayerKind.EINSUM, LayerKind.EINSUM_IN2)
