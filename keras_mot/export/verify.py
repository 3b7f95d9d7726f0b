"""Parity: does the `.tflite` compute what the Keras model computes, on real examples?

Top-1 agreement and |diff| between the Keras model (`training=False`) and the interpreter's
float outputs. A disagreement where the Keras model's own top-2 logits are closer than
`tie_steps` output quantization steps (float: `tie_margin`) counts as a tie: rounding may
legitimately flip it. Thresholds per conversion mode are the `TOLERANCES` table below
(keras_mot's choices, measured on the digits models in tests/export).
"""

import dataclasses
from typing import Optional

import numpy as np

from keras_mot.export.runtime import Runner

# mode -> (minimum tie-adjusted top-1 agreement, relative max |diff| for non-classifiers).
# qat_int8: Keras fake quant vs TFLite int8 (same grid); ptq_int8 / dynamic: float Keras vs a
# model quantized by the converter, so real quantization error is expected.
TOLERANCES = {
    "float": (0.99, 1e-3),
    "float16": (0.98, 1e-2),
    "dynamic": (0.95, 5e-2),
    "qat_int8": (0.97, 5e-2),
    "ptq_int8": (0.90, 1e-1),
    "int16x8": (0.97, 2e-2),
}
TIE_STEPS = 2.0
TIE_MARGIN = 1e-3


@dataclasses.dataclass
class Parity:
    """Keras vs TFLite on the same examples.

    Attributes:
        mode: conversion mode (a `TOLERANCES` key).
        examples: number of examples compared.
        agreement: fraction with the same top-1 class (`None` for a non-classifier output).
        tie_adjusted_agreement: agreement counting near-ties (see module doc) as agreeing.
        max_abs_diff, mean_abs_diff: over all output elements.
        output_step: quantization step of the TFLite output (`None` for float outputs).
        max_diff_steps: `max_abs_diff / output_step`.
        within_one_step: fraction of output elements within one output step.
        keras_accuracy, tflite_accuracy: top-1 accuracy when labels were given.
        min_agreement: the threshold used; ok: whether parity holds.
    """

    mode: str
    examples: int
    agreement: Optional[float]
    tie_adjusted_agreement: Optional[float]
    max_abs_diff: float
    mean_abs_diff: float
    output_step: Optional[float]
    max_diff_steps: Optional[float]
    within_one_step: Optional[float]
    keras_accuracy: Optional[float]
    tflite_accuracy: Optional[float]
    min_agreement: float
    ok: bool

    def to_dict(self):
        """Plain-dict form (floats rounded for reports)."""
        return {
            k: (float(f"{v:.6g}") if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()
        }

    def summary(self):
        """One line, e.g. `parity ok: agreement 100.0% (256 examples), max |diff| 0.031 (1.2 steps)`."""
        parts = [f"parity {'ok' if self.ok else 'FAILED'}:"]
        if self.agreement is not None:
            parts.append(f"agreement {self.agreement:.1%} ({self.examples} examples),")
        parts.append(f"max |diff| {self.max_abs_diff:.4g}")
        if self.max_diff_steps is not None:
            parts.append(f"({self.max_diff_steps:.1f} steps)")
        if self.tflite_accuracy is not None:
            parts.append(f", accuracy keras {self.keras_accuracy:.1%} / tflite {self.tflite_accuracy:.1%}")
        return " ".join(parts)


def _class_ids(labels, n):
    labels = np.asarray(labels)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(-1)
    return labels.reshape(-1)[:n].astype(np.int64)


def _top2_margin(logits):
    part = np.sort(logits, axis=-1)
    return part[..., -1] - part[..., -2]


def compare(keras_out, tflite_out, mode, labels=None, output_step=None, min_agreement=None):
    """Parity of two output arrays `(N, ...)`.

    Args:
        keras_out, tflite_out: outputs of the Keras model and of the interpreter.
        mode: a `TOLERANCES` key.
        labels: class ids `(N,)` or one-hot `(N, C)`, for accuracies.
        output_step: quantization step of the TFLite output, if quantized.
        min_agreement: override of the mode's threshold.

    Example:
        >>> compare(np.eye(3), np.eye(3) * 0.9, "float").agreement
        1.0
    """
    keras_out = np.asarray(keras_out, np.float32)
    tflite_out = np.asarray(tflite_out, np.float32).reshape(keras_out.shape)
    n = keras_out.shape[0]
    threshold, rel_tol = TOLERANCES[mode]
    threshold = threshold if min_agreement is None else float(min_agreement)
    diff = np.abs(keras_out - tflite_out)
    max_diff = float(diff.max()) if diff.size else 0.0
    classifier = keras_out.ndim >= 2 and keras_out.shape[-1] >= 2
    agreement = tie_adjusted = keras_acc = tflite_acc = None
    if classifier:
        k_top, t_top = keras_out.argmax(-1), tflite_out.argmax(-1)
        same = k_top == t_top
        tie = (
            TIE_STEPS * output_step if output_step else TIE_MARGIN * max(1.0, float(np.abs(keras_out).max()))
        )
        picked = np.take_along_axis(keras_out, t_top[..., None], -1)[..., 0]
        near = (keras_out.max(-1) - picked) <= tie
        agreement = float(same.mean())
        tie_adjusted = float((same | near).mean())
        ok = tie_adjusted >= threshold
        if labels is not None and keras_out.ndim == 2:
            truth = _class_ids(labels, n)
            keras_acc = float((k_top == truth).mean())
            tflite_acc = float((t_top == truth).mean())
    else:
        scale = max(1.0, float(np.ptp(keras_out))) if keras_out.size else 1.0
        ok = max_diff <= rel_tol * scale
    return Parity(
        mode=mode,
        examples=int(n),
        agreement=agreement,
        tie_adjusted_agreement=tie_adjusted,
        max_abs_diff=max_diff,
        mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
        output_step=output_step,
        max_diff_steps=max_diff / output_step if output_step else None,
        within_one_step=float((diff <= output_step * 1.0001).mean()) if output_step else None,
        keras_accuracy=keras_acc,
        tflite_accuracy=tflite_acc,
        min_agreement=threshold,
        ok=ok,
    )


def check_parity(model, tflite, examples, mode, min_agreement=None, batch_size=64):
    """Runs the Keras model and the `.tflite` on `examples` and compares their first output.

    Args:
        model: the Keras model (called with `training=False`).
        tflite: the converted model: bytes, a `TfliteModel`, or a `Runner` whose interpreter
            is reused (what `mot.export` passes).
        examples: `keras_mot.export.data.Examples`.
        mode: a `TOLERANCES` key.
        min_agreement: override of the mode's agreement threshold.

    Returns:
        `Parity`.

    Example:
        >>> check_parity(qat_model, tflite_bytes, collect((x_val, y_val), qat_model), "qat_int8").ok
        True
    """
    keras_out = model.predict(examples.model_inputs(model), batch_size=batch_size, verbose=0)
    keras_out = keras_out[0] if isinstance(keras_out, (list, tuple)) else keras_out
    if isinstance(keras_out, dict):
        keras_out = next(iter(keras_out.values()))
    runner = tflite if isinstance(tflite, Runner) else Runner(tflite)
    tflite_out = runner.run(examples.inputs, batch_size)[0]
    return compare(keras_out, tflite_out, mode, examples.labels, runner.output_scales()[0], min_agreement)
