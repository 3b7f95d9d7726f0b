"""Conformance: the lint's verdict equals the real converter's, case by case.

For every small model in `cases.CASES` the TF 2.21 converter runs twice: float (builtins, then
builtins + Select TF ops) and full int8 (representative data, `TFLITE_BUILTINS_INT8`, then the
tensor dtypes of every compute op are read). The lint must predict both verdicts, every error
must name a layer of the model, and `lint_tflite` on the int8 result must agree.
Risky cases (a calibrator crash, docs/converter_facts.md §7) convert in a subprocess.
"""

import json
import os
import subprocess
import sys

import pytest

from keras_mot.lint import lint, lint_tflite
from tests.lint import converter
from tests.lint.cases import CASES

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _layer_paths(model):
    paths, stack = {model.name}, [("", model)]
    while stack:
        prefix, layer = stack.pop()
        for sub in getattr(layer, "layers", []) or []:
            path = f"{prefix}{sub.name}"
            paths.add(path)
            stack.append((path + "/", sub))
    return paths


def _converter_verdicts_in_subprocess(case):
    code = (
        "import json, sys\n"
        "from tests.lint.cases import CASES\n"
        "from tests.lint import converter\n"
        f"case = [c for c in CASES if c.name == {case.name!r}][0]\n"
        "model = case.build()\n"
        "print('FLOAT', json.dumps(converter.float_verdict(model)[0]), flush=True)\n"
        "print('INT8', json.dumps(converter.int8_verdict(model, case.int_input)[0]), flush=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=_ROOT, capture_output=True, text=True, timeout=300
    )
    lines = dict(
        line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("FLOAT ", "INT8 "))
    )
    float_v = json.loads(lines["FLOAT"])
    # A crash (e.g. SIGSEGV in the calibrator) means the integer conversion fails.
    int8_v = json.loads(lines["INT8"]) if "INT8" in lines else "fails"
    return float_v, int8_v


def _params():
    out = []
    for case in CASES:
        marks = [pytest.mark.slow] if case.slow else []
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


def test_suite_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", _params())
def test_lint_matches_converter(case):
    model = case.build()
    lint_float = lint(model, "tflite")
    lint_int8 = lint(model, "tflite_int8")

    if case.risky:
        conv_float, conv_int8 = _converter_verdicts_in_subprocess(case)
        data = None
    else:
        conv_float, _ = converter.float_verdict(model)
        conv_int8, floats, data = converter.int8_verdict(model, case.int_input)

    assert lint_float.verdict == conv_float, lint_float.format_table()
    assert lint_int8.verdict == conv_int8, lint_int8.format_table()

    paths = _layer_paths(model)
    for report in (lint_float, lint_int8):
        for finding in report.errors:
            # Paths are call paths: the first part is a layer of the model (inner parts may be
            # sub-layers that `.layers` does not list, e.g. Bidirectional's forward_gru).
            assert finding.layer.split("/")[0] in paths, finding
            assert finding.op and finding.fix, finding

    if data is not None:
        after = lint_tflite(data, "tflite_int8", model=model)
        assert after.verdict == conv_int8, after.format_table()
        if conv_int8 == "float_fallback":
            predicted = {f.layer for f in lint_int8.findings if f.code == "float-fallback"}
            observed = {f.layer for f in after.findings if f.code == "float-fallback"}
            assert observed <= predicted | {""}, (observed, predicted)
