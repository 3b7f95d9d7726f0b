"""Deployment targets: `keras_mot.targets.get(name)`, `keras_mot.targets.register(target)`,
`keras_mot.targets.pattern_for(target, kind, weight_shape)`.

Importing this package registers the built-in targets (one module per runtime family).
"""

from keras_mot.targets import sparse_targets as _sparse_targets  # noqa: F401,E402
from keras_mot.targets import tf_serving as _tf_serving  # noqa: F401,E402
from keras_mot.targets import tflite as _tflite  # noqa: F401  (registers the TFLite targets)
from keras_mot.targets import xnnpack as _xnnpack  # noqa: F401  (registers the XNNPack target)
from keras_mot.targets.registry import get, names, pattern_for, register
from keras_mot.targets.target import ConverterSettings, Target

__all__ = ["ConverterSettings", "Target", "get", "names", "pattern_for", "register"]
