"""Initial activation ranges from a short calibration pass.

A freshly quantized model must be usable before fine-tuning: its activation ranges start from
the running min/max of the float activations over a few batches (as TFLite post-training
calibration does), not from 0..0.
"""

import numbers
import warnings

import keras
import numpy as np

from keras_mot import graph
from keras_mot.bn_statistics import MODES, BatchStatistics
from keras_mot.callbacks.quantization import wrappers
from keras_mot.errors import KerasMotError, format_error
from keras_mot.findings import Finding
from keras_mot.finite import check_finite, check_finite_ranges
from keras_mot.quantization.mode import calibrating


def _is_array(x):
    return isinstance(x, np.ndarray) or hasattr(x, "__array__") and not hasattr(x, "take")


def iter_batches(data, batch_size):
    """Input batches of `data`: whole arrays (one array, a dict by input name, a list per input)
    sliced by `batch_size`, or an iterable of batches passed through (`(x, y)` tuples give `x`).

    Example:
        >>> [b.shape for b in iter_batches(np.zeros((5, 2)), 2)]
        [(2, 2), (2, 2), (1, 2)]
    """
    if (
        _is_array(data)
        or isinstance(data, dict)
        or (isinstance(data, list) and data and all(_is_array(a) for a in data))
    ):
        # Whole arrays: one array, a dict of arrays (by input name), or a list (one per input).
        arrays = keras.tree.map_structure(np.asarray, data)
        n = len(keras.tree.flatten(arrays)[0])
        for i in range(0, n, batch_size):
            yield keras.tree.map_structure(lambda a: a[i : i + batch_size], arrays)
        return
    for batch in data:
        if isinstance(batch, tuple) and len(batch) in (2, 3):
            batch = batch[0]  # (x, y[, sample_weight]) from a dataset; a list is a multi-input x
        yield batch


def check_steps(steps, name="steps"):
    """Raises a clear error unless `steps` is `None` or an int >= 1 (a number of batches).

    Example:
        >>> check_steps(8, "calibration_steps")
    """
    if steps is None:
        return
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise KerasMotError(
            format_error(
                f"{name} must be a number of calibration batches >= 1.",
                received=f"{name}={steps!r}",
                fix=f"Pass {name}=8 (or None for every batch of the data); to skip calibration, "
                "leave calibration_data=None.",
            )
        )


def _num_examples(batch):
    leaves = keras.tree.flatten(batch)
    shape = getattr(leaves[0], "shape", None) if leaves else None
    return int(shape[0]) if shape else 1


def calibrate(model, data, steps=None, batch_size=32, bn_statistics="auto"):
    """Records activation ranges of a keras_mot model on `data` and marks them initialized.

    Args:
        model: a model returned by `mot.quantize` / `mot.apply`.
        data: a numpy array of inputs, a dict of arrays keyed by input name or a list of
            arrays (multi-input models), or an iterable of batches in those forms or as
            `(x, y)` tuples as datasets yield.
        steps: maximum number of batches (all when `None`).
        batch_size: batch size used to split a numpy array.
        bn_statistics: `"auto"` re-estimates the moving statistics of BatchNormalization
            layers that are far from the batch statistics QAT trains with (barely trained
            models; see `keras_mot.bn_statistics`), said in a warning and a finding;
            `"reestimate"` does it for every layer, `"keep"` never.

    Returns:
        The number of batches seen.

    Raises:
        KerasMotError: `steps` < 1, `data` is empty or holds a NaN / inf (the first bad
            example is named), or a range came out non-finite.

    Example:
        >>> calibrate(qmodel, x_train[:256])
    """
    check_steps(steps)
    if bn_statistics not in MODES:
        raise KerasMotError(
            format_error(
                "Unknown bn_statistics mode.",
                received=repr(bn_statistics),
                fix=f"Use one of: {', '.join(MODES)}.",
            )
        )
    ws = [w for w in wrappers(model) if w.quantize]
    stats = BatchStatistics(model, bn_statistics)
    seen = examples = 0
    try:
        with calibrating():
            for batch in iter_batches(data, batch_size):
                if steps is not None and seen >= steps:
                    break
                check_finite(batch, "calibration_data", start=examples)
                examples += _num_examples(batch)
                flat = graph.flat_inputs(model, batch, "calibration_data")
                graph.check_input_arrays(model, flat, f"calibration_data batch {seen}")
                inputs = graph.pack_inputs(model, flat)
                stats.update(inputs)
                # The first batch replaces any earlier ranges; later batches widen them
                # (running min/max over every batch, not just the last one).
                for w in ws:
                    w.initialized.assign(1.0 if seen else 0.0)
                model(inputs, training=False)
                seen += 1
    finally:
        stats.restore_momenta()
    if seen == 0:
        raise KerasMotError(
            format_error(
                "calibration_data yielded no batch.",
                received=repr(type(data).__name__),
                fix="Pass a non-empty array or dataset.",
            )
        )
    for w in ws:
        w.initialized.assign(1.0)
    message = stats.message()
    if message:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        if isinstance(getattr(model, "mot_findings", None), list):
            model.mot_findings.append(
                Finding(
                    "",
                    None,
                    "info",
                    message,
                    "nothing to do; bn_statistics='keep' opts out",
                    "bn-statistics-reestimated",
                )
            )
    check_finite_ranges(model, "after calibration on finite calibration_data (the model itself overflows)")
    return seen
