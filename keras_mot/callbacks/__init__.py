"""Training callbacks: `UpdateMasks`, `FreezeRanges`, `FreezeBatchNorm`, `StopOnNonFinite`,
`QuantizationDebug`."""

from keras_mot.callbacks.debug import QuantizationDebug
from keras_mot.callbacks.export import ExportOnTrainEnd
from keras_mot.callbacks.nonfinite import StopOnNonFinite
from keras_mot.callbacks.pruning import UpdateMasks
from keras_mot.callbacks.quantization import FreezeBatchNorm, FreezeRanges, wrappers
from keras_mot.callbacks.summaries import Summaries

__all__ = ["FreezeBatchNorm", "FreezeRanges", "QuantizationDebug", "StopOnNonFinite", "UpdateMasks", "wrappers"]
