"""Serving kernels: quantized layers of the `tf_serving` SavedModel compute on their codes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mot as mot
from keras_mot.export.serving_kernels import unpack_int4
from keras_mot.quantization.weight_only import pack_int4


def _model():
    ids = keras.Input((6,), dtype="int32", name="ids")
    img = keras.Input((8, 8, 3), name="img")
    e = keras.layers.Embedding(50, 16)(ids)
    e = keras.layers.LayerNormalization()(e)  # needs the embedding's static last dimension
    e = keras.layers.EinsumDense("btd,dhk->bthk", (6, 2, 8), bias_axes="hk", activation="relu")(e)
    e = keras.layers.Reshape((6 * 16,))(e)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(img)
    h = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu")(h)
    h = keras.layers.Conv1D(4, 3)(keras.layers.Reshape((36, 16))(h))
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(5)(keras.layers.Concatenate()([e, h]))
    return keras.Model({"ids": ids, "img": img}, out)


def _data():
    rng = np.random.default_rng(0)
    x = {
        "ids": rng.integers(0, 50, (40, 6)).astype("int32"),
        "img": rng.normal(size=(40, 8, 8, 3)).astype("float32"),
    }
    return x, rng.integers(0, 5, 40)


@pytest.mark.parametrize(
    "scheme,on_codes,tolerance",
    [
        ("int8_weight_only", "all", 1e-5),
        ("int4_weight_only_b32", "embeddings", 1e-5),  # int4 matmuls read dequantized weights
        ("int8_weight_only_bf16", "all", 5e-2),
    ],
)
def test_layers_compute_on_codes_with_parity(tmp_path, scheme, on_codes, tolerance):
    x, y = _data()
    qmodel = mot.quantize(_model(), target="tf_serving", scheme=scheme)
    result = mot.export(qmodel, tmp_path / "out", representative_data=(x, y))
    assert result.ok and result.parity.relative_diff < tolerance
    serving = {s["weight"]: s["serving"] for s in result.report["stored_weights"]}
    assert len(serving) == 6
    if on_codes == "all":
        assert set(serving.values()) == {"computes on codes"}
    else:
        (embedding,) = [k for k in serving if k.endswith("/embeddings")]
        assert serving.pop(embedding) == "computes on codes"
        assert set(serving.values()) == {"dequantizes"}


def test_unpack_int4_matches_numpy_packing():
    codes = np.random.default_rng(0).integers(-7, 8, (10, 3, 2)).astype("int8")
    packed = pack_int4(codes)
    np.testing.assert_array_equal(unpack_int4(tf, tf.constant(packed)).numpy(), codes)
