"""Representative data for export: any of the usual Keras input forms -> arrays of examples.

Accepted forms (`collect`):

| form | inputs | labels |
|---|---|---|
| a NumPy array / tensor `(N, ...)` | the array | none |
| a tuple `(x, y)` of arrays (single-input model) | `x` | `y` |
| a `tf.data.Dataset` or any iterable of batches | each batch's `x` | each batch's `y` when batches are `(x, y[, w])` |

For a model with several inputs, `x` is a list/tuple (in `model.inputs` order) or a dict keyed by
input name.
"""

import dataclasses
import numbers
from typing import List, Optional

import keras
import numpy as np

from keras_mot import graph
from keras_mot.errors import ExportError, KerasMotError, format_error
from keras_mot.finite import check_finite


@dataclasses.dataclass
class Examples:
    """Examples gathered for calibration and the parity check.

    Attributes:
        inputs: one array `(N, ...)` per model input, in `model.inputs` order.
        labels: integer class ids `(N,)` (or one-hot / any target array), or `None`.
    """

    inputs: List[np.ndarray]
    labels: Optional[np.ndarray] = None

    def __len__(self):
        return int(self.inputs[0].shape[0]) if self.inputs else 0

    def batches(self, batch_size=32):
        """Yields input batches: an array (single input) or a list of arrays.

        Example:
            >>> for x in examples.batches(16): model(x)
        """
        for start in range(0, len(self), batch_size):
            xs = [x[start : start + batch_size] for x in self.inputs]
            yield xs[0] if len(xs) == 1 else xs

    def model_inputs(self, model=None):
        """All inputs in the form `model.predict` takes (the dict a dict-built model takes)."""
        if model is not None:
            return graph.pack_inputs(model, self.inputs)
        return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)


def _as_array(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _split_batch(batch, n_inputs):
    """`(inputs list, labels or None)` of one batch."""
    if isinstance(batch, dict):
        return [batch], None
    if isinstance(batch, (tuple, list)):
        if n_inputs == 1:
            return [batch[0]], (batch[1] if len(batch) > 1 else None)
        first = batch[0]
        if isinstance(first, (tuple, list, dict)):
            return [first], (batch[1] if len(batch) > 1 else None)
        return [list(batch)], None
    return [batch], None


def _order_inputs(x, model):
    if isinstance(x, dict):
        try:
            return [_as_array(v) for v in graph.flat_inputs(model, x, "representative_data")]
        except KerasMotError as e:
            raise ExportError(str(e)) from None
    if isinstance(x, (tuple, list)):
        return [_as_array(v) for v in x]
    return [_as_array(x)]


def check_max_examples(max_examples):
    """Raises `ExportError` unless `max_examples` is `None` or an int >= 1.

    Example:
        >>> check_max_examples(256)
    """
    if max_examples is None:
        return
    if isinstance(max_examples, bool) or not isinstance(max_examples, numbers.Integral) or max_examples < 1:
        raise ExportError(
            format_error(
                "max_examples must be a number of examples >= 1.",
                received=f"max_examples={max_examples!r}",
                fix="Pass e.g. max_examples=512, or None to use every example; to skip the parity "
                "check, pass no representative_data.",
            )
        )


def _check_lengths(arrays, y, index):
    """Every input and the labels of batch `index` must have the same number of examples."""
    lengths = [int(a.shape[0]) if a.ndim else 1 for a in arrays]
    label_lengths = (
        []
        if y is None
        else [  # any nest of label arrays (multi-output models)
            int(np.shape(leaf)[0]) if np.shape(leaf) else 1 for leaf in keras.tree.flatten(y)
        ]
    )
    if len(set(lengths)) > 1 or any(n != lengths[0] for n in label_lengths):
        n_labels = label_lengths[0] if len(set(label_lengths)) == 1 else label_lengths
        got = f"inputs with {lengths} examples" + (f" and {n_labels} labels" if label_lengths else "")
        raise ExportError(
            format_error(
                f"representative_data batch {index} has inputs and labels of different lengths.",
                received=got,
                fix="Give one label per example and the same number of examples for every input, "
                "e.g. (x[:n], y[:n]); or pass x alone (no accuracies).",
            )
        )


def collect(data, model, max_examples=None, what="representative_data"):
    """Gathers examples from `data` (see the module table) for a Keras `model`.

    Args:
        data: representative data in one of the accepted forms.
        model: the Keras model (its number and names of inputs).
        max_examples: stop after this many examples (`None`: all).
        what: the argument's name, for error messages.

    Returns:
        `Examples`.

    Raises:
        ExportError: `data` is empty, holds a NaN / inf (the first bad example is named), has
            fewer labels than examples, or its shapes do not match the model's inputs;
            `max_examples` < 1.

    Example:
        >>> ex = collect((x_val, y_val), model, max_examples=256)
        >>> len(ex), ex.labels.shape
        (256, (256,))
    """
    check_max_examples(max_examples)
    n_inputs = len(model.inputs)
    if data is None:
        raise ExportError(
            format_error(
                "No representative data.",
                received="None",
                fix="Pass representative_data= (array, (x, y) or batches).",
            )
        )
    is_array = hasattr(data, "shape") and not isinstance(data, (tuple, list))
    one_pair = (
        isinstance(data, tuple)
        and len(data) == 2
        and hasattr(data[1], "shape")
        and (hasattr(data[0], "shape") if n_inputs == 1 else isinstance(data[0], (list, tuple, dict)))
    )
    if is_array or one_pair or isinstance(data, dict):
        batches = [data]
    else:
        batches = data
    xs, ys, count = [], [], 0
    for batch in batches:
        (x,), y = _split_batch(batch, n_inputs)
        arrays = _order_inputs(x, model)
        if len(arrays) != n_inputs:
            raise ExportError(
                format_error(
                    f"representative_data has {len(arrays)} input(s); the model has {n_inputs}.",
                    received=[a.shape for a in arrays],
                    fix="Give one array per model input (a list, or a dict keyed by input name).",
                )
            )
        if arrays[0].ndim == 0 or arrays[0].shape[0] == 0:
            continue
        _check_lengths(arrays, y, len(xs))
        xs.append(arrays)
        ys.append(None if y is None else _as_array(y))
        count += arrays[0].shape[0]
        if max_examples is not None and count >= max_examples:
            break
    if not xs:
        raise ExportError(
            format_error(
                "representative_data is empty: it yielded no examples.",
                received=f"{type(data).__name__} with no batches",
                fix="Pass a non-empty array, (x, y) tuple or dataset (e.g. x_val[:256]).",
            )
        )
    inputs = [np.concatenate([b[i] for b in xs])[:max_examples] for i in range(n_inputs)]
    graph.check_input_arrays(model, inputs, what, error=ExportError, exact_rank=True)
    for i, arr in enumerate(inputs):
        if np.issubdtype(arr.dtype, np.floating):
            inputs[i] = arr.astype(np.float32)
    names = [t.name.split(":")[0] for t in model.inputs]
    check_finite(inputs[0] if n_inputs == 1 else dict(zip(names, inputs)), what, error=ExportError)
    labels = None
    if all(y is not None for y in ys):
        labels = np.concatenate(ys)[:max_examples]
        check_finite(labels, f"{what} labels", error=ExportError)
    return Examples(inputs, labels)
