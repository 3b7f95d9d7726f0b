"""Selective quantization by measurement: the fewest float layers that meet an accuracy budget.

Greedy and measured, never guessed: the layer adding the most error on its own is kept float,
the float model is quantized again with that exclusion (calibrated on the same data), the
simulated model is measured again, and the loop repeats until the budget holds: the accuracy
drop on `labels`, or without labels the top-1 disagreement with the float model.

Example:
    >>> recipe = suggest(report, max_accuracy_drop=0.005, labels=y_val)
    >>> recipe.rules[0]
    Rule(select='spiky', quantize=None, prune=None)
"""

import warnings

import numpy as np

from keras_mot.errors import KerasMotError, format_error


def _drop(report):
    if report.float_metric is not None:
        return report.float_metric - report.quantized_metric
    return 1.0 - report.agreement


def _recipe(target, scheme, kept):
    from keras_mot.recipe import Recipe, Rule

    rules = [Rule(path, quantize=None) for path in kept]
    return Recipe(target, rules=tuple(rules) + (Rule("_default", quantize=scheme or "target"),))


def _labels(ctx, labels):
    if labels is None:
        return ctx["labels"]
    labels = np.asarray(labels)
    out, seen = [], 0
    for x in ctx["batches"]:
        import keras

        n = len(keras.tree.flatten(x)[0])
        out.append(labels[seen : seen + n])
        seen += n
    return out


def suggest(report, max_accuracy_drop=0.005, labels=None, max_float_layers=8):
    """A `Recipe` keeping float the fewest layers (greedy, re-measured) to meet the budget.

    Args:
        report: a `QuantizationReport` of a float model (from `mot.debug`).
        max_accuracy_drop: allowed drop of top-1 accuracy on `labels` (a fraction: 0.005 is
            half a point); without labels, the allowed share of examples whose top-1
            prediction differs from the float model's.
        labels: labels of the report's data (default: those given to `mot.debug`).
        max_float_layers: give up (with a warning) after keeping this many layers float.

    Returns:
        A `Recipe`: one `Rule(path, quantize=None)` per layer kept float, then the default;
        `mot.apply`, `mot.quantize(recipe=...)` and `mot.export(..., recipe=...)` take it. Its
        measurements are in `recipe_report` of the last report (`report.suggested`).

    Raises:
        KerasMotError: the report is of a prepared (QAT) model (suggest on the float model).

    Example:
        >>> recipe = report.suggest(max_accuracy_drop=0.005, labels=y_val)
    """
    ctx = report._context
    if not ctx or ctx.get("model") is None:
        raise KerasMotError(
            format_error(
                "suggest() re-quantizes the float model, but this report is of a prepared model.",
                received=f"a report in mode {report.mode!r}",
                fix="Call mot.debug(float_model, data, ...).suggest(...) with the float model, then "
                "mot.apply(float_model, recipe) and train.",
            )
        )
    label_batches = _labels(ctx, labels)
    excluded = list(ctx.get("exclude") or ())
    kept, current = [], report
    paths = _float_paths(ctx["model"])
    if labels is not None or label_batches is not ctx["labels"]:
        current = _remeasure(ctx, kept, excluded, label_batches)
    history = [(tuple(kept), _drop(current))]
    while _drop(current) > max_accuracy_drop:
        if len(kept) >= max_float_layers:
            warnings.warn(
                f"suggest: the drop is still {_drop(current):.4f} with {len(kept)} "
                f"layers float ({kept}); returning that recipe.",
                RuntimeWarning,
                stacklevel=2,
            )
            break
        candidates = [r.path for r in current.layers if r.path not in kept and r.path in paths]
        if not candidates:
            break
        kept.append(candidates[0])
        try:
            current = _remeasure(ctx, kept, excluded, label_batches)
        except KerasMotError:  # everything float now: nothing left to measure
            current.float_metric = current.quantized_metric = None
            current.agreement = 1.0
            break
        history.append((tuple(kept), _drop(current)))
    recipe = _recipe(ctx["target"], ctx["scheme"], kept)
    report.suggested = current
    report.suggest_history = history
    return recipe


def _float_paths(model):
    from keras_mot import graph
    from keras_mot.inline import inline

    paths = {p for p, _ in graph.iter_layers(model)}
    try:
        opened, _ = inline(model)
        paths.update(p for p, _ in graph.iter_layers(opened))
    except KerasMotError:
        pass
    return paths


def _remeasure(ctx, kept, excluded, label_batches):
    # The report's context carries the debugger's own prepare / measure functions
    # (`keras_mot.debug.measuring`), so this module needs no import of the modules that build reports.
    from keras_mot import targets

    t = targets.get(ctx["target"])
    recipe = _recipe(t.name, ctx["scheme"], kept)
    prepared, mode = ctx["prepare"](ctx["model"], t, None, excluded or None, recipe, ctx["batches"])
    return ctx["measure"](prepared, ctx["batches"], label_batches, t.name, mode, ctx)
