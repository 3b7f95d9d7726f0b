"""keras_mot: Keras 3 model optimization for TFLite deployment.

Quantization-aware training, target-aware pruning, op-compatibility lint and verified export.
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_mot import targets  # noqa: E402
from keras_mot.errors import KerasMotError  # noqa: E402
from keras_mot.lint.finding import Finding, LintReport  # noqa: E402

__version__ = "0.1.0"
