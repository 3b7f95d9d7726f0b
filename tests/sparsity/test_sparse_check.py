"""The flatbuffer checker on models converted by the real TFLite converter."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mot.export.sparse_check import inspect_sparsity, verify
from keras_mot.sparsity import Block, NofM, Unstructured


def _mlp(tools, pattern, sparsity=0.8):
    keras.utils.set_random_seed(0)
    inp = keras.Input((64,))
    x = keras.layers.Dense(64, activation="relu", name="fc1")(inp)
    out = keras.layers.Dense(32, name="fc2")(x)
    model = keras.Model(inp, out)
    for name in ("fc1", "fc2"):
        tools.apply_pattern(model.get_layer(name), pattern, sparsity, "dense")
    return model


def _codes(findings, severity=None):
    return sorted(f.code for f in findings if severity is None or f.severity == severity)


def test_float_1x4_blocks_become_fc_v8_block_4(tools):
    tfl = tools.convert(_mlp(tools, Block(4, 1)))
    report = inspect_sparsity(tfl)
    assert report.versions("FULLY_CONNECTED") == (8, 8) and report.densify_ops == 0
    for w in report.weights:
        assert (w.stored, w.block_size, w.block_map, w.via_densify) == ("block_sparse", (1, 4), (1,), False)
        assert w.zeros_fraction == pytest.approx(0.8, abs=0.01)
    assert _codes(verify(tfl, "tflite_sparse_fc")) == ["block-sparse-ok"] * 2
    assert tools.litert_runs(tfl) is None


def test_wrong_block_orientation_falls_back_to_densify(tools):
    tfl = tools.convert(_mlp(tools, Block(1, 4)))
    report = inspect_sparsity(tfl)
    assert report.densify_ops == 2 and report.versions("FULLY_CONNECTED") == (1, 1)
    assert all(w.stored == "random_sparse" and w.via_densify for w in report.weights)
    findings = verify(tfl, "tflite_sparse_fc")
    assert _codes(findings) == ["densify-fallback"] * 2
    assert "Block(4, 1)" in findings[0].fix and findings[0].layer
    assert tools.litert_runs(tfl) is None  # float DENSIFY loads


def test_int8_1x16_blocks_and_int8_densify_load_failure(tools):
    tfl = tools.convert(_mlp(tools, Block(16, 1)), mode="int8")
    report = inspect_sparsity(tfl)
    assert [(w.dtype, w.stored, w.block_size) for w in report.weights] == [
        ("int8", "block_sparse", (1, 16))
    ] * 2
    assert _codes(verify(tfl, "tflite_sparse_fc_int8")) == (
        ["block-sparse-ok"] * 2 + ["int8-sparse-fc-slower"] * 2
    )
    assert tools.litert_runs(tfl) is None
    bad = tools.convert(_mlp(tools, Block(4, 1)), mode="int8")  # 1x4 is not 1x16-exact
    assert "int8-densify-load-failure" in _codes(verify(bad, "tflite_sparse_fc_int8"), "error")
    assert "failed to prepare" in tools.litert_runs(bad)  # the finding tells the truth


def test_nvidia_2x4_checks_tflite_ohwi_input_channels(tools):
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 8))
    x = keras.layers.Conv2D(16, 3, name="conv")(inp)
    model = keras.Model(inp, keras.layers.Dense(8, name="fc")(keras.layers.Flatten()(x)))
    tools.apply_pattern(model.get_layer("conv"), NofM(2, 4), 0.5, "conv")
    tools.apply_pattern(model.get_layer("fc"), NofM(2, 4), 0.5, "dense")
    tfl = tf.lite.TFLiteConverter.from_keras_model(model).convert()  # stored dense
    assert _codes(verify(tfl, "nvidia_2x4")) == ["nofm-ok", "nofm-ok"]
    model.get_layer("conv").set_weights([np.ones((3, 3, 8, 16), "float32"), np.zeros(16)])
    tfl = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    assert _codes(verify(tfl, "nvidia_2x4")) == ["nofm-ok", "nofm-violated"]


def test_generic_reports_zero_fraction(tools):
    tfl = tools.convert(_mlp(tools, Unstructured(), sparsity=0.5))
    report = inspect_sparsity(tfl)
    assert all(w.zeros_fraction == pytest.approx(0.5, abs=0.01) for w in report.weights)
    assert _codes(verify(tfl, "generic")) == ["zeros-ok"] * 2
    assert report.to_dict()["weights"][0]["op"] == "FULLY_CONNECTED"
