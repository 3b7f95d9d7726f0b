"""`ExportResult`: what `mot.export` returns (files, parity, findings, sizes, report).

Example:
    >>> result = mot.export(qat_model, "out/", representative_data=(x_val, y_val))
    >>> result.ok, result.summary()
"""

import dataclasses
from typing import Optional

from keras_mot.export.verify import Parity


@dataclasses.dataclass
class ExportResult:
    """What `export` wrote and what it found.

    Attributes:
        directory: the export directory.
        target: target name.
        paths: `{"saved_model", "tflite", "report_json", "report_md", "plot"}` -> path (those
            written).
        parity: `Parity` (`None` without representative data).
        findings: `Finding`s from the converted-model lint, sparsity check and parity.
        sizes: `{"tflite": {"raw", "gzip"}, "saved_model": {"raw"}}` in bytes.
        float_compute_ops: float compute ops left in an integer model (`None` for float targets).
        verdict: the lint verdict of the converted model (e.g. `"full_int8"`).
        report: the full report dict (as in `report.json`).
    """

    directory: str
    target: str
    paths: dict
    parity: Optional[Parity]
    findings: tuple
    sizes: dict
    float_compute_ops: Optional[list]
    verdict: str
    report: dict

    @property
    def ok(self):
        """No error finding, parity holds (when checked), no float compute op (integer target)."""
        return self.report["ok"]

    @property
    def tflite_path(self):
        """Path of `model.tflite` (or `None` when not written)."""
        return self.paths.get("tflite")

    def summary(self):
        """One line: target, ok, parity, size, and the runtime that ran the `.tflite`."""
        size = self.sizes.get("tflite", {}).get("raw")
        parity = self.parity.summary() if self.parity else "parity not checked"
        runtime = self.report.get("runtime") or "not run"
        return (
            f"keras_mot export [{self.target}] -> {self.directory}: "
            f"{'OK' if self.ok else 'NOT OK'}; {parity}"
            + (f"; model.tflite {size:,} bytes" if size else "")
            + f"; runtime {runtime}"
        )
