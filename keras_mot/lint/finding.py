"""Compatibility alias: `Finding` and `LintReport` live in `keras_mot.findings`.

Example:
    >>> from keras_mot.lint.finding import Finding   # same class as keras_mot.findings.Finding
"""

from keras_mot.findings import SEVERITIES, Finding, LintReport

__all__ = ["SEVERITIES", "Finding", "LintReport"]
