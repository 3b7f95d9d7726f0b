"""`Finding` and `LintReport`: what the lint, pruning, export and calibration checks tell the user.

A neutral module (it imports nothing of keras_mot) so that every part can report findings.

Example:
    >>> f = Finding("dense_1", "FULLY_CONNECTED", "warning", "Float fallback.", code="float-fallback")
    >>> f.to_dict()["severity"]
    'warning'
"""

import dataclasses
import json
from typing import Optional, Tuple

SEVERITIES = ("error", "warning", "info")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One statement about one layer.

    Attributes:
        layer: Keras layer path, e.g. `"backbone/block_1_expand"` (`""` for the whole model).
        op: the TF or TFLite op type that caused it, if any (e.g. `"Erf"`, `"NEG"`).
        severity: `"error"`, `"warning"` or `"info"`.
        message: what is the matter.
        fix: a concrete change that removes the finding (may be `None` for info).
        code: a stable short identifier, e.g. `"no-int8-kernel"`, usable in filters.
    """

    layer: str
    op: Optional[str]
    severity: str
    message: str
    fix: Optional[str] = None
    code: str = ""

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"Finding.severity must be one of {SEVERITIES}. Received: {self.severity!r}.")

    def to_dict(self):
        """Plain-dict form (for JSON reports)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class LintReport:
    """The result of `mot.lint`: a verdict plus findings.

    Attributes:
        target: the target name the model was checked against.
        verdict: for float targets `"builtins"`, `"select_tf_ops"` or `"unconvertible"`;
            for integer targets `"full_int8"`, `"float_fallback"` or `"fails"`.
        findings: the `Finding`s, errors first.
        coverage: for a quantization-aware model on an integer target, the share of
            multiply-accumulates its quantized layers cover (`None` otherwise).
        coverage_line: the one-line coverage summary (`""` when `coverage` is `None`).
    """

    target: str
    verdict: str
    findings: Tuple[Finding, ...] = ()
    coverage: Optional[float] = None
    coverage_line: str = ""

    @property
    def errors(self):
        """Findings with severity `"error"`."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self):
        """Findings with severity `"warning"`."""
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self):
        """True when there is no error finding."""
        return not self.errors

    def to_dict(self):
        """Plain-dict form."""
        return {
            "target": self.target,
            "verdict": self.verdict,
            "coverage": self.coverage,
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, **kwargs):
        """JSON text of `to_dict()`."""
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self):
        """One line: target, verdict and counts."""
        return (
            f"keras_mot lint [{self.target}]: {self.verdict} — {len(self.errors)} error(s), "
            f"{len(self.warnings)} warning(s), "
            f"{len(self.findings) - len(self.errors) - len(self.warnings)} info"
        )

    def format_table(self, min_severity="info"):
        """A compact text table of the findings at or above `min_severity`."""
        keep = SEVERITIES[: SEVERITIES.index(min_severity) + 1]
        rows = [f for f in self.findings if f.severity in keep]
        lines = [self.summary()]
        if rows:
            w_layer = min(40, max(len("layer"), *(len(f.layer) for f in rows)))
            w_op = min(24, max(len("op"), *(len(f.op or "") for f in rows)))
            lines.append(f"  {'severity':8} {'layer':{w_layer}} {'op':{w_op}} message")
            for f in rows:
                text = f.message + (f" Fix: {f.fix}" if f.fix else "")
                lines.append(
                    f"  {f.severity:8} {f.layer[:w_layer]:{w_layer}} {(f.op or '')[:w_op]:{w_op}} {text}"
                )
        return "\n".join(lines)

    def __str__(self):
        return self.format_table()
