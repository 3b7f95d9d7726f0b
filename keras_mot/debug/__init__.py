"""Quantization debugger: per-layer quantization error in Keras layer names.

Example:
    >>> report = mot.debug(model, x_val, target="tflite_int8", labels=y_val)
    >>> report.worst(3), report.suggest(max_accuracy_drop=0.005, labels=y_val)
"""

from keras_mot.debug.api import debug
from keras_mot.debug.report import LayerError, QuantizationReport

__all__ = ["LayerError", "QuantizationReport", "debug"]
