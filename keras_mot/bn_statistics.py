"""Stale BatchNormalization statistics: found and re-estimated before ranges are calibrated.

Quantization-aware training normalizes each folded conv with the *batch* statistics (as float
training does) while calibration, inference and the export use the *moving* ones. When the two
are far apart (a model trained a few steps with Keras' default momentum 0.99 or
keras.applications' 0.999 still has moving variances near their initial 1), the activation
ranges calibrated in inference mode are far narrower or wider than what training produces. In
training most values then clip at the range, whole channels collapse to one grid value, each
BatchNormalization multiplies the gradient by `sqrt(moving_var + eps) / sqrt(eps)` (~30) and a
MobileNetV2 reaches gradients of 1e20 at its first layer: Adam's second moment overflows
float32 and the weights become NaN on the second step.

`BatchStatistics` measures the batch statistics with one float, training-mode pass per
calibration batch (no range is recorded, `estimating_bn`), keeps the moving statistics when they agree
(within `RATIO` in variance and `MEAN_SHIFT` standard deviations in mean at the `QUANTILE`
channel of every layer) and otherwise replaces them all by the running average of the batch
statistics over the calibration batches.
"""

import keras
import numpy as np

from keras_mot import graph
from keras_mot.quantization.mode import estimating_bn

RATIO = 4.0  # batch/moving variance ratio beyond which the statistics are stale
MEAN_SHIFT = 2.0  # |batch mean - moving mean| / moving std beyond which they are stale
QUANTILE = 0.9  # ... at this quantile of the layer's channels
MODES = ("auto", "keep", "reestimate")


def batch_norm_layers(model):
    """`[(path, BatchNormalization)]`: folded ones (inside `Wrapper`s, whose batch statistics
    are live) and plain ones, at any depth.

    Example:
        >>> [path for path, _ in batch_norm_layers(qmodel)][:2]
        ['Conv1', 'expanded_conv_depthwise']
    """
    from keras_mot.wrapper import Wrapper

    found = []
    for path, layer in graph.iter_layers(model):
        if isinstance(layer, Wrapper):
            if (
                layer.bn is not None
                and layer.bn.built
                and float(keras.ops.convert_to_numpy(layer.bn_frozen)) <= 0
            ):
                found.append((path, layer.bn))
        elif isinstance(layer, keras.layers.BatchNormalization) and layer.built and layer.trainable:
            found.append((path, layer))
    return found


def _quantizes(model):
    from keras_mot.wrapper import Wrapper

    return any(isinstance(layer, Wrapper) and layer.quantize for _, layer in graph.iter_layers(model))


def _stale(old_mean, old_var, new_mean, new_var, eps):
    """`(stale, variance ratio)` of one layer: stale when, at the `QUANTILE` channel, the batch
    variance is off by more than `RATIO`x or the mean by more than `MEAN_SHIFT` std."""
    ratio = np.exp(np.quantile(np.abs(np.log((new_var + eps) / (old_var + eps))), QUANTILE))
    shift = np.quantile(np.abs(new_mean - old_mean) / np.sqrt(old_var + eps), QUANTILE)
    return bool(ratio > RATIO or shift > MEAN_SHIFT), float(ratio)


class BatchStatistics:
    """Re-estimates stale BatchNormalization statistics of a prepared model, batch by batch.

    Args:
        model: a model prepared by keras_mot.
        mode: `"auto"` (re-estimate the stale layers only), `"reestimate"` (every layer) or
            `"keep"` (do nothing).

    Example:
        >>> stats = BatchStatistics(qmodel)
        >>> for x in batches: stats.update(x)
        >>> stats.restore_momenta(); stats.message()
    """

    def __init__(self, model, mode="auto"):
        self.model = model
        self.mode = mode
        # Only quantization clips at calibrated ranges: pruning alone keeps the statistics.
        self.layers = [] if mode == "keep" or not _quantizes(model) else batch_norm_layers(model)
        self.momenta = {id(bn): bn.momentum for _, bn in self.layers}
        self.active = None  # ids of the layers being re-estimated (decided on batch 0)
        self.replaced = []  # [(path, variance ratio)] of the re-estimated layers
        self.stale = []  # [(path, variance ratio)] of the layers found stale
        self.batches = 0

    def update(self, inputs):
        """One float training-mode pass over `inputs` (model-ready structure)."""
        if not self.layers:
            return
        first = self.active is None
        if not first and not self.active:
            return  # the statistics agreed on the first batch: nothing to estimate
        if first:
            old = {id(bn): (np.array(bn.moving_mean), np.array(bn.moving_variance)) for _, bn in self.layers}
            for _, bn in self.layers:
                bn.momentum = 0.0  # moving statistics := this batch's
        else:
            k = self.batches  # running average over the batches seen
            for _, bn in self.layers:
                bn.momentum = k / (k + 1.0) if id(bn) in self.active else 1.0
        with estimating_bn():
            self.model(inputs, training=True)
        self.batches += 1
        if not first:
            return
        verdicts = {
            id(bn): _stale(*old[id(bn)], np.array(bn.moving_mean), np.array(bn.moving_variance), bn.epsilon)
            for _, bn in self.layers
        }
        self.stale = [(path, verdicts[id(bn)][1]) for path, bn in self.layers if verdicts[id(bn)][0]]
        # Stale statistics come from too little training, which leaves every layer's stale
        # (and a layer's batch statistics do not depend on the others' moving ones): one stale
        # layer re-estimates them all, so that no layer keeps a half-converged estimate.
        if self.stale or self.mode == "reestimate":
            self.active = {id(bn) for _, bn in self.layers}
            self.replaced = [(path, verdicts[id(bn)][1]) for path, bn in self.layers]
        else:
            self.active = set()
            for _, bn in self.layers:
                bn.moving_mean.assign(old[id(bn)][0])
                bn.moving_variance.assign(old[id(bn)][1])

    def restore_momenta(self):
        """Puts every layer's momentum back (call it in a `finally`)."""
        for _, bn in self.layers:
            bn.momentum = self.momenta[id(bn)]

    def message(self):
        """One line on what was re-estimated, or `None`."""
        if not self.replaced:
            return None
        worst_path, worst = max(self.replaced, key=lambda item: item[1])
        why = (
            f"{len(self.stale)} had moving statistics far from the batch statistics that "
            f"quantization-aware training normalizes with (variance off by up to "
            f"{worst:.1f}x, at '{worst_path}'), which would clip training activations at "
            "the calibrated ranges and blow up the gradients"
            if self.stale
            else "bn_statistics='reestimate'"
        )
        return (
            f"BatchNormalization statistics of all {len(self.replaced)} layers were "
            f"re-estimated on {self.batches} calibration batch(es): {why}. Pass "
            "bn_statistics='keep' to mot.calibrate to keep them."
        )
