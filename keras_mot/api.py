"""The public entry points: `quantize`, `prune`, `apply`, `strip`, `check_recipe`.

`mot.callbacks` lives in `keras_mot.callbacks.choose`, `mot.lint` in `keras_mot.lint`.
"""

import keras

from keras_mot import graph, targets
from keras_mot.annotate import Annotated
from keras_mot.calibration import calibrate, check_steps
from keras_mot.callbacks.quantization import wrappers
from keras_mot.errors import KerasMotError, format_error
from keras_mot.inline import inline
from keras_mot.layers.base import adapter_for, resolve_attr
from keras_mot.prepared import prepared
from keras_mot.recipe import Recipe, Rule, matches
from keras_mot.recipe.selectors import require_match
from keras_mot.rewrite import LayerPlan, rewrite
from keras_mot.sparsity import PruneSpec
from keras_mot.strip import strip  # noqa: F401  (re-exported)


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise KerasMotError(
            format_error(
                "keras_mot prepares Keras models only.",
                received=f"{type(model).__name__} {repr(model)[:80]}",
                fix="Pass a keras.Model built with the Functional API (keras.Model(inputs, "
                "outputs)) or keras.Sequential; load a saved one with "
                "keras.saving.load_model(path).",
            )
        )


def _check_not_prepared(model):
    """A model keras_mot already prepared is refused: wrapping wrappers would double-quantize."""
    from keras_mot.wrapper import Wrapper

    done = [path for path, layer in graph.iter_layers(model) if isinstance(layer, Wrapper)]
    if done:
        raise KerasMotError(
            format_error(
                f"Model '{model.name}' is already prepared by keras_mot ({len(done)} wrapped "
                f"layers, e.g. '{done[0]}'); preparing it again would quantize or prune twice.",
                received=f"Wrapper layers {', '.join(done[:3])}{', ...' if len(done) > 3 else ''}",
                fix="Prepare the float model once with every step in one recipe (mot.apply(model, "
                "mot.Recipe(target, rules=(mot.Rule('_default', quantize='int8', "
                "prune='target'),), schedule=...))), or get the float model back first with "
                "mot.strip(model, keep_quantization=False).",
            )
        )


def _selectors(exclude):
    """`exclude` as a tuple of selectors (a single string is one selector)."""
    if exclude is None:
        return ()
    return (exclude,) if isinstance(exclude, str) else tuple(exclude)


def _check_selectors(model, recipe, exclude):
    """Every `exclude` entry and rule selector (but `_default`) must select some layer."""
    seen = list(graph.iter_layers(model))
    try:  # layers inside subclassed blocks are selectable too (the rewrite opens them)
        opened, report = inline(model)
        if report.inlined:
            seen += list(graph.iter_layers(opened))
    except KerasMotError:
        pass  # not a graph model: the rewrite raises the clear error
    layers = [(path, layer.layer if isinstance(layer, Annotated) else layer) for path, layer in seen]
    for selector in exclude:
        require_match(selector, layers, "exclude entry")
    for rule in recipe.rules:
        require_match(rule.select, layers, "recipe rule selector")


def _quantizes(recipe):
    if targets.get(recipe.target).is_integer:
        return any(rule.quantize is not None for rule in recipe.rules) or not recipe.rules
    return any(rule.quantize not in (None, "target") for rule in recipe.rules)


def _weight_only(recipe):
    """True when the recipe's schemes are weight-only (`keras_mot.weight_only_wrapper`)."""
    from keras_mot.quantization.weight_only import is_weight_only

    default = targets.get(recipe.target).scheme
    return any(
        is_weight_only(default if rule.quantize == "target" else rule.quantize) for rule in recipe.rules
    ) or (not recipe.rules and is_weight_only(default))


def _check_precision(model, recipe):
    """Quantization-aware training is refused on float16 / bfloat16 compute layers."""
    if not _quantizes(recipe) or _weight_only(recipe):
        return  # pruning alone (or weight-only quantization) works under any policy
    for path, layer in graph.iter_layers(model):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        policy = getattr(layer, "dtype_policy", None)
        compute = getattr(policy, "compute_dtype", "float32")
        if compute in ("float16", "bfloat16"):
            raise KerasMotError(
                format_error(
                    f"Layer '{path}' computes in {compute} (dtype policy {policy.name!r}). "
                    "Quantization-aware training emulates TFLite's int8 arithmetic, which needs "
                    "float32: a float16 mantissa (11 bits) cannot hold int8 grids and int32 bias "
                    "sums exactly, so the trained model would not be the one that ships.",
                    received=f"dtype policy {policy.name!r}",
                    fix="Build the model under keras.mixed_precision.set_global_policy('float32') "
                    "(copy the weights with new_model.set_weights(model.get_weights())), then "
                    "quantize; pruning alone (mot.prune) works with mixed precision.",
                )
            )


def _excluded(exclude, layer, path):
    return any(matches(sel, layer, path) for sel in (exclude or ()))


def _prunable(layer):
    """`[(name, kind, shape)]` of the weights pruning would mask in `layer`."""
    adapter = adapter_for(layer)
    if adapter is None:
        return []
    refs, out = adapter.weights(layer), []
    for name in adapter.prunable_weights(layer):
        try:
            weight = resolve_attr(layer, refs[name].attr)
        except AttributeError:
            continue
        kind = adapter.sparsity_kind(layer, name)
        if weight is not None and kind is not None:
            out.append((name, kind, tuple(weight.shape)))
    return out


def _target_pattern(target, layer):
    """The target's pattern for the layer's prunable weights (the first that has one)."""
    for _, kind, shape in _prunable(layer):
        pattern = targets.get(target).pattern_for(kind, shape)
        if pattern is not None:
            return pattern
    return None


def _decider(recipe, exclude):
    target = targets.get(recipe.target)

    def decide(layer, path, annotation=None):
        if _excluded(exclude, layer, path):
            return LayerPlan()
        rule = recipe.rule_for(layer, path)
        quant = rule.quantize if rule is not None else None
        prune = rule.prune if rule is not None else None
        compress = rule.compress if rule is not None else None
        if annotation is not None:
            quant = (
                annotation.quantize
                if annotation.quantize != "target"
                else (quant if quant is not None else "target")
            )
            if annotation.prune != "target":
                prune = annotation.prune
            if annotation.compress != "target":
                compress = annotation.compress
        scheme = target.scheme if quant == "target" else quant
        pattern = _target_pattern(target, layer) if prune == "target" else prune
        prunable = _prunable(layer)
        if not prunable:
            pattern = compress = None  # patterns and compression apply to prunable weights only
        spec = None
        if pattern is not None:
            if recipe.schedule is None:
                raise KerasMotError(
                    format_error(
                        f"Layer '{path}' is to be pruned but the recipe has no schedule.",
                        fix="Pass schedule=mot.PolynomialDecay(...) to mot.prune, or set `schedule:` "
                        "in the recipe.",
                    )
                )
            for name, kind, shape in prunable:
                check = pattern.check(shape, kind, path if name == "kernel" else f"{path}.{name}")
                if check is not None and check.severity == "error":
                    raise KerasMotError(format_error(check.message, layer=path, fix=check.fix))
            spec = PruneSpec(pattern, recipe.schedule)
        return LayerPlan(scheme=scheme, prune=spec, compress=compress)

    return decide


def check_recipe(model, recipe, exclude=None):
    """Checks, without changing anything, that `mot.apply(model, recipe)` can prepare `model`.

    Run it before a long float training phase to fail early: the model must be a float
    Functional/Sequential Keras model not prepared already, every rule selector and `exclude`
    entry must select a layer, and quantized layers must compute in float32.

    Args:
        model: the float Keras model.
        recipe: a `Recipe` or the path of a recipe YAML file.
        exclude: selectors of layers to leave untouched.

    Returns:
        The `Recipe` (read from YAML when a path was given).

    Raises:
        KerasMotError: naming the problem and the fix.

    Example:
        >>> recipe = mot.check_recipe(model, "recipes/mobilenet_int8.yaml")
    """
    _check_model(model)
    _check_not_prepared(model)
    if isinstance(recipe, str):
        recipe = Recipe.from_yaml(recipe)
    _check_selectors(model, recipe, _selectors(exclude))
    _check_precision(model, recipe)
    return recipe


def apply(model, recipe, exclude=None, calibration_data=None, calibration_steps=8, strict=False):
    """Applies a `Recipe` (quantization and pruning in one pass); returns a new model.

    Args:
        model: a Functional or Sequential Keras 3 model (nested models allowed).
        recipe: a `Recipe` (or a path to a recipe YAML file).
        exclude: selectors of layers to leave untouched (win over annotations and rules).
        calibration_data: inputs (array or iterable of batches) to initialise activation
            ranges, so the model is usable before fine-tuning.
        calibration_steps: number of calibration batches.
        strict: raise instead of leaving unsupported layers float.

    Returns:
        A `PreparedModel` that knows its target (lint at `compile`), with the rewrite's
        findings in `model.mot_findings`.

    Raises:
        KerasMotError: `model` is not a Keras model, an `exclude` entry or a rule selector
            (other than `_default`) matches no layer, `calibration_steps` < 1, or
            `calibration_data` holds a NaN / inf.

    Example:
        >>> recipe = mot.Recipe("tflite_int8", rules=(mot.Rule("class:Dense", quantize=None),
        ...                                           mot.Rule("_default")))
        >>> qmodel = mot.apply(model, recipe, calibration_data=x_train[:256])
    """
    if calibration_data is not None:
        check_steps(calibration_steps, "calibration_steps")
    recipe = check_recipe(model, recipe, exclude)
    exclude = _selectors(exclude)
    if _weight_only(recipe):  # integer weights, float compute: no activation quantization
        from keras_mot.weight_only_wrapper import apply_weight_only

        new_model, findings = apply_weight_only(model, _decider(recipe, exclude), strict)
        return prepared(new_model, recipe.target, findings)
    result = rewrite(model, _decider(recipe, exclude), strict=strict)
    new_model = prepared(result.model, recipe.target, result.findings)
    if calibration_data is not None:
        calibrate(new_model, calibration_data, steps=calibration_steps)
    return new_model


def quantize(
    model,
    target="tflite_int8",
    exclude=None,
    scheme=None,
    calibration_data=None,
    calibration_steps=8,
    strict=False,
    recipe=None,
):
    """Returns a new model with quantization-aware-training wrappers on every supported layer.

    Args:
        model: a Functional or Sequential Keras 3 model.
        target: deployment target (decides the default scheme), e.g. `"tflite_int8"`.
        exclude: selectors of layers to keep float (`"name"`, `"re:..."`, `"class:Dense"`).
        scheme: quantization scheme name overriding the target's (e.g. `"int8_per_tensor"`).
        calibration_data: inputs used to initialise activation ranges (recommended).
        calibration_steps: number of calibration batches.
        strict: raise if a layer has no handler instead of leaving it float.
        recipe: a `Recipe` to follow instead of `target` / `scheme` (e.g. the layers
            `QuantizationReport.suggest` keeps float).

    Example:
        >>> qmodel = mot.quantize(model, target="tflite_int8", calibration_data=x_train[:256])
        >>> qmodel.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        >>> qmodel.fit(x_train, y_train, epochs=1, callbacks=mot.callbacks(qmodel))
    """
    if recipe is None:
        t = targets.get(target)
        chosen = scheme or t.scheme
        if chosen is None:
            raise KerasMotError(
                format_error(
                    f"Target '{t.name}' runs float models; there is nothing to quantize for it.",
                    fix="Use an integer target such as 'tflite_int8' or 'tflite_int16x8', or pass scheme='int8'.",
                )
            )
        recipe = Recipe(target=t.name, rules=(Rule("_default", quantize=chosen),))
    return apply(
        model,
        recipe,
        exclude=exclude,
        calibration_data=calibration_data,
        calibration_steps=calibration_steps,
        strict=strict,
    )


def prune(model, target="generic", schedule=None, exclude=None, pattern=None):
    """Returns a new model with pruning wrappers; the pattern per layer comes from the target.

    Args:
        model: a Functional or Sequential Keras 3 model.
        target: deployment target deciding which layers are pruned and in which block shape.
        schedule: `mot.PolynomialDecay(...)` or `mot.ConstantSparsity(...)` (required).
        exclude: selectors of layers not to prune.
        pattern: a pattern used for every prunable layer instead of the target's choice.

    Example:
        >>> pmodel = mot.prune(model, target="tflite_sparse_fc",
        ...                    schedule=mot.PolynomialDecay(0.0, 0.9, 0, 2000))
    """
    if schedule is None:
        raise KerasMotError(
            format_error(
                "mot.prune needs a schedule.",
                received="schedule=None",
                fix="Pass schedule=mot.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=2000).",
            )
        )
    t = targets.get(target)
    if pattern is None and not t.sparsity:
        raise KerasMotError(
            format_error(
                f"Target '{t.name}' has no sparsity pattern (its runtime does not exploit sparse "
                "weights), so mot.prune would prune nothing.",
                received=f"target={target!r}",
                fix=f"Use a sparse target ({', '.join(_sparse_targets())}), or pass pattern="
                "mot.Unstructured() (or mot.Block(...)) to prune for size anyway.",
            )
        )
    recipe = Recipe(
        target=t.name, schedule=schedule, rules=(Rule("_default", quantize=None, prune=pattern or "target"),)
    )
    new_model = apply(model, recipe, exclude=exclude)
    if not any(w.prune is not None for w in wrappers(new_model)):
        kinds = (
            ", ".join(f"{kind} ({getattr(entry, 'note', entry)})" for kind, entry in t.sparsity.items())
            if pattern is None
            else None
        )
        raise KerasMotError(
            format_error(
                f"mot.prune pruned no layer of model '{model.name}'"
                + (
                    f": target '{t.name}' prunes only these layer kinds: {kinds}."
                    if kinds
                    else ": no layer with a kernel is left after exclude and annotations."
                ),
                received=f"target={target!r}, exclude={list(_selectors(exclude))}",
                fix="Use a target that prunes this model's layers (e.g. 'generic' prunes every "
                "Dense/Conv kernel), pass pattern=..., or check exclude and annotations.",
            )
        )
    return new_model


def _sparse_targets():
    return [n for n in targets.names() if targets.get(n).sparsity]
