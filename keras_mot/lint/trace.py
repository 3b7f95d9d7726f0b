"""Trace a Keras model once and attribute every TF op to the innermost Keras layer path.

The trace wraps `keras.layers.Layer.__call__` only while `tf.function` traces the model (a
context manager restores it; calls from other threads pass straight through). Each layer call
records how many ops its graph held on entry; on exit the new ops belong to the innermost layer
that is still unclaimed. Ops created inside nested function graphs (`While`/`If` bodies) that no
layer claimed fall back to the layer of the op that calls the function.
See docs/converter_facts.md §4 for why name scopes are not used.
"""

import contextlib
import dataclasses
import threading
from typing import Optional, Tuple

import keras
import tensorflow as tf

from keras_mot import graph
from keras_mot.quantization.ranges import EMULATION_SCOPE

_LOCK = threading.Lock()

# Function-valued attributes of control-flow / call ops (tensorflow/core/ops/functional_ops.cc).
_FUNC_ATTRS = ("body", "cond", "then_branch", "else_branch", "f", "branches")


@dataclasses.dataclass(frozen=True)
class TracedOp:
    """One TF op of the traced model.

    Attributes:
        type: TF op type, e.g. `"Conv2D"`.
        name: the op's graph name.
        layer: Keras layer path relative to the model (`""`: the model itself).
        in_dtypes: dtype names of the op's inputs (`"float32"`, ...).
        out_dtypes: dtype names of the op's outputs.
        in_shapes: input shapes as tuples (`None` for unknown dims, `None` for unknown rank).
        const_inputs: per input, whether its value is fixed at conversion (weights, constants
            and ops computed only from them).
        nested: True when the op lives in a function body (loop or branch).
        graph_op: the `tf.Operation` (for pattern checks); `None` for function-library ops.
    """

    type: str
    name: str
    layer: str
    in_dtypes: Tuple[str, ...]
    out_dtypes: Tuple[str, ...]
    in_shapes: Tuple[Optional[tuple], ...] = ()
    const_inputs: Tuple[bool, ...] = ()
    nested: bool = False
    graph_op: object = dataclasses.field(default=None, compare=False, repr=False)


@dataclasses.dataclass
class Trace:
    """The traced ops of one model, in creation order, plus the input signature used."""

    ops: Tuple[TracedOp, ...]
    input_specs: Tuple[tf.TensorSpec, ...]
    model_name: str
    layer_classes: dict = dataclasses.field(default_factory=dict)


@contextlib.contextmanager
def attribute_layers(owner, classes=None):
    """Temporarily wraps `Layer.__call__` so new graph ops are recorded in `owner`.

    `owner` maps `(graph_name, op_name) -> layer path` (paths join `layer.name`s with `/`);
    `classes`, when given, maps each layer path to the layer's class name.
    The original `__call__` is restored on exit, also when tracing raises.

    Example:
        >>> owner = {}
        >>> with attribute_layers(owner):
        ...     concrete = tf.function(model).get_concrete_function(spec)
    """
    original = keras.layers.Layer.__call__
    tracing_thread = threading.get_ident()
    stack = []
    failing = []

    def __call__(self, *args, **kwargs):
        if threading.get_ident() != tracing_thread:
            return original(self, *args, **kwargs)
        graph = tf.compat.v1.get_default_graph()
        start = len(graph.get_operations())
        stack.append(self.name)
        path = "/".join(stack)
        if classes is not None:
            classes.setdefault(path, type(self).__name__)
        try:
            return original(self, *args, **kwargs)
        except Exception:
            if not failing:  # the innermost layer whose call raised
                failing.append((path, type(self).__name__))
            raise
        finally:
            stack.pop()
            # Only a FuncGraph records ops; eager calls have nothing to attribute.
            if hasattr(graph, "get_operations"):
                gname = graph.name
                for op in graph.get_operations()[start:]:
                    owner.setdefault((gname, op.name), path)

    with _LOCK:
        keras.layers.Layer.__call__ = __call__
        try:
            yield owner
        except Exception as exc:
            if failing:
                raise TraceError(failing[0][0], failing[0][1], exc) from exc
            raise
        finally:
            keras.layers.Layer.__call__ = original


class TraceError(Exception):
    """The model cannot be traced as a graph on its input signature (what the converter does).

    Attributes:
        layer: path of the innermost layer whose call raised; `layer_class` its class name.
        cause: the original exception.
    """

    def __init__(self, layer, layer_class, cause):
        first = str(cause).strip().splitlines()
        super().__init__(
            f"{layer_class} '{layer}': " + " ".join(line.strip() for line in first[:6] if line.strip())[:400]
        )
        self.layer, self.layer_class, self.cause = layer, layer_class, cause


def input_specs(model, batch_size=None):
    """`tf.TensorSpec`s for `model.inputs`; the batch dimension is replaced by `batch_size`
    when given (else kept: `None` unless the model was built with a fixed batch size)."""
    specs = []
    for tensor in model.inputs:
        shape = list(tensor.shape)
        if shape and batch_size is not None:
            shape[0] = batch_size
        specs.append(tf.TensorSpec(shape, tensor.dtype, name=getattr(tensor, "name", None)))
    return tuple(specs)


def _strip_model(path, model_name):
    parts = path.split("/")
    if parts and parts[0] == model_name:
        parts = parts[1:]
    return "/".join(parts)


def _shape(tensor):
    try:
        return tuple(tensor.shape.as_list())
    except ValueError:
        return None


# Ops never constant even on constant inputs (inputs, state, randomness, control flow).
_NEVER_CONST = frozenset(
    {
        "Placeholder",
        "VarHandleOp",
        "While",
        "StatelessWhile",
        "If",
        "StatelessIf",
        "RandomUniform",
        "RandomStandardNormal",
        "StatefulPartitionedCall",
        "PartitionedCall",
        "NoOp",
    }
)


def _constant_ops(graph):
    """Names of ops whose value is fixed at conversion (weights and what depends only on them).

    The converter freezes variables and folds constant subgraphs, so e.g. a fake-quant range
    computed from variables never reaches the TFLite model.
    """
    const = set()
    for op in graph.get_operations():  # creation order is a topological order
        if op.type in ("Const", "ReadVariableOp"):
            const.add(op.name)
        elif op.type not in _NEVER_CONST and op.inputs and all(t.op.name in const for t in op.inputs):
            const.add(op.name)
    return const


def _function_names(op):
    names = []
    for attr in _FUNC_ATTRS:
        try:
            value = op.get_attr(attr)
        except (ValueError, TypeError):
            continue
        values = value if isinstance(value, list) else [value]
        names.extend(v.name for v in values if hasattr(v, "name"))
    return names


def live_ops(graph):
    """Names of ops some graph output depends on through data edges.

    The converter drops everything else (dead-code elimination after freezing): e.g. the seed
    updates and random draws of augmentation layers called with `training=False`.
    """
    live, stack = set(), [t.op for t in graph.outputs]
    while stack:
        op = stack.pop()
        if op.name in live:
            continue
        live.add(op.name)
        stack.extend(t.op for t in op.inputs)
    return live


def _collect(graph, owner, model_name, fallback, nested, out, seen_graphs, live=None):
    functions = getattr(graph, "_functions", {})
    const = _constant_ops(graph)
    for op in graph.get_operations():
        if EMULATION_SCOPE in op.name:  # kernel rounding emulated in Keras, not a TFLite op
            continue
        if live is not None and op.name not in live:
            continue
        layer = owner.get((graph.name, op.name))
        layer = _strip_model(layer, model_name) if layer is not None else fallback
        out.append(
            TracedOp(
                type=op.type,
                name=op.name,
                layer=layer,
                in_dtypes=tuple(t.dtype.name for t in op.inputs),
                out_dtypes=tuple(t.dtype.name for t in op.outputs),
                in_shapes=tuple(_shape(t) for t in op.inputs),
                const_inputs=tuple(t.op.name in const for t in op.inputs),
                nested=nested,
                graph_op=op,
            )
        )
        for fname in _function_names(op):
            function = functions.get(fname)
            body = getattr(function, "graph", None) if function is not None else None
            if body is None or body.name in seen_graphs:
                continue
            seen_graphs.add(body.name)
            _collect(body, owner, model_name, layer, True, out, seen_graphs)


def trace_model(model, batch_size=None):
    """Traces `model(inputs, training=False)` once and returns a `Trace`.

    Args:
        model: a built Keras 3 model with `model.inputs` (Functional or built Sequential).
        batch_size: `None` keeps the batch dimension of `model.inputs` (what
            `TFLiteConverter.from_keras_model` uses: dynamic unless the model fixed it), or a
            fixed batch size to trace with.

    Example:
        >>> trace = trace_model(keras.applications.MobileNetV2(weights=None))
        >>> {op.type for op in trace.ops if op.layer == "Conv1"}
        {'Conv2D', 'ReadVariableOp'}
    """
    specs = input_specs(model, batch_size)

    def forward(*inputs):
        return model(graph.pack_inputs(model, list(inputs)), training=False)

    owner, classes = {}, {}
    with attribute_layers(owner, classes):
        concrete = tf.function(forward, autograph=False).get_concrete_function(*specs)
    ops = []
    _collect(
        concrete.graph,
        owner,
        model.name,
        "",
        False,
        ops,
        {concrete.graph.name},
        live=live_ops(concrete.graph),
    )
    classes = {_strip_model(path, model.name): name for path, name in classes.items()}
    return Trace(ops=tuple(ops), input_specs=specs, model_name=model.name, layer_classes=classes)
