"""Serving kernels: quantized layers of the `tf_serving` SavedModel compute on their codes."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

import keras_mot as mot
from keras_mot.export.serving_kernels import (
    CHUNK_ELEMENTS,
    chunked_matmul,
    einsum_reduction_rank,
    int4_matmul,
    row_spans,
    unpack_int4,
)
from keras_mot.quantization.weight_only import WeightLayout, pack_int4


def _model():
    ids = keras.Input((6,), dtype="int32", name="ids")
    img = keras.Input((8, 8, 3), name="img")
    e = keras.layers.Embedding(50, 16)(ids)
    e = keras.layers.LayerNormalization()(e)  # needs the embedding's static last dimension
    e = keras.layers.Dense(16, activation="relu")(e)  # a rank-3 input
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
        ("int4_weight_only_b32", "matmuls, embeddings", 1e-5),  # int4 convs: dequantized
        ("int8_weight_only_bf16", "all", 5e-2),
    ],
)
def test_layers_compute_on_codes_with_parity(tmp_path, scheme, on_codes, tolerance):
    x, y = _data()
    qmodel = mot.quantize(_model(), target="tf_serving", scheme=scheme)
    result = mot.export(qmodel, tmp_path / "out", representative_data=(x, y))
    assert result.ok and result.parity.relative_diff < tolerance
    # the serving graph is stored once (saving the tf.function too would store a second trace)
    saved = saved_model_pb2.SavedModel()
    with open(tmp_path / "out" / "saved_model" / "saved_model.pb", "rb") as f:
        saved.ParseFromString(f.read())
    names = [f.signature.name for f in saved.meta_graphs[0].graph_def.library.function]
    assert len([n for n in names if "_serve_" in n]) == 1, names
    serving = {s["weight"]: s["serving"] for s in result.report["stored_weights"]}
    assert len(serving) == 7
    if on_codes == "all":
        assert set(serving.values()) == {"computes on codes"}
    else:
        on_codes = [
            k for k in serving if k.split("/")[-1] == "embeddings" or k.startswith(("dense", "einsum"))
        ]
        assert len(on_codes) == 4, serving
        assert {serving.pop(k) for k in on_codes} == {"computes on codes"}
        assert set(serving.values()) == {"dequantizes"}


def test_unpack_int4_matches_numpy_packing():
    codes = np.random.default_rng(0).integers(-7, 8, (10, 3, 2)).astype("int8")
    packed = pack_int4(codes)
    np.testing.assert_array_equal(unpack_int4(tf, tf.constant(packed)).numpy(), codes)


@pytest.mark.parametrize("rows,cols,block", [(1024, 300, 128), (70, 9, 32), (1000, 200, 32)])
def test_blockwise_matmuls_match_the_dequantized_weight(rows, cols, block):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, rows)).astype("float32")
    codes = rng.integers(-127, 128, (rows, cols)).astype("int8")
    assert len(row_spans(rows, cols)) > 1 or rows * cols <= CHUNK_ELEMENTS
    want = x.astype("float64") @ codes
    got = chunked_matmul(tf, tf.constant(x), tf.constant(codes)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6 * np.abs(want).max())
    # int4: rows zero-padded to whole blocks, one scale per block and column
    blocks = -(-rows // block)
    c4 = np.zeros((blocks * block, cols), "int8")
    c4[:rows] = rng.integers(-7, 8, (rows, cols))
    scales = rng.uniform(0.01, 0.1, (blocks, cols)).astype("float32")
    w = (c4.reshape(blocks, block, cols) * scales[:, None]).reshape(-1, cols)[:rows]
    got = int4_matmul(tf, tf.constant(x), tf.constant(pack_int4(c4)), tf.constant(scales))
    want = x.astype("float64") @ w
    np.testing.assert_allclose(got.numpy(), want, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize(
    "equation,shape,layout,rank",
    [
        ("btd,dhk->bthk", (6, 2, 8), WeightLayout((0,), (1, 2)), 1),
        ("bthk,hkd->btd", (16,), WeightLayout((0, 1), (2,)), 2),
        ("btd,dhk->bhtk", (2, 6, 8), WeightLayout((0,), (1, 2)), None),  # output reordered
        ("...d,de->...e", (8,), WeightLayout((0,), (1,)), None),
    ],
)
def test_einsum_as_matmul_is_recognised_only_where_exact(equation, shape, layout, rank):
    layer = keras.layers.EinsumDense(equation, shape)
    assert einsum_reduction_rank(layer, layout) == rank
