"""keras_mot: Keras 3 model optimization for TFLite deployment.

Quantization-aware training, target-aware pruning, op-compatibility lint and verified export.

Extension points: `register_adapter`, `LayerAdapter`, `WeightRef` and `LayerKind` teach keras_mot
a new layer; `targets.register(Target(...))` adds a deployment runtime.

Example:
    >>> import keras_mot as mot
    >>> qmodel = mot.quantize(model, target="tflite_int8", calibration_data=x[:256])
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_mot import (
    compression,  # noqa: E402
    targets,  # noqa: E402
)
from keras_mot.annotate import Annotated, annotate  # noqa: E402
from keras_mot.api import apply, check_recipe, prune, quantize, strip  # noqa: E402
from keras_mot.calibration import calibrate  # noqa: E402
from keras_mot.callbacks.choose import callbacks  # noqa: E402  (the function; the package is keras_mot.callbacks)
from keras_mot.compression import Cluster, WeightCompression  # noqa: E402
from keras_mot.debug import QuantizationReport, debug  # noqa: E402
from keras_mot.errors import ExportError, KerasMotError, UnsupportedLayerError  # noqa: E402
from keras_mot.export.api import ExportResult, export  # noqa: E402
from keras_mot.findings import Finding, LintReport  # noqa: E402
from keras_mot.layer_kinds import LayerKind  # noqa: E402
from keras_mot.layers.base import LayerAdapter, WeightRef, register_adapter  # noqa: E402
from keras_mot.lint import lint  # noqa: E402
from keras_mot.prepared import PreparedModel, lint_on_compile  # noqa: E402
from keras_mot.quantization.scheme import QuantScheme, QuantSpec, get_scheme  # noqa: E402
from keras_mot.quantization.weight_only import weight_only_scheme  # noqa: E402
from keras_mot.recipe import Recipe, Rule  # noqa: E402
from keras_mot.sparsity import (
    Block,
    ConstantSparsity,
    NofM,
    PolynomialDecay,  # noqa: E402
    PruneSpec,
    Unstructured,
)
from keras_mot.targets import Target  # noqa: E402
from keras_mot.weight_only_wrapper import WeightOnlyWrapper  # noqa: E402
from keras_mot.wrapper import Wrapper  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Annotated",
    "Block",
    "Cluster",
    "ConstantSparsity",
    "ExportError",
    "ExportResult",
    "Finding",
    "KerasMotError",
    "LayerAdapter",
    "LayerKind",
    "LintReport",
    "NofM",
    "PolynomialDecay",
    "PreparedModel",
    "PruneSpec",
    "QuantScheme",
    "QuantSpec",
    "QuantizationReport",
    "Recipe",
    "Rule",
    "Target",
    "UnsupportedLayerError",
    "Unstructured",
    "WeightCompression",
    "WeightOnlyWrapper",
    "WeightRef",
    "Wrapper",
    "annotate",
    "apply",
    "calibrate",
    "callbacks",
    "check_recipe",
    "compression",
    "debug",
    "export",
    "get_scheme",
    "lint",
    "lint_on_compile",
    "prune",
    "quantize",
    "register_adapter",
    "strip",
    "targets",
    "weight_only_scheme",
]
