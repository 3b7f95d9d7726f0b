"""`WeightOnlyWrapper`: weight-only fake quantization around one Keras layer, the rewrite that
places it and the strip that bakes it.

The wrapper runs the wrapped layer's own `call()` inside a `keras.StatelessScope` in which each
quantized weight reads as its fake-quantized value (`keras_mot.quantization.weight_only`):
activations stay float, gradients reach the float weights straight through the rounding, and
any layer whose adapter names its weights (Conv2D, DepthwiseConv2D, Dense, EinsumDense,
Embedding, MultiHeadAttention's projections, KerasHub's PositionEmbedding, ...) is handled
without recomputing its forward pass. State the layer updates inside the scope (e.g. dropout
seeds) is written back after the call.

Example:
    >>> qmodel = mot.quantize(model, target="tf_serving")          # int8 weight-only
    >>> qmodel = mot.quantize(model, target="tf_serving", scheme="int4_weight_only")
    >>> qmodel = mot.quantize(model, target="tf_serving", scheme="dynamic_int8")  # + activations
"""

import keras
import numpy as np
from keras import ops

from keras_mot import graph
from keras_mot.annotate import Annotated
from keras_mot.errors import KerasMotError, UnsupportedLayerError, format_error
from keras_mot.findings import Finding
from keras_mot.inline import inline
from keras_mot.layers import registry as _registry  # noqa: F401  (registers the adapters)
from keras_mot.layers.base import adapter_for, resolve_attr
from keras_mot.quantization.dynamic_int8 import activation_axes, fake_quant_activation
from keras_mot.quantization.scheme import get_scheme
from keras_mot.quantization.weight_only import (
    WeightLayout,
    WeightOnlyScheme,
    fake_quant_weight,
    is_weight_only,
)


def _einsum_layout(equation, rank):
    """Layout of an einsum kernel: contracted letters reduce, the others are channels."""
    try:
        lhs, out = equation.replace(" ", "").split("->")
        _, kernel = lhs.split(",")
    except ValueError:
        return None
    if "." in equation or len(kernel) != rank:
        return None
    return WeightLayout(
        tuple(i for i, c in enumerate(kernel) if c not in out),
        tuple(i for i, c in enumerate(kernel) if c in out),
    )


def layout_for(layer, ref, rank):
    """The `WeightLayout` of weight `ref` (a `WeightRef`) of `layer`, whose rank is `rank`."""
    owner = resolve_attr(layer, ref.attr.rsplit(".", 1)[0]) if "." in ref.attr else layer
    equation = getattr(owner, "equation", None)
    if isinstance(equation, str):
        layout = _einsum_layout(equation, rank)
        if layout is not None:
            return layout
    if ref.kind == "embedding":  # one scale per row (token); blocks along the row
        return WeightLayout(tuple(range(1, rank)), (0,))
    axis = ref.channel_axis
    axes = axis if isinstance(axis, (tuple, list)) else (rank - 1 if axis is None else axis,)
    channels = tuple(sorted(a % rank for a in axes))
    return WeightLayout(tuple(i for i in range(rank) if i not in channels), channels)


def weight_layouts(layer):
    """`{weight attribute path: WeightLayout}` of the weights a weight-only scheme stores as
    integers (empty when the layer has none keras_mot knows)."""
    adapter = adapter_for(layer)
    if adapter is None or not layer.built:
        return {}
    out = {}
    for ref in adapter.weights(layer).values():
        try:
            var = resolve_attr(layer, ref.attr)
        except AttributeError:
            continue
        if ref.quantize and var is not None and len(var.shape) >= 2:
            out[ref.attr] = layout_for(layer, ref, len(var.shape))
    return out


def _scheme(scheme):
    if isinstance(scheme, dict):
        return WeightOnlyScheme.from_config(scheme)
    scheme = get_scheme(scheme)
    if not isinstance(scheme, WeightOnlyScheme):
        raise KerasMotError(
            format_error(
                "WeightOnlyWrapper takes weight-only schemes.",
                received=repr(scheme.name),
                fix="Use 'int8_weight_only' or 'int4_weight_only'.",
            )
        )
    return scheme


@keras.saving.register_keras_serializable(package="keras_mot")
class WeightOnlyWrapper(keras.layers.Layer):
    """Runs `layer` with its weights fake-quantized by a weight-only scheme (with `dynamic_int8`,
    its input too: `keras_mot.quantization.dynamic_int8`).

    Args:
        layer: a built Keras layer whose adapter names weights (see `weight_layouts`).
        scheme: a weight-only scheme name or `WeightOnlyScheme`.

    Example:
        >>> w = WeightOnlyWrapper(built_dense, "int4_weight_only_b32")
        >>> y = w(keras.ops.ones((2, 64)))
    """

    def __init__(self, layer, scheme="int8_weight_only", **kwargs):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        kwargs.setdefault("name", layer.name)
        super().__init__(**kwargs)
        self.layer = layer
        self.scheme = _scheme(scheme)
        self.supports_masking = getattr(layer, "supports_masking", False)
        self.activation_axes = None
        if layer.built:
            self._check_layouts()
            self.built = True

    def _check_layouts(self):
        self.layouts = weight_layouts(self.layer)
        self.activation_axes = activation_axes(self.layer) if self.scheme.dynamic else None
        if not self.layouts:
            raise UnsupportedLayerError(
                format_error(
                    "This layer has no weight a weight-only scheme can quantize.",
                    layer=self.layer.name,
                    received=type(self.layer).__name__,
                    fix="Exclude it (exclude=[...]) or register a LayerAdapter naming its weights.",
                )
            )

    def build_from_config(self, config):
        if config and not self.layer.built:
            self.layer.build_from_config(config)
        self._check_layouts()
        self.built = True

    def get_build_config(self):
        return self.layer.get_build_config()

    def quantized_values(self):
        """`[(variable, fake-quantized tensor)]` for the weights the scheme quantizes."""
        return [
            (
                resolve_attr(self.layer, attr),
                fake_quant_weight(resolve_attr(self.layer, attr), layout, self.scheme),
            )
            for attr, layout in self.layouts.items()
        ]

    def call(self, *args, **kwargs):
        if self.activation_axes is not None and args:
            args = (fake_quant_activation(args[0], self.activation_axes),) + args[1:]
        mapping = self.quantized_values()
        replaced = {id(v) for v, _ in mapping}
        # every other variable enters with its current value: under an enclosing stateless scope
        # (JAX training) the variable itself holds no value
        others = [(v, v.value) for v in self.layer.variables if id(v) not in replaced]
        scope = keras.StatelessScope(state_mapping=mapping + others)
        read = [(v, scope.get_current_value(v)) for v, _ in others]
        with scope:
            outputs = self.layer(*args, **kwargs)
        for v, value in read:  # write back what the layer updated (seeds, counters)
            new = scope.get_current_value(v)
            if new is not value:
                v.assign(new)
        return outputs

    def compute_output_spec(self, *args, **kwargs):
        return self.layer.compute_output_spec(*args, **kwargs)

    def compute_output_shape(self, *args, **kwargs):
        return self.layer.compute_output_shape(*args, **kwargs)

    def compute_mask(self, *args, **kwargs):
        return self.layer.compute_mask(*args, **kwargs)

    def baked_layer(self):
        """A plain copy of the wrapped layer whose quantized weights hold their grid values."""
        new = graph.clone_layer(self.layer)
        for attr, value in zip(self.layouts, self.quantized_values()):
            resolve_attr(new, attr).assign(ops.convert_to_numpy(value[1]))
        return new

    def get_config(self):
        cfg = super().get_config()
        cfg.update(layer=keras.saving.serialize_keras_object(self.layer), scheme=self.scheme.get_config())
        return cfg


def _owns_matrix(layer):
    return any(len(w.shape) >= 2 for w in getattr(layer, "weights", []))


class _Placer:
    """Chooses, for each layer of the opened model, a `WeightOnlyWrapper` or float."""

    def __init__(self, decide, paths, strict):
        self.decide, self.paths, self.strict = decide, paths, strict
        self.findings, self.wrapped = [], 0

    def _left_float(self, path, layer, why):
        if self.strict:
            raise UnsupportedLayerError(
                format_error(
                    f"Layer '{path}' ({type(layer).__name__}) {why}.",
                    layer=path,
                    fix="Exclude it (exclude=[...]) or pass strict=False to leave it float.",
                )
            )
        self.findings.append(
            Finding(
                path,
                None,
                "warning",
                f"{type(layer).__name__} {why}: left float.",
                "Nothing to do if float is fine; else exclude it explicitly to silence this.",
                "weight-only-left-float",
            )
        )

    def _float(self, path, layer):
        """The layer as the new model calls it, float: a copy, so that training the new model
        leaves the source model alone (shared, with a finding, where it cannot be copied)."""
        copy, why = graph.copy_for_new_model(layer, trusted=adapter_for(layer) is not None)
        if why is not None:
            self.findings.append(graph.shared_layer_finding(path, layer, why))
        return copy

    def __call__(self, op):
        annotation = op if isinstance(op, Annotated) else None
        layer = op.layer if annotation is not None else op
        path = self.paths.get(id(op), layer.name)
        plan = self.decide(layer, path, annotation)
        if plan.prune is not None:
            raise KerasMotError(
                format_error(
                    f"Layer '{path}': weight-only schemes do not combine with pruning here.",
                    fix="Prune first (mot.prune, then mot.strip), then quantize weight-only.",
                )
            )
        if plan.scheme is None:
            return self._float(path, layer)
        if not is_weight_only(plan.scheme):
            raise KerasMotError(
                format_error(
                    f"Layer '{path}': a recipe mixes weight-only and full-integer schemes.",
                    received=repr(getattr(plan.scheme, "name", plan.scheme)),
                    fix="Use weight-only schemes for every rule (or keep those layers float).",
                )
            )
        if not weight_layouts(layer):
            if _owns_matrix(layer):
                self._left_float(path, layer, "has weights no weight-only rule knows")
            return self._float(path, layer)
        try:
            clone = graph.clone_layer(layer)
        except Exception as error:  # noqa: BLE001 - a config that does not round-trip
            self._left_float(path, layer, f"cannot be copied ({type(error).__name__})")
            return layer
        self.wrapped += 1
        wrapper = WeightOnlyWrapper(clone, plan.scheme)
        if wrapper.scheme.dynamic and wrapper.activation_axes is None:
            self.findings.append(
                Finding(
                    path,
                    None,
                    "info",
                    f"{type(layer).__name__} under '{wrapper.scheme.name}': int8 weight-only, its input "
                    "stays float (dynamic activations are for Dense, EinsumDense, Conv, DepthwiseConv2D).",
                    "Nothing to do: an Embedding's input is token ids; other layers keep float inputs.",
                    "dynamic-int8-weight-only",
                )
            )
        return wrapper


def apply_weight_only(model, decide, strict=False):
    """Wraps every layer `decide` gives a weight-only scheme; returns `(model, findings)`.

    Args:
        model: a float Functional / Sequential model (subclassed blocks are opened by
            `keras_mot.inline`).
        decide: `decide(layer, path, annotation) -> LayerPlan` (`keras_mot.api`'s decider).
        strict: raise instead of leaving a layer with unknown weights float.

    Example:
        >>> qmodel, findings = apply_weight_only(model, lambda l, p, a: LayerPlan("int8_weight_only"))
    """
    opened, _ = inline(model)
    paths = {id(layer): path for path, layer in graph.iter_layers(opened)}
    placer = _Placer(decide, paths, strict)
    new = graph.map_layers(opened, placer)
    if not placer.wrapped:
        placer.findings.append(
            Finding(
                "",
                None,
                "warning",
                "No layer was quantized weight-only.",
                "Check exclude / rules: no Conv, Dense, EinsumDense or Embedding layer was selected.",
                "weight-only-nothing",
            )
        )
    return new, placer.findings


def weight_only_wrappers(model):
    """`[(path, WeightOnlyWrapper)]` of a model (nested models included)."""
    if not graph.is_graph_model(model):
        return []
    return [(p, layer) for p, layer in graph.iter_layers(model) if isinstance(layer, WeightOnlyWrapper)]


def bake(model):
    """`(plain_model, plan)`: the model with every `WeightOnlyWrapper` replaced by its baked
    layer, and `plan = {id(variable): (path, WeightLayout, scheme)}` of the baked weights.

    Example:
        >>> plain, plan = bake(qmodel)
    """
    plan, paths = {}, dict((id(w), p) for p, w in weight_only_wrappers(model))

    def replace(layer):
        if not isinstance(layer, WeightOnlyWrapper):
            return layer if not layer.weights else graph.clone_or_keep(layer)
        new = layer.baked_layer()
        for attr, layout in layer.layouts.items():
            path = f"{paths.get(id(layer), layer.name)}/{attr}"
            plan[id(resolve_attr(new, attr))] = (path, layout, layer.scheme)
        return new

    return graph.map_layers(model, replace), plan


def max_grid_error(model):
    """Largest |baked - float| weight difference over the model's quantized weights (NumPy)."""
    worst = 0.0
    for _, w in weight_only_wrappers(model):
        for var, value in w.quantized_values():
            worst = max(worst, float(np.max(np.abs(ops.convert_to_numpy(value) - ops.convert_to_numpy(var)))))
    return worst
