"""Tensor ops in a Functional graph (`x + residual`, `ops.mean`, `x[:, 0]`) as the rewrite sees them.

A block's `call()` opened by `keras_mot.inline` records `keras.ops` operations as graph nodes,
not layers. For each, this module says what TFLite makes of it:

- an elementwise ADD / SUB / MUL of two tensors becomes the equivalent Keras merge layer
  (`keras.layers.Add`, ...), so that its adapter (own output range, ADD's kernel-exact rounding)
  applies exactly as for a merge layer the user wrote;
- a mean over the spatial axes becomes `GlobalAveragePooling1D/2D` (TFLite MEAN);
- a shape op (RESHAPE, TRANSPOSE, EXPAND_DIMS, SQUEEZE, STRIDED_SLICE) keeps its input's scale
  and zero point (quantization_spec.md: "input and outputs must all have same scale/zero_point"),
  so it is re-applied as it is and passes its input's quantization on;
- an op whose tensor inputs are all integers (token ids, padding masks) computes indices or
  masks, not activations: it is re-applied as it is and needs no quantization.

Any other op reading a float tensor is left float and reported by the rewrite.

Example:
    >>> layer = canonical_layer(node.operation, node.arguments.args)   # e.g. keras.layers.Add
"""

import keras
from keras.src.ops import numpy as knp

_MERGE = {knp.Add: keras.layers.Add, knp.Subtract: keras.layers.Subtract, knp.Multiply: keras.layers.Multiply}

# keras.ops operations whose TFLite op keeps its input's quantization (shape ops).
SHAPE_OPS = (knp.Reshape, knp.Transpose, knp.ExpandDims, knp.Squeeze, knp.GetItem)


def _is_float_tensor(t):
    return isinstance(t, keras.KerasTensor) and keras.backend.is_float_dtype(t.dtype)


def float_inputs(args):
    """The float KerasTensors among a node's (flattened) arguments."""
    return [t for t in keras.tree.flatten(args) if _is_float_tensor(t)]


def _mean_pooling(operation, tensor):
    axis = operation.axis
    axes = tuple(
        sorted(a % len(tensor.shape) for a in (axis if isinstance(axis, (list, tuple)) else (axis,)))
    )
    rank = len(tensor.shape)
    spatial = tuple(range(1, rank - 1))
    if rank not in (3, 4) or axes != spatial:
        return None
    pooling = keras.layers.GlobalAveragePooling2D if rank == 4 else keras.layers.GlobalAveragePooling1D
    return pooling(keepdims=bool(operation.keepdims), name=operation.name)


def canonical_layer(operation, args, kwargs=None):
    """The Keras layer that computes a keras.ops node as TFLite will, or `None`.

    Args:
        operation: the node's `keras.Operation` (not a layer).
        args, kwargs: the node's arguments (KerasTensors and constants).

    Returns:
        `(layer, inputs)`: a new layer named like the operation and the tensor(s) to call it
        on; `None` when the op has no layer equivalent.
    """
    if kwargs:
        return None
    merge = _MERGE.get(type(operation))
    if merge is not None and len(args) == 2 and all(_is_float_tensor(a) for a in args):
        a, b = args
        if len(a.shape) != len(b.shape):
            return None
        try:
            layer = merge(name=operation.name)
            layer.build([tuple(a.shape), tuple(b.shape)])
        except ValueError:  # shapes a merge layer does not broadcast
            return None
        return layer, [a, b]
    if isinstance(operation, knp.Mean) and len(args) == 1 and _is_float_tensor(args[0]):
        layer = _mean_pooling(operation, args[0])
        return (layer, args[0]) if layer is not None else None
    return None


def is_shape_op(operation):
    """True for a keras.ops shape op that keeps its input's int8 grid."""
    return isinstance(operation, SHAPE_OPS)
