"""`dynamic_int8` exports: a SavedModel that quantizes activations on the fly, TFLite dynamic range."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mot as mot
from keras_mot.errors import KerasMotError
from keras_mot.export.tf_serving import saved_variables
from keras_mot.quantization.weight_only import get_scheme, quantize_matrix
from tests.export.test_tf_serving import _LOAD_WITHOUT_KERAS, train_and_export_tflite_dynamic


def _model():
    ids = keras.Input((6,), dtype="int32", name="ids")
    img = keras.Input((8, 8, 3), name="img")
    e = keras.layers.Embedding(50, 16)(ids)
    e = keras.layers.EinsumDense("btd,dhk->bthk", (6, 2, 8), bias_axes="hk", activation="relu")(e)
    e = keras.layers.Reshape((6 * 16,))(e)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(img)
    h = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu")(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(5)(keras.layers.Concatenate()([e, h]))
    return keras.Model({"ids": ids, "img": img}, out)


def _data(n=64):
    rng = np.random.default_rng(0)
    x = {
        "ids": rng.integers(0, 50, (n, 6)).astype("int32"),
        "img": rng.normal(size=(n, 8, 8, 3)).astype("float32"),
    }
    return x, (x["img"][:, :, :, 0].mean((1, 2)) * 20).astype("int32") % 5


def test_qat_model_serves_with_dynamic_activations_and_parity(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = _data()
    qmodel = mot.quantize(_model(), target="tf_serving", scheme="dynamic_int8")
    qmodel.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(True), lint="off")
    qmodel.fit(x, y, epochs=2, batch_size=16, verbose=0)
    result = mot.export(qmodel, tmp_path / "out", representative_data=(x, y))
    assert result.ok and result.parity.agreement == 1.0 and result.parity.relative_diff < 1e-5
    serving = {s["weight"].split("/")[-2]: s["serving"] for s in result.report["stored_weights"]}
    assert len(serving) == 5 and set(serving.values()) == {"computes on codes"}
    assert result.report["schemes"] == ["dynamic_int8"]
    sm = os.path.join(result.directory, "saved_model")
    assert sum(d == "int8" for _, d, _ in saved_variables(sm)) == 5
    # the graph quantizes activations (Round on the inputs of the four matmul / conv layers)
    fn = tf.saved_model.load(sm).signatures["serving_default"]
    ops = [n.op for f in fn.graph.as_graph_def().library.function for n in f.node_def]
    assert ops.count("Round") >= 4
    # a weight-only copy of the same weights (float activations) computes something else
    float_inputs = mot.strip(qmodel).predict(x, verbose=0)
    assert np.abs(float_inputs - qmodel.predict(x, verbose=0)).max() > 1e-4
    # a fresh process with TensorFlow only serves the same numbers
    np.save(tmp_path / "img.npy", x["img"][:4])
    loader = _LOAD_WITHOUT_KERAS.replace(
        "y = fn(**{name: tf.constant(x)})",
        "y = fn(img=tf.constant(x), ids=tf.constant(np.load(sys.argv[3])))",
    )
    np.save(tmp_path / "ids.npy", x["ids"][:4])
    proc = subprocess.run(
        [sys.executable, "-c", loader, sm, str(tmp_path / "img.npy"), str(tmp_path / "ids.npy")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["keras"] == []
    expected = qmodel.predict({k: v[:4] for k, v in x.items()}, verbose=0)
    np.testing.assert_allclose(out["y"], expected, rtol=1e-5, atol=1e-5)


def test_post_training_dense_model_exports(tmp_path):
    model = keras.Sequential(
        [keras.Input((128,)), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)]
    )
    x = np.random.default_rng(0).normal(size=(128, 128)).astype("float32")
    qmodel = mot.quantize(model, target="tf_serving", scheme="dynamic_int8")
    result = mot.export(qmodel, tmp_path / "ptq", representative_data=x)
    assert result.ok and result.parity.relative_diff < 1e-5
    assert result.sizes["stored_ratio_to_float32_weights"] < 0.27


def test_qat_weights_are_the_tflite_dynamic_range_codes(tmp_path):
    """A dynamic_int8 model exported to TFLite is the converter's dynamic-range model (int8
    weights, hybrid FULLY_CONNECTED / CONV_2D kernels): its stored codes are the trained ones."""

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 4))
    h = keras.layers.Conv2D(32, 3, activation="relu")(inputs)  # 3*3*4*32 = 1152 weights
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(h))
    h = keras.layers.Dense(32, activation="relu")(h)  # 288 x 32
    model = keras.Model(inputs, keras.layers.Dense(10)(h))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(128, 8, 8, 4)).astype("float32"), rng.integers(0, 10, 128)
    qmodel = mot.quantize(model, target="tf_serving", scheme="dynamic_int8")
    interpreter, stored = train_and_export_tflite_dynamic(qmodel, x, y, tmp_path)
    kinds = {d["op_name"] for d in interpreter._get_ops_details()}
    assert {"CONV_2D", "FULLY_CONNECTED"} <= kinds and "DEQUANTIZE" not in kinds  # hybrid kernels
    scheme = get_scheme("dynamic_int8")
    conv, dense = [w for w in mot.strip(qmodel).weights if len(w.shape) >= 2][:2]
    codes, _ = quantize_matrix(np.asarray(dense).reshape(-1, 32), scheme)
    np.testing.assert_array_equal(stored[codes.T.shape], codes.T)  # (out, in)
    kernel = np.asarray(conv)  # (kh, kw, in, out) -> TFLite (out, kh, kw, in)
    codes, _ = quantize_matrix(kernel.reshape(-1, 32), scheme)
    np.testing.assert_array_equal(
        stored[(32, 3, 3, 4)], np.transpose(codes.reshape(kernel.shape), (3, 0, 1, 2))
    )


def test_int8_matmul_is_the_integer_dot_product():
    """The oneDNN quint8 x qint8 kernel (blocks of EXACT_ROWS rows) gives the exact integer sums:
    the float32 matmul on the codes (the kernel it replaces) where that one is exact, and the
    int64 sums rounded once to float32 beyond (2048 rows of +-127, where one block would not be)."""
    from keras_mot.export.dynamic_kernels import EXACT_ROWS, block_sums, int8_matmul

    rng = np.random.default_rng(0)
    for rows, cols, batch in ((64, 33, 5), (1000, 48, 32), (2048, 16, 3)):
        codes = rng.integers(-127, 128, (rows, cols)).astype(np.int8)
        q = rng.integers(-127, 128, (batch, rows)).astype(np.float32)
        codes[:, 0], codes[:, 1], q[0] = 127, -127, 127  # the extreme sums
        c, sums = tf.Variable(codes), block_sums(codes)
        got = tf.function(lambda x: int8_matmul(tf, x, c, sums))(tf.constant(q)).numpy()
        exact = q.astype(np.int64) @ codes.astype(np.int64)
        np.testing.assert_array_equal(got, exact.astype(np.float32))
        if rows * 127 * 127 < 2**24:
            np.testing.assert_array_equal(got, q @ codes.astype(np.float32))
    assert 255 * 127 * EXACT_ROWS < 2**24


def test_onednn_scheme_runs_the_integer_kernel_with_the_same_numbers(tmp_path):
    """`dynamic_int8_onednn`: the large Dense layer's graph holds QuantizedMatMulWithBias (two
    blocks for 1000 input rows; the small one stays float32 on the codes) and serves what
    `dynamic_int8` serves, in a fresh process without Keras; with oneDNN's custom ops off the
    signature fails loudly (documented)."""
    from keras_mot.export.dynamic_kernels import ONEDNN_MIN_ELEMENTS

    keras.utils.set_random_seed(0)
    units = -(-ONEDNN_MIN_ELEMENTS // 1000)
    model = keras.Sequential(
        [keras.Input((1000,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(3)]
    )
    x = np.random.default_rng(0).normal(size=(64, 1000)).astype("float32")
    np.save(tmp_path / "x.npy", x[:8])
    served, graphs = {}, {}
    for scheme in ("dynamic_int8", "dynamic_int8_onednn"):
        qmodel = mot.quantize(model, target="tf_serving", scheme=scheme)
        result = mot.export(qmodel, tmp_path / scheme, representative_data=x)
        assert result.ok and result.parity.relative_diff < 1e-5
        sm = os.path.join(result.directory, "saved_model")
        fn = tf.saved_model.load(sm).signatures["serving_default"]
        graphs[scheme] = [n.op for f in fn.graph.as_graph_def().library.function for n in f.node_def]
        for onednn in ("1", "0"):
            proc = subprocess.run(
                [sys.executable, "-c", _LOAD_WITHOUT_KERAS, sm, str(tmp_path / "x.npy")],
                capture_output=True,
                text=True,
                timeout=300,
                env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn},
            )
            if scheme == "dynamic_int8_onednn" and onednn == "0":
                assert proc.returncode != 0 and "QuantizedMatMulWithBias" in proc.stderr
                continue
            assert proc.returncode == 0, proc.stderr[-2000:]
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            assert out["keras"] == []
            served[scheme, onednn] = np.asarray(out["y"], np.float32)
    assert graphs["dynamic_int8_onednn"].count("QuantizedMatMulWithBias") == 2  # 2 blocks, 1 layer
    assert "QuantizedMatMulWithBias" not in graphs["dynamic_int8"]
    expected = served["dynamic_int8", "1"]
    np.testing.assert_array_equal(served["dynamic_int8_onednn", "1"], expected)
    np.testing.assert_array_equal(served["dynamic_int8", "0"], expected)


def test_integer_matmul_needs_dynamic_activations():
    with pytest.raises(KerasMotError, match="integer_matmul needs dynamic activations"):
        mot.weight_only_scheme(8, integer_matmul=True)
    assert get_scheme("dynamic_int8_onednn").integer_matmul
