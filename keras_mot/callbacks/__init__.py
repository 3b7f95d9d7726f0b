"""Training callbacks: `UpdateMasks`, `UpdateCompression`, `FreezeRanges`, `FreezeBatchNorm`, `StopOnNonFinite`,
`Summaries`, `ExportOnTrainEnd`, `QuantizationDebug`.

`keras_mot.callbacks` is this package and `mot.callbacks` the function that picks the callbacks a
prepared model needs (`keras_mot.callbacks.choose.callbacks`). The function carries this package's public
names as attributes, so both spellings work:

Example:
    >>> from keras_mot.callbacks import UpdateMasks
    >>> mot.callbacks.UpdateMasks is UpdateMasks
    True
    >>> model.fit(x, y, callbacks=mot.callbacks(model) + [mot.callbacks.Summaries("logs")])
"""

from keras_mot.callbacks import choose
from keras_mot.callbacks.compression import UpdateCompression
from keras_mot.callbacks.debug import QuantizationDebug
from keras_mot.callbacks.export import ExportOnTrainEnd
from keras_mot.callbacks.nonfinite import StopOnNonFinite
from keras_mot.callbacks.pruning import UpdateMasks
from keras_mot.callbacks.quantization import FreezeBatchNorm, FreezeRanges, optimizer_step, wrappers
from keras_mot.callbacks.summaries import Summaries

__all__ = [
    "ExportOnTrainEnd",
    "FreezeBatchNorm",
    "FreezeRanges",
    "QuantizationDebug",
    "StopOnNonFinite",
    "Summaries",
    "UpdateCompression",
    "UpdateMasks",
    "optimizer_step",
    "wrappers",
]

# `mot.callbacks` is the chooser function; it carries this package's public names and modules:
# `mot.callbacks.UpdateMasks`, `mot.callbacks.pruning.require_update_masks`.
for _name in (
    *__all__,
    "compression",
    "debug",
    "export",
    "nonfinite",
    "pruning",
    "quantization",
    "summaries",
):
    setattr(choose.callbacks, _name, globals()[_name])
del _name
