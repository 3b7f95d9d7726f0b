"""Op-compatibility lint: findings about what a model becomes on a deployment target."""

from keras_mot.lint.finding import Finding, LintReport

__all__ = ["Finding", "LintReport"]
