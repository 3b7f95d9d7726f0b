"""Whole-model scores of a quantized model against its float model: top-1 agreement and accuracy.

Example:
    >>> agreement(float_logits, int8_logits), accuracy(int8_logits, y_val)
"""

import numpy as np


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
