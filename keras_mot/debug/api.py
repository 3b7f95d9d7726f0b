"""`mot.debug`: which Keras layer loses accuracy to quantization, measured per layer.

Example:
    >>> report = mot.debug(model, x_val, target="tflite_int8", labels=y_val)
    >>> report.worst(3)
"""

import keras
import numpy as np

from keras_mot import graph, targets
from keras_mot.calibration import _batches
from keras_mot.debug.measure import (LayerStats, on_producer_grids, output_range,
                                     quantizing_wrappers)
from keras_mot.debug.report import LayerError, QuantizationReport
from keras_mot.debug.taps import tap
from keras_mot.errors import KerasMotError, format_error
from keras_mot.finite import check_finite
from keras_mot.quantization.mode import simulating
from keras_mot.wrapper import Wrapper


def debug(model, data, target="tflite_int8", labels=None, *, scheme=None, exclude=None,
          recipe=None, tflite=None, batch_size=32, max_examples=512):
    """Measures the quantization error of every quantized Keras layer of `model` on `data`.

    A float model is quantized as post-training quantization would do it (a copy, calibrated
    on `data`) and simulated with keras_mot's exact int8 kernels; a model prepared by
    `mot.quantize` / `mot.apply` (QAT) is measured as it is. Each quantized layer's output is
    compared with the float computation of the same layer: the accumulated error (the whole
    quantized model up to it), the error it adds on its own (its float inputs fed to the
    quantized layer), range utilisation and per-channel weight error.

    Args:
        model: a float or prepared Functional / Sequential Keras model (nested models and
            dict inputs work).
        data: inputs: an array, a dict of arrays by input name, a list (one array per input),
            or an iterable of batches (`(x, y)` tuples give the labels).
        target: an integer target (`"tflite_int8"`, `"tflite_int16x8"`).
        labels: integer class labels (or one-hot) for accuracies; optional.
        scheme: scheme overriding the target's for a float model (e.g. `"int8_per_tensor"`).
        exclude: selectors of layers to keep float (float model only).
        recipe: a `Recipe` to quantize a float model with (instead of target / scheme).
        tflite: path of the model's converted `.tflite`: its intermediate tensors are compared
            instead of the simulation (`keras_mot.debug.tflite_tensors`).
        batch_size: batch size for arrays.
        max_examples: examples used (>= 1; `None` for all).

    Returns:
        A `QuantizationReport`.

    Raises:
        KerasMotError: not a graph model, a float target, data that does not fit the model's
            inputs or holds NaN / inf, or a model in which nothing is quantized.

    Example:
        >>> report = mot.debug(model, x_val, labels=y_val)
        >>> print(report.to_markdown(top=5))
    """
    _check_model(model)
    t = targets.get(recipe.target if recipe is not None else target)
    if not t.is_integer:
        raise KerasMotError(format_error(
            f"Target '{t.name}' runs float models: there is no quantization error to debug.",
            received=f"target={target!r}", fix="Use an integer target such as 'tflite_int8'."))
    batches, label_batches = read_data(model, data, labels, batch_size, max_examples)
    if tflite is not None:
        from keras_mot.debug.tflite_tensors import debug_tflite

        return debug_tflite(model, tflite, batches, label_batches, t)
    prepared, mode = _prepared(model, t, scheme, exclude, recipe, batches)
    context = dict(model=model if mode == "post_training" else None, batches=batches,
                   labels=label_batches, target=t.name, scheme=scheme, exclude=exclude,
                   batch_size=batch_size)
    return measure(prepared, batches, label_batches, t.name, mode, context)


def _check_model(model):
    if not isinstance(model, keras.Model) or not graph.is_graph_model(model):
        raise KerasMotError(format_error(
            "mot.debug measures Functional or Sequential Keras models.",
            received=f"{type(model).__name__}",
            fix="Pass a keras.Model built with the Functional API or keras.Sequential (wrap a "
                "subclassed model: keras.Model(inputs, model(inputs)))."))


def read_data(model, data, labels, batch_size, max_examples):
    """`(input batches, label batches or None)`, checked against the model's inputs.

    Example:
        >>> xs, ys = read_data(model, x, y, 32, 512)
    """
    if data is None:
        raise KerasMotError(format_error("mot.debug needs data.", received="data=None",
                                         fix="Pass example inputs (e.g. 256 validation images)."))
    xs, ys, seen = [], [], 0
    given = None if labels is None else np.asarray(labels)
    for raw in _iter_with_labels(data, batch_size):
        x, y = raw
        if max_examples is not None and seen >= max_examples:
            break
        flat = graph.flat_inputs(model, x, "data")
        graph.check_input_arrays(model, flat, f"data batch {len(xs)}")
        check_finite(flat, "data", start=seen)
        n = int(np.asarray(flat[0]).shape[0])
        if max_examples is not None and seen + n > max_examples:
            flat = [np.asarray(f)[:max_examples - seen] for f in flat]
            y = None if y is None else np.asarray(y)[:max_examples - seen]
            n = max_examples - seen
        xs.append(graph.pack_inputs(model, [np.asarray(f) for f in flat]))
        if given is not None:
            y = given[seen:seen + n]
        ys.append(None if y is None else np.asarray(y))
        seen += n
    if not xs:
        raise KerasMotError(format_error("data yielded no batch.", received=type(data).__name__,
                                         fix="Pass a non-empty array or dataset."))
    if given is not None and len(given) < seen:
        raise KerasMotError(format_error(
            f"labels has {len(given)} entries for {seen} examples.",
            received=f"labels of shape {given.shape}", fix="Pass one label per example."))
    return xs, (ys if all(y is not None for y in ys) else None)


def _iter_with_labels(data, batch_size):
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        x, y = data
        for i, xb in enumerate(_batches(x, batch_size)):
            yield xb, np.asarray(y)[i * batch_size:(i + 1) * batch_size]
        return
    is_arrays = not hasattr(data, "__next__") and (
        isinstance(data, (np.ndarray, dict, list)) or hasattr(data, "__array__"))
    if is_arrays:
        for xb in _batches(data, batch_size):
            yield xb, None
        return
    for batch in data:
        if isinstance(batch, tuple) and len(batch) in (2, 3):
            yield batch[0], batch[1]
        else:
            yield batch, None


def _prepared(model, t, scheme, exclude, recipe, batches):
    from keras_mot import api
    from keras_mot.calibration import calibrate
    from keras_mot.quantization.mode import float_weights
    from keras_mot.export.convert import has_wrappers
    from keras_mot.recipe import Recipe, Rule

    if has_wrappers(model):
        given = [n for n, v in (("scheme", scheme), ("exclude", exclude), ("recipe", recipe))
                 if v is not None]
        if given:
            raise KerasMotError(format_error(
                f"Model '{model.name}' is already prepared: {', '.join(given)} would not change "
                "how it quantizes.", received=f"{given[0]}=...",
                fix="Debug the prepared model without them, or pass the float model to try "
                    "another scheme / exclusions."))
        if not _quantizes_a_layer(model):
            raise _nothing_quantized(model)
        return model, "qat"
    recipe = recipe or Recipe(t.name, rules=(Rule("_default", quantize=scheme or "target"),))
    prepared = api.apply(model, recipe, exclude=exclude)
    with float_weights():  # post-training calibration runs the float model
        calibrate(prepared, iter(batches), bn_statistics="keep")
    if not _quantizes_a_layer(prepared):
        raise _nothing_quantized(model)
    return prepared, "post_training"


def _quantizes_a_layer(model):
    """True when a layer of the model (not only the model inputs' quantizers) is quantized."""
    return any(isinstance(layer, Wrapper) and layer.quantize and not (
        isinstance(layer.layer, keras.layers.Identity) and layer.name.startswith("quantize_input"))
        for _, layer in graph.iter_layers(model))


def _nothing_quantized(model):
    return KerasMotError(format_error(
        f"Model '{model.name}' has no quantized layer: there is no quantization error to measure.",
        received="a model whose layers are all float (or excluded)",
        fix="Debug the float model (mot.debug quantizes a copy), a model from mot.quantize, or "
            "exclude fewer layers."))


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
        fused = tuple(n for n in ((w.bn.name if w.bn is not None else None), w.fused_activation)
                      if n)
        row = LayerError(path=c.path, layer_class=type(w.layer).__name__, fused=fused,
                         **stats[c.path].row())
        row.why = row.reasons()
        rows.append(row)
    f_out, q_out = np.concatenate(outs_f), np.concatenate(outs_q)
    labels = None if label_batches is None else np.concatenate(label_batches)
    kept = [c.path for c in taps_q.calls if _kept_float(c.layer)]
    return QuantizationReport(
        target, mode, rows, agreement(f_out, q_out), accuracy(f_out, labels),
        accuracy(q_out, labels), kept_float=kept, context=context, examples=len(f_out))


def _kept_float(layer):
    if isinstance(layer, Wrapper):
        return not layer.quantize
    return bool(layer.weights)


def predictions(out):
    """Top-1 class per example (argmax; a single output is thresholded at 0.5).

    Example:
        >>> predictions(np.array([[0.1, 0.9]]))
        array([1])
    """
    out = np.asarray(out).reshape(len(out), -1)
    return np.argmax(out, axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5).astype(int)


def agreement(f_out, q_out):
    """Share of examples with the same top-1 prediction.

    Example:
        >>> agreement(float_logits, int8_logits)
        0.998
    """
    return float(np.mean(predictions(f_out) == predictions(q_out)))


def accuracy(out, labels):
    """Top-1 accuracy against integer (or one-hot) labels, `None` without labels.

    Example:
        >>> accuracy(logits, y_val)
    """
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = np.argmax(labels, axis=-1)
    return float(np.mean(predictions(out) == labels.reshape(-1)))
