"""Refusing non-finite values (NaN, inf) where they enter keras_mot.

One NaN in calibration data makes every activation range NaN, and a NaN quantization scale
crashes the TFLite interpreter (a segmentation fault, no Python error). So data is checked as it
enters (`check_finite`: calibration and representative data), and ranges before they leave
(`check_finite_ranges`: before conversion). Both work on any structure of arrays (a single
array, a list, a dict of arrays) and use NumPy / `keras.ops` only (no TensorFlow import).
"""

import keras
import numpy as np

from keras_mot.errors import KerasMotError, format_error

_FIX_DATA = (
    "Remove or replace the non-finite values before passing the data, e.g. keep only "
    "finite examples: x[np.isfinite(x).reshape(len(x), -1).all(axis=1)], or "
    "np.nan_to_num(x)."
)


def _as_float_array(leaf):
    """`leaf` as a float NumPy array, or `None` when it cannot hold NaN / inf (ints, strings)."""
    try:
        arr = np.asarray(leaf.numpy() if hasattr(leaf, "numpy") else leaf)
    except (TypeError, ValueError):  # e.g. a sparse or ragged tensor: not checked here
        return None
    if arr.dtype.kind in "fc":
        return arr
    if arr.dtype.kind == "V" and "float" in arr.dtype.name:  # bfloat16, float8 (ml_dtypes)
        return arr.astype(np.float32)
    return None


def _describe(value):
    return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")


def first_nonfinite(batch):
    """The first example of `batch` holding a NaN or inf, or `None` when all are finite.

    Args:
        batch: an array, or any nest of arrays (list, tuple, dict) sharing a batch axis 0.

    Returns:
        `(example_index, leaf_path, value)`: the index along axis 0, the path of the offending
        array in the nest (`()` for a single array, e.g. `("image",)` in a dict), and the first
        non-finite value there (`nan`, `inf` or `-inf`); or `None`.

    Example:
        >>> first_nonfinite({"a": np.array([[1.0], [np.nan]])})
        (1, ('a',), nan)
    """
    found = None
    for path, leaf in keras.tree.flatten_with_path(batch):
        arr = _as_float_array(leaf)
        if arr is None or arr.size == 0:
            continue
        bad = ~np.isfinite(arr)
        if not bad.any():
            continue
        rows = bad.reshape(arr.shape[0], -1).any(axis=1) if arr.ndim else bad.reshape(1)
        index = int(np.argmax(rows))
        if found is None or index < found[0]:
            row = arr[index] if arr.ndim else arr
            found = (index, tuple(path), float(row[~np.isfinite(row)].reshape(-1)[0].real))
    return found


def check_finite(batch, what, start=0, error=KerasMotError):
    """Raises `error` when `batch` holds a NaN or inf, naming `what` and the first bad example.

    Args:
        batch: an array or a nest of arrays (see `first_nonfinite`).
        what: the argument's name for the message, e.g. `"calibration_data"`.
        start: index of the batch's first example in the whole data (so that the message
            counts examples across batches).
        error: the exception class to raise (a `KerasMotError`).

    Example:
        >>> check_finite(x_batch, "calibration_data", start=64)
    """
    found = first_nonfinite(batch)
    if found is None:
        return
    index, path, value = found
    where = f" (input {'/'.join(map(str, path))})" if path else ""
    raise error(
        format_error(
            f"{what} contains a non-finite value (NaN or inf) at example {start + index}{where}; "
            "it would make quantization ranges and parity results NaN.",
            received=f"{_describe(value)} in example {start + index}",
            fix=_FIX_DATA,
        )
    )


def range_entries(model):
    """`[(layer_path, range_name, min_variable, max_variable)]` of every built `Wrapper`.

    Example:
        >>> [(path, name) for path, name, _, _ in range_entries(qmodel)][:3]
        [('quantize_input_0', 'output'), ('conv', 'output'), ('conv', 'kernel')]
    """
    from keras_mot import graph
    from keras_mot.wrapper import Wrapper

    if not graph.is_graph_model(model):
        return []  # keras_mot prepares Functional / Sequential models only
    return [
        (path, name, vmin, vmax)
        for path, w in graph.iter_layers(model)
        if isinstance(w, Wrapper) and w.built
        for name, (vmin, vmax) in w.range_variables().items()
    ]


def nonfinite_range(model, entries=None):
    """The first range of `model`'s wrappers that holds a NaN or inf, or `None`.

    Reads each range variable once (on TensorFlow, ~40 us a variable: ~10 ms for the ~240 of a
    quantized MobileNetV2).

    Args:
        model: a model prepared by keras_mot.
        entries: `range_entries(model)`, when the caller keeps it between calls.

    Returns:
        `(layer_path, range_name, min, max)` (NumPy values) of the first such range, layers in
        `keras_mot.graph.iter_layers` order; or `None`.

    Example:
        >>> nonfinite_range(qmodel)  # None when every range is finite
    """
    entries = range_entries(model) if entries is None else entries
    for path, name, vmin, vmax in entries:
        lo, hi = np.asarray(vmin), np.asarray(vmax)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            return path, name, lo, hi
    return None


def _fmt(values):
    values = np.asarray(values).reshape(-1)
    bad = values[~np.isfinite(values)]
    return repr(float(bad[0] if bad.size else values[0]))


def check_finite_ranges(model, when, error=KerasMotError):
    """Raises `error` naming the first layer whose quantization range is NaN or inf.

    Args:
        model: a model prepared by keras_mot (other models have no ranges and pass).
        when: when the check runs, for the message (e.g. `"before conversion"`).
        error: the exception class to raise (a `KerasMotError`).

    Example:
        >>> check_finite_ranges(qmodel, "before conversion")
    """
    found = nonfinite_range(model)
    if found is None:
        return
    path, name, lo, hi = found
    raise error(
        format_error(
            f"Its quantization range '{name}' is not finite {when} (a NaN or inf scale would "
            "crash the TFLite interpreter).",
            layer=path,
            received=f"{name} min={_fmt(lo)}, max={_fmt(hi)}",
            fix="The range came from non-finite values: re-calibrate on finite data "
            "(mot.calibrate(model, x)), or, after a diverging fit, go back to a checkpoint "
            "before the first non-finite loss (mot.callbacks(model) includes "
            "StopOnNonFinite, which stops there).",
        )
    )
