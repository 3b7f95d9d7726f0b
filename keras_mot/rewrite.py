"""The graph rewrite behind `mot.quantize` / `mot.prune` / `mot.apply`.

Given a Functional model and a decision per layer (`LayerPlan`), builds a new Functional model:

1. Non-layer graph operations with a scalar constant (`x + 3.0`) become `ConstantOp` layers.
2. Fusions that TFLite performs are applied first, so that training quantizes what the converter
   will store: Conv/Dense + BatchNormalization (folded weights), + ReLU/ReLU6 (fused activation).
3. Every supported layer is wrapped in a `Wrapper`; quantization points are placed where TFLite
   materializes int8 tensors (a tensor is quantized once, by its producer, unless the producer
   is left float or a Concatenate needs a shared range).
4. Pass-through layers (reshape, pooling that keeps scales, padding, dropout) are copied, and
   shape ops (`keras.ops.reshape`, `x[:, 0]`, ...) are re-applied: both keep their input's grid.
5. Nested Functional/Sequential models are rewritten recursively and stay nested; a nested
   model called at several places is rewritten once and called at each (weights stay shared).

Before all this, `keras_mot.inline` opens subclassed blocks (KerasHub's TransformerEncoder,
InvertedResidualBlock, ...) into nested Functional models, and tensor ops inside them become the
equivalent Keras layers where TFLite computes them alike (`keras_mot.layers.tensor_ops`).

Layers that cannot be handled are left float (the original layer object, never a copy) and
reported as `Finding`s.
"""

import dataclasses
from typing import Optional

import keras

from keras_mot import graph
from keras_mot.annotate import Annotated
from keras_mot.findings import Finding
from keras_mot.inline import inline
from keras_mot.layers import activations as act_table
from keras_mot.layers import registry as _registry  # noqa: F401  (registers the adapters)
from keras_mot.layers.base import adapter_for
from keras_mot.layers.elementwise import constant_op_from_node
from keras_mot.layers.pooling import is_passthrough
from keras_mot.layers.tensor_ops import canonical_layer, float_inputs, is_shape_op
from keras_mot.wrapper import Wrapper


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """What to do with one layer.

    Attributes:
        scheme: quantization scheme name, or `None` to keep the layer float.
        prune: a `PruneSpec`-like object (pattern + schedule), or `None`.
    """

    scheme: Optional[str] = None
    prune: Optional[object] = None
    compress: Optional[object] = None  # a keras_mot.compression.WeightCompression

    @property
    def active(self):
        """True when the layer is quantized, pruned or compressed."""
        return self.scheme is not None or self.prune is not None or self.compress is not None


@dataclasses.dataclass
class RewriteResult:
    """The rewritten model and what the rewrite found."""

    model: keras.Model
    findings: list


def _relu_like(op):
    """'relu'/'relu6' when `op` is a layer TFLite fuses into its producer, else None."""
    if isinstance(op, keras.layers.ReLU):
        return act_table.relu_layer_activation(op)
    if isinstance(op, keras.layers.Activation):
        name = getattr(op.activation, "__name__", "")
        return name if name in ("relu", "relu6") else None
    return None


class _Rewriter:
    def __init__(self, decide, strict):
        self.decide = decide
        self.strict = strict
        self.findings = []
        self.annotations = {}
        self.submodels = {}  # id(nested model) -> (rewritten model, output flags)

    def _decide(self, op, path):
        if isinstance(op, Annotated):
            op = op.layer
        return self.decide(op, path, self.annotations.get(id(op)))

    # ------------------------------------------------------------- fusion planning
    def _plan_fusions(self, fm, nodes, operations, path):
        cons = graph.consumers(fm)
        outputs = {id(t) for t in fm.outputs}
        absorbed, fusion = set(), {}

        def sole_consumer(node):
            outs = node.output_tensors
            if len(outs) != 1 or id(outs[0]) in outputs:
                return None
            users = cons.get(id(outs[0]), [])
            return users[0] if len(users) == 1 else None

        for node in nodes:
            op = operations[id(node)]
            adapter = adapter_for(op)
            plan = self._decide(op, f"{path}{op.name}")
            if adapter is None or plan.scheme is None or graph.node_count(fm, node.operation) > 1:
                continue
            bn_node, act_node, tail = None, None, node
            linear = adapter.activation(op) == "linear"
            nxt = sole_consumer(node)
            if (
                adapter.folds_batchnorm
                and linear
                and nxt is not None
                and isinstance(nxt.operation, keras.layers.BatchNormalization)
                and nxt.operation.axis in (-1, len(nxt.output_tensors[0].shape) - 1)
                and self._decide(nxt.operation, f"{path}{nxt.operation.name}").scheme
                and graph.node_count(fm, nxt.operation) == 1
            ):
                bn_node, tail = nxt, nxt
                nxt = sole_consumer(nxt)
            if (
                adapter.fuses_relu
                and linear
                and nxt is not None
                and _relu_like(nxt.operation)
                and self._decide(nxt.operation, f"{path}{nxt.operation.name}").scheme
                and graph.node_count(fm, nxt.operation) == 1
            ):
                act_node, tail = nxt, nxt
            if bn_node is not None or act_node is not None:
                fusion[id(node)] = (bn_node, act_node, tail)
                absorbed.update(id(n) for n in (bn_node, act_node) if n is not None)
        return fusion, absorbed, cons, outputs

    # ------------------------------------------------------------- rewrite
    def rewrite(self, model, inputs_quantized=None, path=""):
        """Returns (new model, [output quantized flags])."""
        fm = graph.functional_view(model)
        nodes = graph.ordered_nodes(fm)
        operations = {}
        for node in nodes:
            op = node.operation
            if isinstance(op, Annotated):
                self.annotations[id(op.layer)] = op
                op = op.layer
            elif not isinstance(op, keras.layers.Layer):
                args = node.arguments.args
                canonical = canonical_layer(op, list(args), node.arguments.kwargs)
                op = canonical[0] if canonical else (constant_op_from_node(op, list(args)) or op)
            operations[id(node)] = op
        fusion, absorbed, cons, outputs = self._plan_fusions(fm, nodes, operations, path)

        new_inputs = graph.new_inputs_like(fm)
        tensor_map = {id(o): n for o, n in zip(fm.inputs, new_inputs)}
        quantized = {}
        flags = inputs_quantized if inputs_quantized is not None else [False] * len(new_inputs)
        if inputs_quantized is None and self._any_quantized(fm, operations, path):
            # Top level: one quantization point per model input (TFLite QUANTIZE at the input).
            for i, (orig, new) in enumerate(zip(fm.inputs, new_inputs)):
                if not keras.backend.is_float_dtype(new.dtype):  # token ids etc.: no QUANTIZE
                    quantized[id(new)] = False
                    continue
                qin = Wrapper(
                    keras.layers.Identity(name=f"quantize_input_{i}"),
                    scheme=self._first_scheme(fm, operations, path),
                    name=f"quantize_input_{i}",
                )
                tensor_map[id(orig)] = qin(new)
                quantized[id(tensor_map[id(orig)])] = True
        else:
            for new, flag in zip(new_inputs, flags):
                quantized[id(new)] = bool(flag)

        wrappers = {}
        for node in nodes:
            if id(node) in absorbed:
                continue
            op = operations[id(node)]
            layer_path = f"{path}{op.name}"
            if any(id(t) not in tensor_map for t in node.input_tensors):
                continue
            new_in = [tensor_map[id(t)] for t in node.input_tensors]
            # Integer tensors (token ids, masks) never get a quantization point.
            in_q = [quantized.get(id(t), False) or not keras.backend.is_float_dtype(t.dtype) for t in new_in]
            if op is node.operation or isinstance(node.operation, Annotated):
                args, kwargs = node.arguments.fill_in(tensor_map)
            else:  # a layer replacing a keras operation: only the tensor argument(s) remain
                args, kwargs = (new_in[0] if len(new_in) == 1 else new_in,), {}
            kwargs = {k: v for k, v in kwargs.items() if k != "training"}
            bn_node, act_node, tail = fusion.get(id(node), (None, None, node))

            if graph.is_graph_model(op):
                if id(op) not in self.submodels:  # a nested model called twice is shared
                    self.submodels[id(op)] = self.rewrite(op, inputs_quantized=in_q, path=f"{layer_path}/")
                sub, out_flags = self.submodels[id(op)]
                out = sub(*args, **kwargs)
                out_list = keras.tree.flatten(out)
            elif isinstance(op, keras.layers.Layer) and is_passthrough(op):
                if id(op) not in wrappers:  # a layer called twice stays one layer
                    wrappers[id(op)] = graph.clone_layer(op)
                out = wrappers[id(op)](*args, **kwargs)
                out_list = keras.tree.flatten(out)
                out_flags = [all(in_q)] * len(out_list)
            elif not isinstance(op, keras.layers.Layer) and (
                is_shape_op(op) or not float_inputs((args, kwargs))
            ):
                # Shape ops keep their input's grid; integer-only ops compute ids and masks.
                out = op(*args, **kwargs)
                out_list = keras.tree.flatten(out)
                out_flags = [all(in_q)] * len(out_list)
            else:
                out, out_flags = self._wrap(
                    op,
                    node,
                    tail,
                    bn_node,
                    act_node,
                    args,
                    kwargs,
                    dict(zip(map(id, new_in), in_q)),
                    cons,
                    outputs,
                    operations,
                    layer_path,
                    path,
                    wrappers,
                )
                out_list = keras.tree.flatten(out)
            for orig, new, flag in zip(tail.output_tensors, out_list, out_flags):
                tensor_map[id(orig)] = new
                quantized[id(new)] = flag

        new_outputs = keras.tree.pack_sequence_as(fm._outputs_struct, [tensor_map[id(t)] for t in fm.outputs])
        new_model = keras.Model(
            keras.tree.pack_sequence_as(fm._inputs_struct, new_inputs), new_outputs, name=model.name
        )
        return new_model, [quantized.get(id(tensor_map[id(t)]), False) for t in fm.outputs]

    def _any_quantized(self, fm, operations, path):
        return self._first_scheme(fm, operations, path) is not None

    def _first_scheme(self, fm, operations, path):
        for node in graph.ordered_nodes(fm):
            op = operations.get(id(node), node.operation)
            plan = self._decide(op, f"{path}{op.name}")
            if plan.scheme is not None and adapter_for(op) is not None:
                return plan.scheme
        return None

    def _wrap(
        self,
        op,
        node,
        tail,
        bn_node,
        act_node,
        args,
        kwargs,
        in_quantized,
        cons,
        outputs,
        operations,
        layer_path,
        path,
        wrappers,
    ):
        plan = self._decide(op, layer_path)
        adapter = adapter_for(op) if isinstance(op, keras.layers.Layer) else None
        call = adapter.call_inputs(op, args, kwargs) if adapter is not None else None
        extra = sorted(k for k, v in kwargs.items() if v is not None)
        if adapter is not None and call is None:  # arguments the adapter does not model
            adapter = None
        if adapter is None or not plan.active:
            if adapter is None and plan.active and not isinstance(op, keras.layers.InputLayer):
                self._unsupported(op, layer_path, extra)
            if id(op) not in wrappers:  # a layer called twice stays one layer
                wrappers[id(op)], why = graph.copy_for_new_model(op, trusted=adapter is not None)
                if why is not None:
                    self.findings.append(graph.shared_layer_finding(layer_path, op, why))
            out = wrappers[id(op)](*args, **kwargs)
            return out, [False] * len(keras.tree.flatten(out))
        call_keys, call_inputs = call
        kwargs = {}
        if id(op) in wrappers:  # shared layer: one wrapper for every call
            out = wrappers[id(op)](call_inputs)
            return out, [wrappers[id(op)].quantize_output] * len(keras.tree.flatten(out))
        quantize = plan.scheme is not None
        out_t = tail.output_tensors[0]
        out_t, user_op = self._grid_consumer(out_t, cons, operations, outputs)
        user_adapter = adapter_for(user_op) if user_op is not None else None
        shared_by_consumer = (
            user_adapter is not None
            and user_adapter.shares_input_range
            and id(out_t) not in outputs
            and self._decide(user_op, f"{path}{user_op.name}").scheme is not None
        )
        quantize_inputs = (
            []
            if adapter.shares_input_range
            else [
                not in_quantized.get(id(t), False) and adapter.quantizes_inputs
                for t in keras.tree.flatten(call_inputs)
            ]
        )
        activation = _relu_like(act_node.operation) if act_node is not None else None
        options = dict(
            scheme=plan.scheme or "int8",
            bn=graph.clone_layer(bn_node.operation) if bn_node is not None else None,
            fused_activation=activation,
            quantize_inputs=quantize_inputs if quantize else [],
            quantize_output=quantize and not shared_by_consumer,
            quantize=quantize,
        )
        if plan.prune is not None:
            options["prune"] = plan.prune
        if plan.compress is not None:
            options["compress"] = plan.compress
        if call_keys is not None:
            options["call_keys"] = call_keys
        wrapper = Wrapper(graph.clone_layer(op), **options)
        if quantize:
            self._check_activation(wrapper, layer_path)
        wrappers[id(op)] = wrapper
        out = wrapper(call_inputs)
        return out, [wrapper.quantize_output] * len(keras.tree.flatten(out))

    @staticmethod
    def _grid_consumer(tensor, cons, operations, outputs):
        """`(tensor, op)`: the single consumer of `tensor`, looking through shape-only layers
        (Reshape, Flatten, ...) that keep its grid, and the tensor that op reads. A Concatenate
        behind a Reshape (ViT's class token joined to the patch tokens) then sets the producer's
        range itself: the converter gives CONCATENATION one scale for all operands
        (tfl_ops.td SameOperandsAndResultsScale), so a producer with its own range would get an
        int8 requantize (QUANTIZE) whose rounding the fake-quantized model does not reproduce."""
        while True:
            users = cons.get(id(tensor), [])
            if len(users) != 1:
                return tensor, None
            op = operations.get(id(users[0]), users[0].operation)
            if (
                id(tensor) in outputs
                or not isinstance(op, keras.layers.Layer)
                or not is_passthrough(op)
                or len(users[0].output_tensors) != 1
            ):
                return tensor, op
            tensor = users[0].output_tensors[0]

    def _check_activation(self, wrapper, layer_path):
        name = wrapper.activation_name()
        entry = act_table.lookup(name)
        if entry is None or not entry.int8:
            self.findings.append(
                Finding(
                    layer=layer_path,
                    op=name,
                    severity="warning",
                    code="no-int8-kernel",
                    message=f"activation '{name}' has no TFLite int8 kernel; it will run in float "
                    "between DEQUANTIZE and QUANTIZE ops.",
                    fix="Use relu, relu6, hard_silu, silu, gelu, sigmoid, tanh or leaky_relu, or "
                    "accept the float island.",
                )
            )

    def _unsupported(self, op, layer_path, extra=()):
        why = (
            f"is called with {', '.join(extra)}, which keras_mot does not model"
            if extra
            else "has no keras_mot handler"
        )
        if not isinstance(op, keras.layers.Layer):
            why = (
                f"(keras.ops.{getattr(op, 'name', '').rstrip('_0123456789')}) has no int8 "
                "handler in keras_mot"
            )
        finding = Finding(
            layer=layer_path,
            op=type(op).__name__,
            severity="warning",
            code="left-float",
            message=f"{type(op).__name__} {why}: left float (TFLite will "
            "dequantize before it and quantize after it).",
            fix="Register a LayerAdapter for it (keras_mot.register_adapter; guide: 'Write your "
            "own adapter' in the docs), or exclude it explicitly to silence this.",
        )
        self.findings.append(finding)


def _kept_findings(report):
    return [
        Finding(
            layer=path,
            op=None,
            severity="info",
            code="block-kept",
            message=f"subclassed block kept as one layer: {why}.",
            fix="Register a LayerAdapter for its class (keras_mot.register_adapter) "
            "if it should be quantized; otherwise the rewrite reports it below.",
        )
        for path, why in report.kept.items()
    ]


def rewrite(model, decide, strict=False):
    """Rewrites `model` per `decide(layer, path, annotation) -> LayerPlan`.

    Subclassed blocks are first opened into nested Functional models (`keras_mot.inline`).

    Returns a `RewriteResult` (new model + findings). `annotation` is the layer's `Annotated`
    container, or `None`.
    """
    from keras_mot.errors import UnsupportedLayerError

    rewriter = _Rewriter(decide, strict)
    model, report = inline(model)
    rewriter.findings.extend(_kept_findings(report))
    new_model, _ = rewriter.rewrite(model)
    if strict:
        errors = [f for f in rewriter.findings if f.code == "left-float"]
        if errors:
            raise UnsupportedLayerError(
                "strict=True and these layers have no keras_mot handler: "
                + "; ".join(f"'{f.layer}' ({f.op})" for f in errors)
                + ". Register a LayerAdapter for them (keras_mot.register_adapter) or pass "
                "exclude=[...]."
            )
    return RewriteResult(new_model, rewriter.findings)
