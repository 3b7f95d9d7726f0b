"""Pruning findings for `mot.lint`: does the pruning plan fit the target's sparse kernels?

Registered with `keras_mot.lint.register_check` when this module is imported. For each pruned
`Wrapper` (pattern + schedule on its kernel) and the lint's target:

| code                     | when                                                            |
|--------------------------|-----------------------------------------------------------------|
| block-not-divisible, ... | the pattern does not tile the kernel (`SparsityPattern.check`)  |
| prune-block-transposed   | e.g. Block(1, 4) where the target runs Block(4, 1) (TFLite's    |
|                          | "1x4" block = 4 consecutive *input* channels)                   |
| prune-pattern-mismatch   | another pattern than the one the target's kernel exploits       |
| prune-runs-dense         | no sparse kernel for this layer: zeros only shrink the file     |
| prune-below-min-sparsity | the schedule ends below what the target needs to exploit it     |
| int8-sparse-fc-slower    | check `int8_sparse_fc_speed` (`tflite_sparse_fc_int8`): int8    |
|                          | sparse FC bypasses XNNPack                                      |
| prune-not-reached        | a layer with several prunable kernels (MultiHeadAttention) that |
|                          | keras_mot leaves dense                                          |
| xnn-same-stem, ...       | check `xnnpack_nchw_cluster` (`xnnpack_sparse`): Keras layers   |
|                          | keeping the model out of the                                    |
|                          | sparse cluster (`xnnpack_check.stem_rewrite`, wrapped convs too) |
| xnn-grouped-conv         | check `xnnpack_nchw_cluster`: a Conv2D(groups > 1) (KerasHub's  |
|                          | depthwise                                                       |
|                          | convs) cuts the NCHW cluster                                    |

Target-specific checks run because the target names them (`Target.lint_checks`, keys of
`TARGET_CHECKS`), not because of the target's name.

Sources: the targets' sparsity tables (keras_mot/targets/sparse_targets.py, each entry cited),
keras_mot/export/xnnpack_check.py (XNNPack src/subgraph.c conditions).

Example:
    >>> import keras_mot.lint.pruning_checks  # registers the check
    >>> report = mot.lint(pruned_model, target="tflite_sparse_fc")
    >>> [f.code for f in report.findings if f.code.startswith("prune")]
    ['prune-block-transposed']
"""

import dataclasses

from keras_mot.errors import KerasMotError, format_error
from keras_mot.findings import Finding
from keras_mot.layer_kinds import FULLY_CONNECTED_KINDS, LayerKind
from keras_mot.lint.core import register_check


def _final_sparsity(spec):
    """The sparsity the layer ends with: NofM's fixed share, else the schedule's last value."""
    fixed = getattr(spec.pattern, "sparsity", None)
    if isinstance(fixed, float):
        return fixed
    schedule = spec.schedule
    last = schedule.last_update_step
    return schedule.sparsity_at(schedule.begin_step if last is None else last)


def _pattern_finding(path, kind, shape, actual, expected, target):
    if expected is None:
        return Finding(
            path,
            None,
            "warning" if target.sparsity else "info",
            f"Target '{target.name}' has no sparse kernel for this {kind} weight "
            f"{shape}: its {actual!r} zeros only shrink the compressed file, the "
            "op computes densely.",
            fix="Exclude the layer from pruning, or use a target whose sparse "
            "kernels cover it (e.g. 'generic' for file size only).",
            code="prune-runs-dense",
        )
    if actual == expected:
        return None
    transposed = type(actual).__name__ == "Block" == type(expected).__name__ and (
        actual.rows,
        actual.cols,
    ) == (expected.cols, expected.rows)
    if transposed:
        return Finding(
            path,
            None,
            "warning",
            f"{actual!r} runs along output channels; '{target.name}' exploits "
            f"{expected!r} (rows = input channels). The converter will store this "
            "weight random-sparse behind DENSIFY and compute it densely.",
            fix=f"Use pattern={expected!r}, or let the target choose (pattern=None).",
            code="prune-block-transposed",
        )
    return Finding(
        path,
        None,
        "warning",
        f"{actual!r} is not the pattern '{target.name}' exploits for this {kind} "
        f"weight ({expected!r}); expect no speed-up from it.",
        fix=f"Use pattern={expected!r}, or let the target choose (pattern=None).",
        code="prune-pattern-mismatch",
    )


def _layer_findings(path, wrapper, target):
    spec = wrapper.prune
    refs = wrapper.adapter.weights(wrapper.layer)
    findings, expected = [], None
    for name in wrapper.masks:
        kind = wrapper.prune_kind(name)
        shape = tuple(int(s) for s in resolve_shape(wrapper.layer, refs[name].attr))
        where = path if name == "kernel" else f"{path}.{name}"
        findings.append(spec.pattern.check(shape, kind, where))
        expected = target.pattern_for(kind, shape) if target.sparsity else None
        findings.append(_pattern_finding(where, kind, shape, spec.pattern, expected, target))
    final = _final_sparsity(spec)
    if expected is not None and target.min_sparsity and final < target.min_sparsity:
        findings.append(
            Finding(
                path,
                None,
                "warning",
                f"The schedule ends at {final:.0%} zeros; '{target.name}' needs at least "
                f"{target.min_sparsity:.0%} to run this weight sparse.",
                fix=f"Raise the final sparsity above {target.min_sparsity:.0%}.",
                code="prune-below-min-sparsity",
            )
        )
    return [f for f in findings if f is not None]


def _unreached_findings(model, target):
    """Unpruned layers holding several kernels the target could run sparse (e.g. a
    MultiHeadAttention keras_mot could not wrap): said, never silent."""
    from keras_mot import graph
    from keras_mot.layers.base import adapter_for
    from keras_mot.wrapper import Wrapper

    findings = []
    for path, layer in graph.iter_layers(model):
        if isinstance(layer, Wrapper) and layer.prune is not None:
            continue
        inner = layer.layer if isinstance(layer, Wrapper) else layer
        adapter = adapter_for(inner)
        refs = adapter.weights(inner) if adapter is not None else {}
        if not refs or "kernel" in refs:
            continue
        names = []
        for name, ref in refs.items():
            try:
                shape = tuple(int(d) for d in resolve_shape(inner, ref.attr))
            except (AttributeError, TypeError):
                continue
            kind = LayerKind.EINSUM if len(shape) > 2 else ref.kind
            if target.pattern_for(kind, shape) is not None:
                names.append(name)
        if names:
            findings.append(
                Finding(
                    path,
                    type(inner).__name__,
                    "warning",
                    f"'{path}' ({type(inner).__name__}) holds {len(names)} weights '{target.name}' "
                    f"could run sparse ({', '.join(names)}); it was not pruned, so they stay dense.",
                    fix="See the rewrite's findings (model.mot_findings) for why the layer was left "
                    "as it is.",
                    code="prune-not-reached",
                )
            )
    return findings


def resolve_shape(layer, attr):
    """Shape of the weight at dotted attribute path `attr` (e.g. "query_dense.kernel")."""
    obj = layer
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj.shape


def _int8_fc_finding(model, pruned_dense):
    if not pruned_dense:
        return []
    return [
        Finding(
            "",
            "FULLY_CONNECTED",
            "warning",
            f"{len(pruned_dense)} pruned Dense layer(s) will export as int8 sparse FULLY_CONNECTED "
            "(v8), which bypasses XNNPack and runs TFLite's own 1x16 kernel; on x86 it was measured "
            "slower than XNNPack's dense int8 FC in one run (0.098 vs 0.053 ms, 90 % zeros; "
            "docs/benchmarks.md).",
            fix="Benchmark the dense and the sparse int8 export on the deployment CPU "
            "(bench/sparse_fc_latency.py --int8); ship the faster one (target 'tflite_int8' "
            "for dense).",
            code="int8-sparse-fc-slower",
        )
    ]


# Checks a target asks for by name (`Target.lint_checks`): `fn(model, pruned_dense_paths)`.
# The target module says which runtime needs which check; this module says what each one does.
TARGET_CHECKS = {}


def pruning_check(model, target):
    """Pruning findings for `model` on `target` (see the module table); [] when nothing applies.

    Example:
        >>> [f.code for f in pruning_check(model, targets.get("xnnpack_sparse"))]
        ['xnn-same-stem']
    """
    from keras_mot import graph
    from keras_mot.wrapper import Wrapper

    findings, pruned_dense = [], []
    any_pruned = False
    for path, layer in graph.iter_layers(model):
        if isinstance(layer, Wrapper) and layer.prune is not None:
            any_pruned = True
            findings.extend(_layer_findings(path, layer, target))
            if layer.prune_kind() in FULLY_CONNECTED_KINDS:
                pruned_dense.append(path)
    if any_pruned and target.sparsity:
        findings.extend(_unreached_findings(model, target))
    for name in target.lint_checks:
        if name not in TARGET_CHECKS:
            raise KerasMotError(
                format_error(
                    f"Target '{target.name}' names lint check '{name}', which is not registered.",
                    received=repr(name),
                    fix=f"Use one of: {', '.join(sorted(TARGET_CHECKS))}.",
                )
            )
        findings.extend(TARGET_CHECKS[name](model, pruned_dense))
    return findings


def _xnnpack_nchw_cluster(model, pruned_dense):
    """Keras layers that keep the model out of XNNPack's sparse NCHW cluster."""
    from keras_mot.xnnpack_stem import stem_rewrite

    return list(stem_rewrite(model)) + _wrapped_stride2_findings(model) + _grouped_conv_findings(model)


def _grouped_conv_findings(model):
    """One finding per `Conv2D(groups > 1)`: a grouped CONV_2D is not NCHW-compatible in XNNPack
    (src/subgraph.c `xnn_check_nchw_compatibility` takes convolutions with groups == 1 and
    DEPTHWISE_CONV_2D), so the sparse cluster cannot pass it. KerasHub's MobileNetBackbone
    builds its depthwise convolutions this way."""
    import keras

    from keras_mot import graph

    findings = []
    for path, layer in graph.iter_layers(model):
        inner = getattr(layer, "layer", layer)
        groups = getattr(inner, "groups", 1)
        if not isinstance(inner, keras.layers.Conv2D) or groups == 1:
            continue
        depthwise = groups == inner.filters == (layer.input.shape[-1] if hasattr(layer, "input") else None)
        findings.append(
            Finding(
                path,
                "Conv2D",
                "warning",
                f"'{path}' is Conv2D(groups={groups}) and becomes a grouped CONV_2D, which XNNPack's "
                "sparse (NCHW) path does not take (it accepts groups == 1 convolutions and "
                "DEPTHWISE_CONV_2D): the sparse cluster breaks here and the pruned 1x1 convolutions "
                "next to it run dense.",
                "build it as keras.layers.DepthwiseConv2D"
                + (" (same weights: kernel (kh, kw, C, 1))" if depthwise else ""),
                "xnn-grouped-conv",
            )
        )
    return findings


def _wrapped_stride2_findings(model):
    """`stem_rewrite`'s SAME-at-stride-2 findings for convs inside keras_mot Wrappers (which
    `stem_rewrite`, walking plain Keras layers, does not see)."""
    import keras

    from keras_mot import graph
    from keras_mot.wrapper import Wrapper
    from keras_mot.xnnpack_stem import same_stride2_finding

    convs = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
    findings = []
    for path, w in graph.iter_layers(model):
        inner = getattr(w, "layer", None)
        if (
            not isinstance(w, Wrapper)
            or not isinstance(inner, convs)
            or tuple(inner.strides) != (2, 2)
            or inner.padding != "same"
        ):
            continue
        depthwise = isinstance(inner, keras.layers.DepthwiseConv2D)
        f = same_stride2_finding(inner, tuple(w.input.shape), depthwise)
        findings.append(dataclasses.replace(f, layer=path))
    return findings


register_check(pruning_check)


TARGET_CHECKS.update(
    {"xnnpack_nchw_cluster": _xnnpack_nchw_cluster, "int8_sparse_fc_speed": _int8_fc_finding}
)
