"""The `keras-mot` command: export and lint on a saved .keras, train on a CPU config."""

import json
import os

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.cli import main
from keras_mot.garden.digits import load_digits

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "model_garden_configs")


@pytest.fixture(scope="module")
def saved_qat(tmp_path_factory):
    """A small QAT model saved as .keras, and validation data saved as .npz."""
    x, y = load_digits("train", channels=1)
    xv, yv = load_digits("validation", channels=1)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = mot.quantize(
        keras.Model(inputs, keras.layers.Dense(10)(h)), "tflite_int8", calibration_data=x[:64]
    )
    model.compile(
        optimizer="adam", lint="off", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    root = tmp_path_factory.mktemp("cli")
    model.save(root / "model.keras")
    np.savez(root / "val.npz", x=xv, y=yv)
    return root


def test_export_saved_model(saved_qat, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "export",
            str(saved_qat / "model.keras"),
            str(out),
            "--data",
            str(saved_qat / "val.npz"),
            "--input-type",
            "int8",
        ]
    )
    assert code == 0
    assert "OK" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["target"] == "tflite_int8"  # the saved model's own target
    assert report["input_type"] == "int8" and report["parity"]["agreement"] >= 0.97
    assert (out / "saved_model" / "saved_model.pb").exists()


def test_export_errors_leave_nothing(saved_qat, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", str(saved_qat / "model.keras"), str(out), "--target", "nope"]) == 2
    assert "Unknown deployment target" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.keras"), str(out)]) == 2
    assert (
        main(["export", str(saved_qat / "model.keras"), str(out), "--data", str(tmp_path / "none.npz")]) == 2
    )
    assert os.listdir(tmp_path) == []


def test_lint_is_wired(saved_qat, capsys):
    assert main(["lint", str(saved_qat / "model.keras"), "--target", "tflite_int8"]) == 0
    assert "full_int8" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "train" in capsys.readouterr().out


def test_train_rejects_unknown_override(tmp_path, capsys):
    code = main(
        [
            "train",
            os.path.join(CONFIGS, "mobilenetv2_qat_cpu.yaml"),
            "--out",
            str(tmp_path / "run"),
            "--set",
            "trainer.train_stepz=1",
        ]
    )
    assert code == 2 and "train_steps" in capsys.readouterr().err


@pytest.mark.slow  # ~60 s: MobileNetV2 float + QAT steps, two conversions, latency
def test_train_mobilenetv2_qat_cpu_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            os.path.join(CONFIGS, "mobilenetv2_qat_cpu.yaml"),
            "--out",
            str(out),
            "--quiet",
            "--set",
            "trainer.train_steps=2",
            "--set",
            "keras_mot.float_train_steps=2",
            "--set",
            "runtime.run_eagerly=true",
            "--set",
            "trainer.steps_per_loop=1",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "| tflite tflite_int8 (qat_int8) |" in printed and "latency" in printed
    results = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in results["rows"]] == [
        "keras float",
        "tflite float (reference)",
        "keras qat",
        "tflite tflite_int8 (qat_int8)",
    ]
    int8 = results["rows"][-1]
    assert int8["ok"] and int8["agreement"] >= 0.97 and int8["latency_ms"] > 0
    assert results["validation_examples"] > 200  # the real validation split
    report = json.loads((out / "export" / "tflite_int8" / "report.json").read_text())
    assert report["float_compute_ops"] == [] and report["parity"]["ok"]
    for path in (
        "config.yaml",
        "checkpoints/float.keras",
        "checkpoints/qat.keras",
        "export/tflite_int8/model.tflite",
        "results.md",
    ):
        assert (out / path).exists(), path
    assert os.listdir(out / "logs")
