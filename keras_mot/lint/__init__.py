"""Op-compatibility lint: findings about what a model becomes on a deployment target.

`lint(model, target)` traces the model once and predicts the converter's verdict;
`lint_tflite(tflite_bytes, target)` reads a converted model's ops and tensor dtypes.
"""

from keras_mot.findings import Finding, LintReport
from keras_mot.lint.core import lint, register_check
from keras_mot.lint.tflite_check import lint_tflite

__all__ = ["Finding", "LintReport", "lint", "lint_tflite", "register_check"]

from keras_mot.lint import pruning_checks as _pruning_checks  # noqa: E402,F401  (registers)
from keras_mot.lint import serving_checks as _serving_checks  # noqa: E402,F401  (registers)
