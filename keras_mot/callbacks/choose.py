"""`mot.callbacks(model)`: the callbacks a prepared model needs.

`keras_mot/__init__.py` binds this function as `mot.callbacks`; the package's `__init__` gives it
the package's public names as attributes, so `mot.callbacks.UpdateMasks` works too.

Example:
    >>> model.fit(ds, epochs=3, callbacks=mot.callbacks(model, freeze_bn_at=500))
"""

from keras_mot.callbacks.compression import UpdateCompression, staged
from keras_mot.callbacks.nonfinite import StopOnNonFinite
from keras_mot.callbacks.pruning import UpdateMasks
from keras_mot.callbacks.quantization import FreezeBatchNorm, FreezeRanges, wrappers

# Reading every range after every batch costs ~10 ms a step on a quantized MobileNetV2 (one read
# per variable; ~12 % of a CPU training step): the loss is checked every step, the ranges every
# RANGE_CHECK_EVERY steps and at the end of each epoch.
RANGE_CHECK_EVERY = 32


def callbacks(model, freeze_ranges_at=None, freeze_bn_at=None, stop_on_non_finite=True):
    """The callbacks a prepared model needs, with sensible defaults.

    `UpdateMasks` when the model is pruned (required); `UpdateCompression` after it when a
    compression starts at a later step (required, e.g. `mot.Cluster(16, start_step=600)`); `FreezeRanges` / `FreezeBatchNorm` when
    a step is given (without `freeze_bn_at`, folded BatchNormalization trains with the batch's
    statistics for the whole fit, as in float training); `StopOnNonFinite` unless
    `stop_on_non_finite=False` (stops at the first NaN / inf loss, naming the layer whose range went
    bad; a range that goes NaN while the loss stays finite is found within `RANGE_CHECK_EVERY` (32)
    steps or at the epoch's end: pass your own `StopOnNonFinite()` to read the ranges every step).

    Also carries the public names of the `keras_mot.callbacks` package as attributes (the
    package's `__all__`): `mot.callbacks.UpdateMasks`, `mot.callbacks.FreezeRanges`,
    `mot.callbacks.UpdateCompression`, `mot.callbacks.FreezeBatchNorm`, `mot.callbacks.StopOnNonFinite`, `mot.callbacks.Summaries`,
    `mot.callbacks.ExportOnTrainEnd`, `mot.callbacks.wrappers`, ...

    Example:
        >>> model.fit(ds, epochs=3, callbacks=mot.callbacks(model, freeze_bn_at=500))
    """
    result = []
    ws = wrappers(model)
    if any(w.prune is not None for w in ws):
        result.append(UpdateMasks())
    if staged(model):
        result.append(UpdateCompression())
    if freeze_ranges_at is not None:
        result.append(FreezeRanges(freeze_ranges_at))
    if freeze_bn_at is not None:
        result.append(FreezeBatchNorm(freeze_bn_at))
    if stop_on_non_finite:
        result.append(StopOnNonFinite(check_ranges_every=RANGE_CHECK_EVERY))
    return result
