"""`mot.debug`: which Keras layer loses accuracy to quantization, measured per layer.

Example:
    >>> report = mot.debug(model, x_val, target="tflite_int8", labels=y_val)
    >>> report.worst(3)
"""

import keras
import numpy as np

from keras_mot import graph, targets
from keras_mot.calibration import iter_batches
from keras_mot.debug.measuring import measure, prepare_copy
from keras_mot.errors import KerasMotError, format_error
from keras_mot.finite import check_finite


def debug(
    model,
    data,
    target="tflite_int8",
    labels=None,
    *,
    scheme=None,
    exclude=None,
    recipe=None,
    tflite=None,
    batch_size=32,
    max_examples=512,
):
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
        raise KerasMotError(
            format_error(
                f"Target '{t.name}' runs float models: there is no quantization error to debug.",
                received=f"target={target!r}",
                fix="Use an integer target such as 'tflite_int8'.",
            )
        )
    batches, label_batches = read_data(model, data, labels, batch_size, max_examples)
    if tflite is not None:
        from keras_mot.debug.tflite_tensors import debug_tflite

        return debug_tflite(model, tflite, batches, label_batches, t)
    prepared, mode = prepare_copy(model, t, scheme, exclude, recipe, batches)
    # What `report.suggest` needs to re-quantize and re-measure (`keras_mot.debug.suggest`).
    context = dict(
        model=model if mode == "post_training" else None,
        batches=batches,
        labels=label_batches,
        target=t.name,
        scheme=scheme,
        exclude=exclude,
        batch_size=batch_size,
        prepare=prepare_copy,
        measure=measure,
    )
    return measure(prepared, batches, label_batches, t.name, mode, context)


def _check_model(model):
    if not isinstance(model, keras.Model) or not graph.is_graph_model(model):
        raise KerasMotError(
            format_error(
                "mot.debug measures Functional or Sequential Keras models.",
                received=f"{type(model).__name__}",
                fix="Pass a keras.Model built with the Functional API or keras.Sequential (wrap a "
                "subclassed model: keras.Model(inputs, model(inputs))).",
            )
        )


def read_data(model, data, labels, batch_size, max_examples):
    """`(input batches, label batches or None)`, checked against the model's inputs.

    Example:
        >>> xs, ys = read_data(model, x, y, 32, 512)
    """
    if data is None:
        raise KerasMotError(
            format_error(
                "mot.debug needs data.",
                received="data=None",
                fix="Pass example inputs (e.g. 256 validation images).",
            )
        )
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
            flat = [np.asarray(f)[: max_examples - seen] for f in flat]
            y = None if y is None else np.asarray(y)[: max_examples - seen]
            n = max_examples - seen
        xs.append(graph.pack_inputs(model, [np.asarray(f) for f in flat]))
        if given is not None:
            y = given[seen : seen + n]
        ys.append(None if y is None else np.asarray(y))
        seen += n
    if not xs:
        raise KerasMotError(
            format_error(
                "data yielded no batch.",
                received=type(data).__name__,
                fix="Pass a non-empty array or dataset.",
            )
        )
    if given is not None and len(given) < seen:
        raise KerasMotError(
            format_error(
                f"labels has {len(given)} entries for {seen} examples.",
                received=f"labels of shape {given.shape}",
                fix="Pass one label per example.",
            )
        )
    return xs, (ys if all(y is not None for y in ys) else None)


def _iter_with_labels(data, batch_size):
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        x, y = data
        for i, xb in enumerate(iter_batches(x, batch_size)):
            yield xb, np.asarray(y)[i * batch_size : (i + 1) * batch_size]
        return
    is_arrays = not hasattr(data, "__next__") and (
        isinstance(data, (np.ndarray, dict, list)) or hasattr(data, "__array__")
    )
    if is_arrays:
        for xb in iter_batches(data, batch_size):
            yield xb, None
        return
    for batch in data:
        if isinstance(batch, tuple) and len(batch) in (2, 3):
            yield batch[0], batch[1]
        else:
            yield batch, None
