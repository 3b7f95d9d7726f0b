"""mot.debug against the deployed model: the interpreter's own int8 tensors (tflite=...) and
TensorFlow's QuantizationDebugger on the same float model and data."""

import csv
import io

import keras
import numpy as np
import pytest

import keras_mot as mot


def _cnn():
    keras.utils.set_random_seed(0)
    i = keras.Input((12, 12, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", name="c1")(i)
    h = keras.layers.BatchNormalization(name="bn1")(h)
    h = keras.layers.ReLU(name="r1")(h)
    h = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c2")(h)
    h = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(h)
    h = keras.layers.Conv2D(16, 1, name="pw")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    model = keras.Model(i, keras.layers.Dense(5, name="head")(h))
    rng = np.random.default_rng(0)
    model.get_layer("bn1").set_weights(
        [rng.uniform(0.5, 2, 8), rng.normal(size=8), 0.1 * rng.normal(size=8), rng.uniform(0.5, 2, 8)]
    )
    return model, rng.normal(size=(64, 12, 12, 3)).astype("float32")


def _spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def test_simulation_matches_the_interpreters_tensors(tmp_path):
    model, x = _cnn()
    result = mot.export(
        model,
        str(tmp_path / "out"),
        target="tflite_int8",
        representative_data=x,
        formats=("tflite",),
        plot=False,
    )
    deployed = mot.debug(model, x, tflite=result.tflite_path)
    simulated = mot.debug(model, x)
    assert deployed.mode == "tflite" and len(deployed.layers) >= 4
    sim = {r.path: r for r in simulated.layers}
    sim["r1"] = sim["c1"]  # c1 + bn1 + r1 are one int8 tensor, named after the last
    for row in deployed.layers:
        assert row.scale == pytest.approx(sim[row.path].scale, rel=0.01)
        assert row.rmse_over_scale == pytest.approx(sim[row.path].rmse_over_scale, rel=0.1)
        # the op's own error: its fused float layers on its dequantized int8 input
        assert row.own_rmse_over_scale == pytest.approx(sim[row.path].own_rmse_over_scale, rel=0.1)
    assert "head" in {r.path for r in deployed.layers}  # the model output tensor (Identity)


@pytest.mark.slow
def test_agrees_with_tensorflow_quantization_debugger():
    import tensorflow as tf

    from keras_mot.export.convert import frozen_concrete_function

    model, x = _cnn()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen_concrete_function(model, 1)])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]

    def data():
        for k in range(len(x)):
            yield [x[k : k + 1]]

    converter.representative_dataset = data
    # the debugger's own instrumented model: the converter's post-training quantization
    # (per-channel FULLY_CONNECTED weights, as mot.debug of a float model simulates)
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=data)
    debugger.run()
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    theirs = {}
    for row in csv.DictReader(io.StringIO(buf.getvalue())):
        name = row["tensor_name"].split(";")[0].split("/")
        layer = name[1].rsplit("_", 1)[0] if len(name) > 1 else "head"
        theirs[layer] = np.sqrt(float(row["mean_squared_error"])) / float(row["scale"])
    ours = mot.debug(model, x)
    rows = {r.path: r for r in ours.layers}
    # TF's float reference of an op is the float op on its dequantized int8 inputs (our `own`
    # error); for the op reading the float model input, that input is the float one (our
    # accumulated error at that layer).
    mine = {k: r.own_rmse_over_scale for k, r in rows.items()}
    mine["r1"] = rows["c1"].rmse_over_scale
    common = [k for k in theirs if k in mine]
    assert len(common) >= 5 and "head" in common, (theirs, mine)
    far = [k for k in common if abs(mine[k] - theirs[k]) > 0.1 * theirs[k]]
    assert not far, (theirs, mine)
    assert _spearman([mine[k] for k in common], [theirs[k] for k in common]) >= 0.9


def test_selective_export_keeps_a_layer_float_between_quantized_ones(tmp_path):
    # dw sits between two quantized layers: its input and output would be int8 tensors; the
    # export keeps it float with DEQUANTIZE before and QUANTIZE after it.
    model, x = _cnn()
    result = mot.export(
        model,
        str(tmp_path / "out"),
        target="tflite_int8",
        representative_data=x,
        exclude=["dw"],
        formats=("tflite",),
        plot=False,
    )
    from keras_mot.export.inspect import op_list

    ops = op_list(open(result.tflite_path, "rb").read())
    names = [o["op"] for o in ops]
    at = names.index("DEPTHWISE_CONV_2D")
    assert ops[at]["inputs"][0] == "float32" and ops[at]["outputs"][0] == "float32", ops
    assert names[at - 1] == "DEQUANTIZE" and names[at + 1] == "QUANTIZE", names
    others = [o for o in ops if o["op"] in ("CONV_2D", "FULLY_CONNECTED", "MEAN")]
    assert others and all(o["inputs"][0] == "int8" for o in others), ops
    assert result.ok and result.report["kept_float"] == ["dw"], result.report["findings"]
    assert not [f for f in result.findings if f.code == "kept-layer-quantized"]
