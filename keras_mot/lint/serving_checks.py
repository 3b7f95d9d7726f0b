"""Lint for the `tf_serving` target: which layers stay float, which read dequantized weights.

Run by `mot.lint(model, "tf_serving")` because the target names the check in
`Target.lint_checks`. For a weight-only prepared model the check reads its schemes; for a float
model it assumes the target's default scheme (post-training at export). Findings:

| code | severity | meaning |
|---|---|---|
| `weight-only-left-float` | warning | a layer with matrix weights no weight-only rule knows: stored float32 |
| `serving-dequantizes` | info | a weight dequantized on every call (int4 convolutions, ...) |
| `serving-on-codes` | info | summary: how many quantized weights compute on their codes |

Example:
    >>> [f.code for f in mot.lint(model, "tf_serving").findings]
    ['serving-on-codes']
"""

from keras_mot import graph
from keras_mot.findings import Finding
from keras_mot.lint.pruning_checks import TARGET_CHECKS


def _weights(model):
    """`[(layer path, layer, {attr: layout}, scheme or None)]`; scheme None: the layer stays float."""
    from keras_mot.inline import inline
    from keras_mot.quantization.scheme import get_scheme
    from keras_mot.targets.registry import get as get_target
    from keras_mot.weight_only_wrapper import weight_layouts, weight_only_wrappers

    wrapped = weight_only_wrappers(model)
    if wrapped:
        inner = {id(w.layer) for _, w in wrapped}
        rows = [(p, w.layer, w.layouts, w.scheme) for p, w in wrapped]
        for path, layer in graph.iter_layers(model):
            if id(layer) not in inner and not hasattr(layer, "layouts"):
                rows.append((path, layer, {}, None))
        return rows
    scheme = get_scheme(get_target("tf_serving").scheme)
    opened, _ = inline(model)
    rows = []
    for path, layer in graph.iter_layers(opened):
        layouts = weight_layouts(layer)
        rows.append((path, layer, layouts, scheme if layouts else None))
    return rows


def serving_findings(model):
    """Findings of the table above for `model` (float or weight-only prepared).

    Example:
        >>> [f.code for f in serving_findings(float_model)]
        ['serving-on-codes']
    """
    from keras_mot.export.serving_kernels import kernel_kind
    from keras_mot.layers.base import resolve_attr

    findings, on_codes, total = [], 0, 0
    for path, layer, layouts, scheme in _weights(model):
        if scheme is None:
            if any(len(w.shape) >= 2 for w in getattr(layer, "weights", [])) and not graph.is_graph_model(
                layer
            ):
                findings.append(
                    Finding(
                        path,
                        None,
                        "warning",
                        f"{type(layer).__name__} has weights no weight-only rule knows: stored float32.",
                        "Nothing to do if float is fine; else register a LayerAdapter naming its weights.",
                        "weight-only-left-float",
                    )
                )
            continue
        for attr, layout in layouts.items():
            total += 1
            owner = resolve_attr(layer, attr.rsplit(".", 1)[0]) if "." in attr else layer
            if kernel_kind(owner, attr.rsplit(".", 1)[-1], layout, scheme):
                on_codes += 1
                continue
            findings.append(
                Finding(
                    f"{path}/{attr}",
                    None,
                    "info",
                    f"{type(owner).__name__} weight ({scheme.name}) is dequantized on every serving "
                    "call (no serving kernel for it).",
                    "Use an int8 per-channel scheme (e.g. 'int8_weight_only') for this layer to "
                    "compute on its codes.",
                    "serving-dequantizes",
                )
            )
    findings.append(
        Finding(
            "",
            None,
            "info",
            f"{on_codes} of {total} quantized weights compute on their integer codes in the SavedModel.",
            None,
            "serving-on-codes",
        )
    )
    return findings


TARGET_CHECKS["tf_serving_layers"] = lambda model, pruned_dense: serving_findings(model)
