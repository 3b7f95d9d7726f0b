"""mot.debug: per-layer quantization error on a planted bad layer, nested / dict models,
QAT models, bad input; selective export verified with the converter and LiteRT."""

import json
import os

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot import graph
from keras_mot.errors import KerasMotError
from tests.debug.planted import planted_model


@pytest.fixture(scope="module")
def planted():
    return planted_model()


def _float_accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def test_planted_layer_is_named_with_its_reason(planted):
    model, _, _, x_test, y_test = planted
    report = mot.debug(model, x_test, target="tflite_int8", labels=y_test, max_examples=1024)
    assert report.worst(1) == ["spiky"]
    row = report.row("spiky")
    assert row.range_utilisation < 0.05 and any("range utilisation" in why for why in row.why)
    # the converter quantizes post-training FULLY_CONNECTED weights per channel: the 2000x
    # channel gets its own scale; one per-tensor scale for channels 2000x apart would not
    assert row.weight_error < 0.05
    per_tensor = mot.debug(model, x_test[:256], target="tflite_int8", scheme="int8_per_tensor")
    assert per_tensor.row("spiky").weight_error > 0.5
    assert report.row("hidden").range_utilisation > 0.3 and not report.row("hidden").why
    assert report.float_metric - report.quantized_metric > 0.2  # the plant really hurts
    for r in report.layers:
        assert r.elements > 0 and r.rmse >= 0 and np.isfinite(r.max_abs_error)
    d = json.loads(report.to_json())
    assert d["layers"][0]["path"] == "spiky" and d["examples"] == 1024
    md = report.to_markdown()
    assert "| spiky | Dense |" in md and "range utilisation" in md


def test_suggested_recipe_meets_budget_in_the_converted_model(planted, tmp_path):
    model, _, _, x_test, y_test = planted
    report = mot.debug(model, x_test, labels=y_test, max_examples=1024)
    recipe = report.suggest(max_accuracy_drop=0.003)
    kept = [r.select for r in recipe.rules if r.quantize is None]
    assert kept[0] == "spiky" and 1 <= len(kept) <= 2
    assert report.suggest_history[-1][1] <= 0.003
    qmodel = mot.quantize(model, recipe=recipe, calibration_data=x_test)  # quantize takes it
    layers = dict(graph.iter_layers(qmodel))
    assert all(not isinstance(layers[k], mot.Wrapper) or not layers[k].quantize for k in kept)
    assert layers["hidden"].quantize
    result = mot.export(
        model,
        str(tmp_path / "out"),
        target="tflite_int8",
        representative_data=(x_test, y_test),
        recipe=recipe,
        formats=("tflite",),
        max_examples=None,
        plot=False,
    )
    assert result.ok, result.report["findings"]
    assert result.report["kept_float"] == kept
    float_acc = _float_accuracy(model, x_test, y_test)
    assert float_acc - result.parity.tflite_accuracy <= 0.003


def test_export_exclude_keeps_layer_float(planted, tmp_path):
    model, _, _, x_test, y_test = planted
    result = mot.export(
        model,
        str(tmp_path / "out"),
        target="tflite_int8",
        representative_data=x_test[:256],
        exclude=["spiky"],
        formats=("tflite",),
    )
    from keras_mot.export.inspect import op_list

    assert os.path.getsize(result.paths["debug_plot"]) > 1000  # the per-layer error chart

    ops = op_list(open(result.tflite_path, "rb").read())
    assert result.report["kept_float"] == ["spiky"]
    assert [o["op"] for o in ops].count("DEQUANTIZE") >= 1
    assert any(o["op"] == "FULLY_CONNECTED" and o["inputs"][0] == "int8" for o in ops)


def test_export_exclude_runs_the_layer_float_in_tflite(planted, tmp_path):
    # spiky sits between two quantized layers; it still runs float, and only it.
    model, _, _, x_test, _ = planted
    result = mot.export(
        model,
        str(tmp_path / "out"),
        target="tflite_int8",
        representative_data=x_test[:256],
        exclude=["spiky"],
        formats=("tflite",),
        plot=False,
    )
    from keras_mot.export.inspect import op_list

    ops = op_list(open(result.tflite_path, "rb").read())
    fcs = [o for o in ops if o["op"] == "FULLY_CONNECTED"]
    assert [o["inputs"][0] for o in fcs] == ["int8", "float32", "int8"], ops
    assert "spiky" in fcs[1]["output_names"][0]
    names = [o["op"] for o in ops]
    at = names.index("FULLY_CONNECTED", names.index("FULLY_CONNECTED") + 1)
    assert names[at - 1] == "DEQUANTIZE" and names[at + 1] == "QUANTIZE", names
    assert not [f for f in result.findings if f.code == "kept-layer-quantized"], result.findings
    assert result.ok, result.report["findings"]  # parity with the simulation passed


def test_converter_private_switches_exist():
    # fails loudly when a TensorFlow upgrade removes what selective export relies on
    from keras_mot.export import converter_private

    converter_private.check()


def _nested_dict_model():
    keras.utils.set_random_seed(1)
    inner_in = keras.Input((8,))
    h = keras.layers.Dense(8, name="d_in")(inner_in)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.ReLU(name="r")(h)
    block = keras.Model(inner_in, h, name="block")
    a, b = keras.Input((8,), name="a"), keras.Input((8,), name="b")
    x = keras.layers.Add(name="add")([block(a), b])
    return keras.Model({"a": a, "b": b}, keras.layers.Dense(3, name="head")(x))


def test_nested_model_dict_inputs_and_qat_model():
    model = _nested_dict_model()
    rng = np.random.default_rng(0)
    data = {"a": rng.normal(size=(64, 8)).astype("float32"), "b": rng.normal(size=(64, 8)).astype("float32")}
    report = mot.debug(model, data)
    paths = {r.path for r in report.layers}
    assert {"block/d_in", "add", "head"} <= paths and report.mode == "post_training"
    assert report.row("block/d_in").fused == ("bn", "relu")
    assert report.agreement > 0.9
    qat = mot.quantize(model, calibration_data=data)
    qat_report = mot.debug(qat, data)
    assert qat_report.mode == "qat" and {r.path for r in qat_report.layers} == paths
    with pytest.raises(KerasMotError, match="prepared model"):
        qat_report.suggest()
    with pytest.raises(KerasMotError, match="already prepared"):
        mot.debug(qat, data, exclude=["head"])


def test_bad_input_gives_clear_errors():
    model = _nested_dict_model()
    good = {"a": np.zeros((4, 8), "float32"), "b": np.zeros((4, 8), "float32")}
    with pytest.raises(KerasMotError, match="keys"):
        mot.debug(model, {"a": good["a"]})
    bad = dict(good, b=np.full((4, 8), np.nan, "float32"))
    with pytest.raises(KerasMotError, match="NaN|non-finite|nan"):
        mot.debug(model, bad)
    with pytest.raises(KerasMotError, match="no quantized layer"):
        mot.debug(model, good, exclude=["re:.*"])
    with pytest.raises(KerasMotError, match="float models"):
        mot.debug(model, good, target="tflite")
    with pytest.raises(KerasMotError, match="labels"):
        mot.debug(model, good, labels=[0])


def test_per_tensor_weights_spanning_orders_of_magnitude():
    keras.utils.set_random_seed(3)
    i = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="wide")(i)
    model = keras.Model(i, keras.layers.Conv2D(4, 1, name="out")(h))
    k, b = model.get_layer("wide").get_weights()
    k[..., 0] *= 1000.0  # channel 0 three orders of magnitude above the others
    model.get_layer("wide").set_weights([k, b])
    x = np.random.default_rng(0).normal(size=(32, 8, 8, 3)).astype("float32")
    per_tensor = mot.debug(model, x, scheme="int8_per_tensor").row("wide")
    assert per_tensor.weight_error > 0.5 and per_tensor.weight_error_channel != 0
    assert any(why.startswith("weights: output channel") for why in per_tensor.why)
    assert mot.debug(model, x).row("wide").weight_error < 0.05  # per-channel scales fix it
