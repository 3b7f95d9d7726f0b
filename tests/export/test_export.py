"""mot.export end to end: real converter, real interpreter, files on disk."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mot as mot
from keras_mot.export import plot as plot_mod

from .conftest import compile_model


def _files(directory):
    return sorted(os.listdir(directory))


def test_qat_int8_export_passes_parity_and_writes_report(tmp_path, qat_model, digits):
    _, _, xv, yv = digits
    out = tmp_path / "int8"
    result = mot.export(qat_model, out, representative_data=(xv, yv))
    assert result.target == "tflite_int8"  # the prepared model's own target
    assert result.ok, result.report["findings"]
    assert result.verdict == "full_int8"
    assert result.float_compute_ops == []
    p = result.parity
    assert p.mode == "qat_int8" and p.examples == len(xv)
    assert p.agreement >= 0.97
    assert p.max_diff_steps is None or p.max_diff_steps <= 4
    assert abs(p.tflite_accuracy - p.keras_accuracy) <= 0.03
    for name in ("saved_model", "model.tflite", "report.json", "report.md"):
        assert name in _files(out)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temp dir left
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] and report["mode"] == "qat_int8"
    assert report["runtime"] == "ai_edge_litert" and "runtime ai_edge_litert" in result.summary()
    assert report["sizes"]["tflite"]["raw"] == os.path.getsize(out / "model.tflite")
    assert 0 < report["sizes"]["tflite"]["gzip"] < report["sizes"]["tflite"]["raw"] * 1.1
    assert {r["op"] for r in report["ops"]} >= {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    assert all(r["inputs"] == "int8" for r in report["ops"] if r["op"] == "CONV_2D")
    layers = {row["layer"]: row for row in report["layers"]}
    assert all(0 < row["quant_error"] < 0.05 for row in layers.values())
    md = (out / "report.md").read_text()
    assert "## Parity" in md and "CONV_2D" in md and "quant. error" in md
    assert "Runtime: LiteRT interpreter" in md
    assert "plot" in result.paths  # matplotlib is a dependency
    # The SavedModel serves the same function as the stripped Keras model.
    served = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"]
    y_sm = list(served(tf.constant(xv[:16])).values())[0].numpy()
    np.testing.assert_allclose(y_sm, qat_model.predict(xv[:16], verbose=0), atol=1e-4)


def test_int8_io(tmp_path, qat_model, digits):
    _, _, xv, yv = digits
    result = mot.export(
        qat_model,
        tmp_path / "io",
        representative_data=(xv, yv),
        formats=("tflite",),
        input_type="int8",
        output_type="int8",
    )
    assert result.ok and "saved_model" not in result.paths
    from keras_mot.export.runtime import interpreter

    details = interpreter(open(result.tflite_path, "rb").read())
    assert details.get_input_details()[0]["dtype"] == np.int8
    assert details.get_output_details()[0]["dtype"] == np.int8
    assert result.parity.agreement >= 0.97


@pytest.mark.parametrize(
    "target", ["tflite", "tflite_float16", "tflite_dynamic", "tflite_int8", "tflite_int16x8"]
)
def test_float_model_targets(tmp_path, float_model, digits, target):
    _, _, xv, yv = digits
    result = mot.export(
        float_model, tmp_path / target, target=target, formats=("tflite",), representative_data=(xv, yv)
    )
    assert result.ok, (result.parity, result.findings)
    expected = {
        "tflite": "float",
        "tflite_float16": "float16",
        "tflite_dynamic": "dynamic",
        "tflite_int8": "ptq_int8",
        "tflite_int16x8": "int16x8",
    }[target]
    assert result.parity.mode == expected
    if target in ("tflite", "tflite_float16"):
        assert result.parity.agreement == 1.0
    if target == "tflite_int8":
        assert result.float_compute_ops == []


def test_qat_model_to_float_target_compares_with_stripped_float(tmp_path, qat_model, digits):
    _, _, xv, yv = digits
    result = mot.export(
        qat_model, tmp_path / "f", target="tflite", formats=("tflite",), representative_data=(xv, yv)
    )
    assert result.ok and result.parity.max_abs_diff < 1e-3
    assert any("stripped" in n for n in result.report["notes"])


def test_sparse_fc_export_verifies_blocks(tmp_path, digits):
    x, y, xv, yv = digits
    inputs = keras.Input((64,))
    h = keras.layers.Dense(64, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10)(h))
    pruned = mot.prune(model, "tflite_sparse_fc", schedule=mot.ConstantSparsity(0.75, 0, frequency=1))
    compile_model(pruned)
    pruned.fit(x.reshape(-1, 64), y, epochs=1, batch_size=64, verbose=0, callbacks=mot.callbacks(pruned))
    result = mot.export(pruned, tmp_path / "sparse", representative_data=(xv.reshape(-1, 64), yv))
    assert result.target == "tflite_sparse_fc" and result.ok, result.findings
    storage = result.report["sparse_storage"]
    assert any(w["stored"] == "block_sparse" and w["block_size"] == [1, 4] for w in storage["weights"])
    assert "block-sparse-ok" in {f.code for f in result.findings}
    assert result.report["overall_sparsity"] > 0.7
    assert "Sparse weight storage" in (tmp_path / "sparse" / "report.md").read_text()


class _Erfinv(keras.layers.Layer):
    def call(self, x):
        return keras.ops.erfinv(keras.ops.tanh(x) * 0.5)


@pytest.mark.parametrize("case", ["bad_target", "empty_data", "unconvertible", "no_calibration"])
def test_failed_export_leaves_nothing(tmp_path, float_model, case):
    inputs = keras.Input((8,))
    erfinv_model = keras.Model(inputs, _Erfinv()(keras.layers.Dense(4)(inputs)))
    model, kwargs, words = {
        "bad_target": (float_model, dict(target="tflite_in8"), "tflite_in8"),
        "empty_data": (float_model, dict(representative_data=np.zeros((0, 8, 8, 1), "float32")), "empty"),
        "unconvertible": (erfinv_model, dict(target="tflite"), "Erfinv"),
        "no_calibration": (float_model, dict(target="tflite_int8"), "representative_data"),
    }[case]
    out = tmp_path / "new_parent" / "out"
    with pytest.raises(mot.ExportError, match=words):
        mot.export(model, out, **kwargs)
    assert os.listdir(tmp_path) == []  # neither the directory nor its new parent


def test_refuses_to_replace_a_foreign_directory(tmp_path, float_model, digits):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(mot.ExportError, match="not a keras_mot export"):
        mot.export(float_model, tmp_path, representative_data=digits[2])
    assert _files(tmp_path) == ["mine.txt"]


def test_overwrites_previous_export_only_when_allowed(tmp_path, float_model, digits):
    out = tmp_path / "out"
    mot.export(float_model, out, formats=("tflite",), representative_data=digits[2][:32])
    first = (out / "report.json").stat().st_mtime_ns
    mot.export(float_model, out, formats=("tflite",), representative_data=digits[2][:32])
    assert (out / "report.json").stat().st_mtime_ns != first
    with pytest.raises(mot.ExportError, match="overwrite"):
        mot.export(float_model, out, formats=("tflite",), overwrite=False)
    assert _files(tmp_path) == ["out"]


def test_float_target_rejects_integer_io(tmp_path, float_model):
    with pytest.raises(mot.ExportError, match="float32"):
        mot.export(float_model, tmp_path / "x", target="tflite", input_type="int8")
    assert os.listdir(tmp_path) == []


def test_export_on_train_end_callback(tmp_path, digits):
    x, y, xv, yv = digits
    from .conftest import small_cnn

    model = mot.quantize(small_cnn(), "tflite_int8", calibration_data=x[:64])
    compile_model(model)
    cb = mot.callbacks.ExportOnTrainEnd(tmp_path / "cb", representative_data=(xv, yv), formats=("tflite",))
    model.fit(x[:256], y[:256], epochs=1, batch_size=64, verbose=0, callbacks=mot.callbacks(model) + [cb])
    assert cb.result is not None and cb.result.ok
    assert (tmp_path / "cb" / "model.tflite").exists()


def test_plot_is_optional(tmp_path, monkeypatch, qat_model, digits):
    monkeypatch.setattr(plot_mod, "available", lambda: False)
    result = mot.export(qat_model, tmp_path / "p", formats=("tflite",), representative_data=digits[2][:32])
    assert plot_mod.SKIPPED_NOTE in result.report["notes"]
    assert "plot" not in result.paths


def test_plot_written_with_matplotlib(tmp_path, qat_model, digits):
    pytest.importorskip("matplotlib")
    result = mot.export(qat_model, tmp_path / "p", formats=("tflite",), representative_data=digits[2][:32])
    assert os.path.getsize(result.paths["plot"]) > 1000
