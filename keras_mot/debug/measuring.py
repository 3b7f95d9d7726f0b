"""Measuring a quantized model layer by layer: the prepared copy to measure and its report.

The per-layer statistics themselves are in `keras_mot.debug.measure`; the whole-model scores in
`keras_mot.debug.scores`.

Example:
    >>> prepared, mode = prepare_copy(model, targets.get("tflite_int8"), None, None, None, [x])
    >>> report = measure(prepared, [x], None, "tflite_int8", mode)
"""

import keras
import numpy as np

from keras_mot import graph
from keras_mot.debug.measure import LayerStats, on_producer_grids, output_range, quantizing_wrappers
from keras_mot.debug.report import LayerError, QuantizationReport
from keras_mot.debug.scores import accuracy, agreement
from keras_mot.debug.taps import tap
from keras_mot.errors import KerasMotError, format_error
from keras_mot.quantization.mode import simulating
from keras_mot.wrapper import Wrapper


def prepare_copy(model, t, scheme, exclude, recipe, batches):
    """`(prepared model, mode)`: a prepared model as it is (`"qat"`), or a float model quantized
    as post-training quantization would do it: a calibrated copy (`"post_training"`).

    Example:
        >>> prepared, mode = prepare_copy(model, targets.get("tflite_int8"), None, None, None, [x])
    """
    from keras_mot import api
    from keras_mot.calibration import calibrate
    from keras_mot.quantization.mode import float_weights
    from keras_mot.recipe import Recipe, Rule

    if any(isinstance(layer, Wrapper) for _, layer in graph.iter_layers(model)):
        given = [
            n for n, v in (("scheme", scheme), ("exclude", exclude), ("recipe", recipe)) if v is not None
        ]
        if given:
            raise KerasMotError(
                format_error(
                    f"Model '{model.name}' is already prepared: {', '.join(given)} would not change "
                    "how it quantizes.",
                    received=f"{given[0]}=...",
                    fix="Debug the prepared model without them, or pass the float model to try "
                    "another scheme / exclusions.",
                )
            )
        if not _quantizes_a_layer(model):
            raise _nothing_quantized(model)
        return model, "qat"
    recipe = post_training(
        recipe or Recipe(t.name, rules=(Rule("_default", quantize=scheme or "target"),)), t
    )
    prepared = api.apply(model, recipe, exclude=exclude)
    with float_weights():  # post-training calibration runs the float model
        calibrate(prepared, iter(batches), bn_statistics="keep")
    if not _quantizes_a_layer(prepared):
        raise _nothing_quantized(model)
    return prepared, "post_training"


def post_training(recipe, t):
    """`recipe` with its `"target"` schemes replaced by `t.post_training_scheme` (what the
    converter's post-training quantization does, e.g. per-channel Dense weights), if `t` has one.

    Example:
        >>> post_training(Recipe("tflite_int8"), targets.get("tflite_int8")).rules[0].quantize
        'int8_post_training'
    """
    import dataclasses

    scheme = getattr(t, "post_training_scheme", None)
    if scheme is None:
        return recipe
    rules = tuple(
        dataclasses.replace(r, quantize=scheme) if r.quantize == "target" else r for r in recipe.rules
    )
    return dataclasses.replace(recipe, rules=rules)


def _quantizes_a_layer(model):
    """True when a layer of the model (not only the model inputs' quantizers) is quantized."""
    return any(
        isinstance(layer, Wrapper)
        and layer.quantize
        and not (isinstance(layer.layer, keras.layers.Identity) and layer.name.startswith("quantize_input"))
        for _, layer in graph.iter_layers(model)
    )


def _nothing_quantized(model):
    return KerasMotError(
        format_error(
            f"Model '{model.name}' has no quantized layer: there is no quantization error to measure.",
            received="a model whose layers are all float (or excluded)",
            fix="Debug the float model (mot.debug quantizes a copy), a model from mot.quantize, or "
            "exclude fewer layers.",
        )
    )


def measure(prepared, batches, label_batches, target, mode, context=None):
    """The `QuantizationReport` of a prepared model on input batches (see `debug`).

    Example:
        >>> report = measure(qmodel, [x[:32]], None, "tflite_int8", "qat")
    """
    from keras_mot.strip import strip

    float_ref = strip(prepared, keep_quantization=False)
    taps_f, taps_q = tap(float_ref), tap(prepared)
    calls = quantizing_wrappers(taps_q.calls)
    stats = {c.path: LayerStats(c.layer, output_range(c.layer)) for _, c in calls}
    outs_f, outs_q = [], []
    for x in batches:
        fv = taps_f.run(x)
        with simulating():
            qv = taps_q.run(x)
            for i, c in calls:
                key = c.output_keys[0]
                arguments = on_producer_grids(c.layer, taps_q.arguments(c, fv))
                own = taps_q.rerun(c, arguments=arguments)[0]
                own_ref = taps_f.rerun(taps_f.calls[i], arguments=arguments)[0]
                stats[c.path].add(fv[key], qv[key], own, own_ref)
        outs_f.append(fv[taps_f.output_keys[0]])
        outs_q.append(qv[taps_q.output_keys[0]])
    rows = []
    for _, c in calls:
        w = c.layer
        fused = tuple(n for n in ((w.bn.name if w.bn is not None else None), w.fused_activation) if n)
        row = LayerError(path=c.path, layer_class=type(w.layer).__name__, fused=fused, **stats[c.path].row())
        row.why = row.reasons()
        rows.append(row)
    f_out, q_out = np.concatenate(outs_f), np.concatenate(outs_q)
    labels = None if label_batches is None else np.concatenate(label_batches)
    kept = [c.path for c in taps_q.calls if _kept_float(c.layer)]
    return QuantizationReport(
        target,
        mode,
        rows,
        agreement(f_out, q_out),
        accuracy(f_out, labels),
        accuracy(q_out, labels),
        kept_float=kept,
        context=context,
        examples=len(f_out),
    )


def _kept_float(layer):
    if isinstance(layer, Wrapper):
        return not layer.quantize
    return bool(layer.weights)
