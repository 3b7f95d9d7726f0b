"""Every script in examples/ runs (fast settings) and does what it says."""

import os
import runpy
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _main(name):
    sys.path.insert(0, os.path.abspath(EXAMPLES))
    try:
        return runpy.run_path(os.path.join(EXAMPLES, f"{name}.py"))["main"]
    finally:
        sys.path.remove(os.path.abspath(EXAMPLES))


def test_every_example_has_a_test():
    scripts = {f[:-3] for f in os.listdir(EXAMPLES) if f.endswith(".py") and not f.startswith("_")}
    tested_elsewhere = {"bert_encoder_qat"}  # tests/attention/test_example.py
    assert scripts - tested_elsewhere == {
        "qat_digits",
        "prune_digits",
        "lint_model",
        "export_model",
        "annotate_model",
    }


def test_qat_digits(tmp_path):
    result = _main("qat_digits")(["--fast", "--out", str(tmp_path / "qat")])
    assert result.ok and result.verdict == "full_int8" and result.parity.agreement >= 0.97
    assert (tmp_path / "qat" / "model.tflite").exists()


def test_prune_digits(tmp_path):
    result = _main("prune_digits")(["--fast", "--out", str(tmp_path / "prune")])
    assert result.ok and result.report["overall_sparsity"] > 0.6
    assert {w["stored"] for w in result.report["sparse_storage"]["weights"]} == {"block_sparse"}


def test_lint_model():
    reports = _main("lint_model")([])
    assert not reports["tflite"].ok  # the LSTM needs Select TF ops
    assert any(f.layer == "lstm" for f in reports["tflite_int8"].errors)


def test_export_model(tmp_path):
    results = _main("export_model")(["--fast", "--out", str(tmp_path)])
    assert all(r.ok for r in results.values())
    sizes = {t: r.sizes["tflite"]["raw"] for t, r in results.items()}
    assert sizes["tflite_float16"] < sizes["tflite"] and sizes["tflite_int8"] < sizes["tflite"]


def test_annotate_model(tmp_path):
    result = _main("annotate_model")(["--fast", "--out", str(tmp_path / "a")])
    layers = {row["layer"]: row for row in result.report["layers"]}
    assert layers["conv2"]["sparsity"] == pytest.approx(0.5)
    assert layers["head"]["quant_error"] is None  # annotated quantize=None
    assert [op["op"] for op in result.float_compute_ops] == ["FULLY_CONNECTED"]
    assert result.parity.ok and not result.ok
