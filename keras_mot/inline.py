"""Seeing inside subclassed layers: each block's `call()` traced into a nested Functional model.

KerasHub (and most Keras 3 code) builds models from subclassed blocks: a `TransformerEncoder`,
an `InvertedResidualBlock`, a `ViTEncoder` is one node of the Functional graph, and its Dense,
Conv, LayerNormalization sublayers and its tensor ops (`x + residual`, `ops.matmul`, softmax)
are invisible to a rewrite that walks nodes. `inline(model)` makes them visible:

- a subclassed layer whose `call()` runs on symbolic `KerasTensor`s (sublayer calls and
  `keras.ops` then record nodes, as in any Functional model) becomes a nested Functional model
  with the same name, built from the same sublayer objects (weights are shared, not copied), and
  called with the block's tensor arguments (keyword tensors such as `padding_mask` become extra
  inputs). The result is checked on random data against the block itself; a block whose traced
  graph does not reproduce it stays as it was.
- inlining repeats inside the new nested models, so blocks within blocks open up too.
- a layer that owns variables it reads directly in `call()` (KerasHub's `PositionEmbedding`, a
  class token) cannot be traced that way: a registered decomposition
  (`keras_mot.layers.decompositions`, e.g. ViT's patching-and-embedding block) writes it with
  quantizable layers; without one it stays one node (the original object), and the rewrite
  quantizes it if an adapter knows it, or reports it as left float.
- a block called at several places (ALBERT's shared encoder) becomes one nested model called at
  each place, so its weights stay shared.

The nested models mirror the user's tree, so layer paths read `backbone/transformer_layer_0/
feedforward_output_dense`. Layers of Keras itself (`keras.layers.*`) are never inlined: those
without an adapter are handled (or reported) by the rewrite as single nodes.

Example:
    >>> flat, report = inline(model)
    >>> report.inlined        # ['bert_backbone/transformer_layer_0', ...]
"""

import dataclasses

import keras
import numpy as np

from keras_mot import graph
from keras_mot.layers.base import adapter_for
from keras_mot.layers.decompositions import decomposition_for
from keras_mot.layers.pooling import is_passthrough

MAX_DEPTH = 8  # nesting levels opened; deeper blocks stay single nodes
_CHECK_TOLERANCE = 1e-4


@dataclasses.dataclass
class InlineReport:
    """What `inline` did.

    Attributes:
        inlined: paths of the blocks opened into nested Functional models.
        kept: `{path: reason}` for subclassed layers that stay single nodes.
    """

    inlined: list = dataclasses.field(default_factory=list)
    kept: dict = dataclasses.field(default_factory=dict)


def _is_keras_layer(layer):
    module = type(layer).__module__
    return module.startswith("keras.src.") or module.startswith("keras.layers")


def _own_variables(layer):
    """Variables `layer` holds itself (not through a sublayer)."""
    inner = {id(v) for sub in layer._flatten_layers(include_self=False) for v in sub.variables}
    return [v for v in layer.variables if id(v) not in inner]


def candidate(op):
    """True for a subclassed layer that `inline` tries to open."""
    if not isinstance(op, keras.layers.Layer) or graph.is_graph_model(op):
        return False
    if isinstance(op, keras.Model) or _is_keras_layer(op):
        return False
    if adapter_for(op) is not None or is_passthrough(op):
        return False
    return not type(op).__module__.startswith("keras_mot.")


def _tensors(structure):
    """Distinct KerasTensors in `structure`, in order."""
    seen, result = set(), []
    for t in keras.tree.flatten(structure):
        if isinstance(t, keras.KerasTensor) and id(t) not in seen:
            seen.add(id(t))
            result.append(t)
    return result


def _sample(t, rng):
    shape = tuple(2 if d is None else d for d in t.shape)
    if keras.backend.is_float_dtype(t.dtype):
        return rng.normal(size=shape).astype(t.dtype)
    if t.dtype == "bool":
        return np.ones(shape, bool)
    return np.ones(shape, t.dtype)  # ids / masks: 1 is valid for any table and any mask


def _same_function(layer, sub, args, kwargs, tensors):
    """Whether the traced `sub` computes what `layer` computes, on random inputs."""
    rng = np.random.default_rng(0)
    values = [_sample(t, rng) for t in tensors]
    lookup = {id(t): v for t, v in zip(tensors, values)}
    fill = lambda s: keras.tree.map_structure(  # noqa: E731
        lambda a: lookup.get(id(a), a) if isinstance(a, keras.KerasTensor) else a, s
    )
    expected = layer(*fill(args), **fill(kwargs))
    got = sub(values if len(values) > 1 else values[0], training=False)
    expected = [np.asarray(keras.ops.convert_to_numpy(e)) for e in keras.tree.flatten(expected)]
    got = [np.asarray(keras.ops.convert_to_numpy(g)) for g in keras.tree.flatten(got)]
    if len(expected) != len(got):
        return False
    for e, g in zip(expected, got):
        if e.shape != g.shape:
            return False
        if e.dtype.kind == "f" and not np.allclose(e, g, atol=_CHECK_TOLERANCE, rtol=1e-3):
            return False
        if e.dtype.kind != "f" and not np.array_equal(e, g):
            return False
    return True


def _call(layer, *args, **kwargs):
    return layer.call(*args, **kwargs)


def trace_block(layer, args, kwargs):
    """`(nested model, its input tensors)` for one call of `layer`, or `(None, reason)`."""
    decomposed = decomposition_for(layer)
    if decomposed is None and _own_variables(layer):
        names = ", ".join(v.path.split("/")[-1] for v in _own_variables(layer))
        return None, f"reads its own variables ({names}) in call()"
    kwargs = {k: v for k, v in kwargs.items() if k != "training"}
    tensors = _tensors((args, kwargs))
    inputs = [
        keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype, name=f"{layer.name}_input_{i}")
        for i, t in enumerate(tensors)
    ]
    lookup = {id(t): i for t, i in zip(tensors, inputs)}
    swap = lambda s: keras.tree.map_structure(  # noqa: E731
        lambda a: lookup.get(id(a), a) if isinstance(a, keras.KerasTensor) else a, s
    )
    try:
        outputs = (decomposed or _call)(layer, *swap(args), **swap(kwargs))
        sub = keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=layer.name)
    except Exception as e:  # call() does something a symbolic trace cannot follow
        return None, f"call() does not trace symbolically ({type(e).__name__}: {str(e)[:120]})"
    try:
        same = _same_function(layer, sub, args, kwargs, tensors)
    except Exception as e:
        return None, f"the traced graph does not run ({type(e).__name__}: {str(e)[:120]})"
    if not same:
        return None, "the traced graph computes something else than call() (checked on data)"
    return sub, tensors


class _Inliner:
    def __init__(self):
        self.report = InlineReport()
        self.done = {}  # id(original layer or model) -> replacement (shared call sites)

    def model(self, model, path, depth):
        fm = graph.functional_view(model)
        new_inputs = graph.new_inputs_like(fm)
        tensor_map = {id(o): n for o, n in zip(fm.inputs, new_inputs)}
        changed = False
        for node in graph.ordered_nodes(fm):
            op = node.operation
            args, kwargs = node.arguments.fill_in(tensor_map)
            out, opened = self._node(op, args, kwargs, path, depth)
            changed = changed or opened
            for orig, new in zip(node.outputs, keras.tree.flatten(out)):
                tensor_map[id(orig)] = new
        if not changed:
            return model, False
        outputs = keras.tree.pack_sequence_as(fm._outputs_struct, [tensor_map[id(t)] for t in fm.outputs])
        inputs = keras.tree.pack_sequence_as(fm._inputs_struct, new_inputs)
        return keras.Model(inputs, outputs, name=model.name), True

    def _node(self, op, args, kwargs, path, depth):
        layer_path = f"{path}{getattr(op, 'name', '')}"
        if graph.is_graph_model(op):
            if id(op) not in self.done:
                self.done[id(op)] = self.model(op, f"{layer_path}/", depth)
            new, changed = self.done[id(op)]
            return new(*args, **kwargs), changed
        if not candidate(op) or depth >= MAX_DEPTH:
            return op(*args, **kwargs), False
        if id(op) in self.done:
            sub = self.done[id(op)]
            tensors = _tensors((args, {k: v for k, v in kwargs.items() if k != "training"}))
            if sub is not None and len(tensors) == len(keras.tree.flatten(sub.inputs)):
                return sub(tensors if len(tensors) > 1 else tensors[0]), True
            return op(*args, **kwargs), False
        sub, detail = trace_block(op, args, kwargs)
        if sub is None:
            self.done[id(op)] = None
            self.report.kept[layer_path] = detail
            return op(*args, **kwargs), False
        sub, _ = self.model(sub, f"{layer_path}/", depth + 1)
        self.done[id(op)] = sub
        self.report.inlined.append(layer_path)
        return sub(detail if len(detail) > 1 else detail[0]), True


def inline(model):
    """Opens every traceable subclassed block of `model` into nested Functional models.

    Returns:
        `(model, InlineReport)`: `model` itself when nothing was opened, else a new Functional
        model sharing the original layers and weights.

    Example:
        >>> flat, report = inline(keras_hub_backbone)
        >>> len(report.inlined), report.kept
    """
    inliner = _Inliner()
    new, _ = inliner.model(model, "", 0)
    return new, inliner.report
