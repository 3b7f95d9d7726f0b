"""The debugger's tools: TensorBoard callback during QAT, CLI, chart, Model Explorer node data."""

import glob
import json
import os

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.debug.views import node_data, plot_report, write_node_data


def _small():
    keras.utils.set_random_seed(2)
    i = keras.Input((8,))
    h = keras.layers.Dense(16, activation="relu", name="d1")(i)
    model = keras.Model(i, keras.layers.Dense(3, name="d2")(h))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8)).astype("float32")
    return model, x, rng.integers(0, 3, 128)


def test_callback_writes_per_layer_error_during_qat(tmp_path):
    import tensorflow as tf

    model, x, y = _small()
    qmodel = mot.quantize(model, calibration_data=x)
    qmodel.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    cb = mot.callbacks.QuantizationDebug(x[:32], every_n_steps=2, log_dir=str(tmp_path))
    qmodel.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[cb])
    assert [step for step, _ in cb.history] == [2, 4]
    assert set(cb.history[-1][1]) >= {"d1", "d2"}
    tags = set()
    for f in glob.glob(str(tmp_path / "events.out.tfevents*")):
        for event in tf.compat.v1.train.summary_iterator(f):
            tags.update(v.tag for v in event.summary.value)
    assert {"quant_error/d1", "quant_error/d2", "quant_agreement"} <= tags
    with pytest.raises(mot.KerasMotError, match="every_n_steps"):
        mot.callbacks.QuantizationDebug(x, every_n_steps=0)


def test_chart_and_model_explorer_node_data(tmp_path):
    model, x, _ = _small()
    report = mot.debug(model, x)
    assert plot_report(report, str(tmp_path / "debug.png")) is None
    assert os.path.getsize(tmp_path / "debug.png") > 1000
    data = node_data(report)
    assert set(data["main"]["results"]) >= {"d1", "d2"}
    assert all(isinstance(v["value"], float) for v in data["main"]["results"].values())
    write_node_data(report, str(tmp_path / "nd.json"), graph_id="g")
    assert json.load(open(tmp_path / "nd.json"))["g"]["results"]["d1"]["value"] > 0


def test_cli_debug(tmp_path):
    from keras_mot.cli import main

    model, x, y = _small()
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "d.npz", x=x, y=y)
    out = tmp_path / "out"
    code = main(
        [
            "debug",
            str(tmp_path / "m.keras"),
            "--data",
            str(tmp_path / "d.npz"),
            "--out",
            str(out),
            "--suggest",
            "0.05",
        ]
    )
    assert code == 0
    assert {"debug.json", "debug.md", "debug.png", "debug_node_data.json"} <= set(os.listdir(out))
    assert json.load(open(out / "debug.json"))["layers"][0]["path"] in ("d1", "d2", "quantize_input_0")
    assert main(["debug", str(tmp_path / "missing.keras"), "--data", str(tmp_path / "d.npz")]) == 2
