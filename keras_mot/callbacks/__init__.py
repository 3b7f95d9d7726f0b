"""Training callbacks: `UpdateMasks`, `FreezeRanges`, `FreezeBatchNorm`."""

from keras_mot.callbacks.export import ExportOnTrainEnd
from keras_mot.callbacks.pruning import UpdateMasks
from keras_mot.callbacks.quantization import FreezeBatchNorm, FreezeRanges, wrappers

__all__ = ["FreezeBatchNorm", "FreezeRanges", "UpdateMasks", "wrappers"]
