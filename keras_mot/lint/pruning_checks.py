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
| int8-sparse-fc-slower    | `tflite_sparse_fc_int8`: int8 sparse FC bypasses XNNPack        |
| xnn-same-stem, ...       | `xnnpack_sparse`: Keras layers keeping the model out of the     |
|                          | sparse cluster (`xnnpack_check.stem_rewrite`, wrapped convs too) |

Sources: the targets' sparsity tables (keras_mot/targets/sparse_targets.py, each entry cited),
keras_mot/export/xnnpack_check.py (XNNPack src/subgraph.c conditions).

Example:
    >>> import keras_mot.lint.pruning_checks  # registers the check
    >>> report = mot.lint(pruned_model, target="tflite_sparse_fc")
    >>> [f.code for f in report.findings if f.code.startswith("prune")]
    ['prune-block-transposed']
"""

import dataclasses

from keras_mot.lint.core import register_check
from keras_mot.lint.finding import Finding


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
        return Finding(path, None, "warning" if target.sparsity else "info",
                       f"Target '{target.name}' has no sparse kernel for this {kind} weight "
                       f"{shape}: its {actual!r} zeros only shrink the compressed file, the "
                       "op computes densely.",
                       fix="Exclude the layer from pruning, or use a target whose sparse "
                           "kernels cover it (e.g. 'generic' for file size only).",
                       code="prune-runs-dense")
    if actual == expected:
        return None
    transposed = (type(actual).__name__ == "Block" == type(expected).__name__ and
                  (actual.rows, actual.cols) == (expected.cols, expected.rows))
    if transposed:
        return Finding(path, None, "warning",
                       f"{actual!r} runs along output channels; '{target.name}' exploits "
                       f"{expected!r} (rows = input channels). The converter will store this "
                       "weight random-sparse behind DENSIFY and compute it densely.",
                       fix=f"Use pattern={expected!r}, or let the target choose (pattern=None).",
                       code="prune-block-transposed")
    return Finding(path, None, "warning",
                   f"{actual!r} is not the pattern '{target.name}' exploits for this {kind} "
                   f"weight ({expected!r}); expect no speed-up from it.",
                   fix=f"Use pattern={expected!r}, or let the target choose (pattern=None).",
                   code="prune-pattern-mismatch")


def _layer_findings(path, wrapper, target):
    from keras_mot.sparsity import pattern_for

    spec = wrapper.prune
    kind = wrapper.prune_kind()
    kernel = getattr(wrapper.layer, wrapper.adapter.weights(wrapper.layer)["kernel"].attr, None)
    if kernel is None:
        return []
    shape = tuple(int(s) for s in kernel.shape)
    findings = [spec.pattern.check(shape, kind, path)]
    expected = pattern_for(target, kind, shape) if target.sparsity else None
    findings.append(_pattern_finding(path, kind, shape, spec.pattern, expected, target))
    final = _final_sparsity(spec)
    if expected is not None and target.min_sparsity and final < target.min_sparsity:
        findings.append(Finding(
            path, None, "warning",
            f"The schedule ends at {final:.0%} zeros; '{target.name}' needs at least "
            f"{target.min_sparsity:.0%} to run this weight sparse.",
            fix=f"Raise the final sparsity above {target.min_sparsity:.0%}.",
            code="prune-below-min-sparsity"))
    return [f for f in findings if f is not None]


def _int8_fc_finding(target, pruned_dense):
    if target.name != "tflite_sparse_fc_int8" or not pruned_dense:
        return []
    return [Finding(
        "", "FULLY_CONNECTED", "warning",
        f"{len(pruned_dense)} pruned Dense layer(s) will export as int8 sparse FULLY_CONNECTED "
        "(v8), which bypasses XNNPack and runs TFLite's own 1x16 kernel; on x86 it was measured "
        "slower than XNNPack's dense int8 FC in one run (0.098 vs 0.053 ms, 90 % zeros; "
        "docs/benchmarks.md).",
        fix="Benchmark the dense and the sparse int8 export on the deployment CPU "
            "(bench/sparse_fc_latency.py --int8); ship the faster one (target 'tflite_int8' "
            "for dense).", code="int8-sparse-fc-slower")]


def pruning_check(model, target):
    """Pruning findings for `model` on `target` (see the module table); [] when nothing applies.

    Example:
        >>> [f.code for f in pruning_check(model, targets.get("xnnpack_sparse"))]
        ['xnn-same-stem']
    """
    from keras_mot import graph
    from keras_mot.wrapper import Wrapper

    findings, pruned_dense = [], []
    for path, layer in graph.iter_layers(model):
        if isinstance(layer, Wrapper) and layer.prune is not None:
            findings.extend(_layer_findings(path, layer, target))
            if layer.prune_kind() == "dense":
                pruned_dense.append(path)
    findings.extend(_int8_fc_finding(target, pruned_dense))
    if target.name == "xnnpack_sparse":
        from keras_mot.export.xnnpack_check import stem_rewrite

        findings.extend(stem_rewrite(model))
        findings.extend(_wrapped_stride2_findings(model))
    return findings


def _wrapped_stride2_findings(model):
    """`stem_rewrite`'s SAME-at-stride-2 findings for convs inside keras_mot Wrappers (which
    `stem_rewrite`, walking plain Keras layers, does not see)."""
    import keras

    from keras_mot import graph
    from keras_mot.export import xnnpack_check
    from keras_mot.wrapper import Wrapper

    convs = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
    findings = []
    for path, w in graph.iter_layers(model):
        inner = getattr(w, "layer", None)
        if not isinstance(w, Wrapper) or not isinstance(inner, convs) or \
                tuple(inner.strides) != (2, 2) or inner.padding != "same":
            continue
        depthwise = isinstance(inner, keras.layers.DepthwiseConv2D)
        f = xnnpack_check._same_finding(inner, tuple(w.input.shape), depthwise)
        findings.append(dataclasses.replace(f, layer=path))
    return findings


register_check(pruning_check)
