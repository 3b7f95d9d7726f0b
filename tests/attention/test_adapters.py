"""Attention-block layers: Keras fake quantization == TFLite int8, one construct at a time.

Each case builds a tiny model, quantizes it with calibration, trains one epoch (biases and ranges
move), converts with the real converter and runs the real interpreter. The int8 model must have
no float compute op, contain the op the adapter promises, and agree with the Keras QAT model to
within one output step (two for the attention chain: SOFTMAX's integer kernel differs from
FakeQuant(softmax) by rounding of its exp table).
"""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.callbacks import wrappers
from keras_mot.export.convert import to_tflite
from keras_mot.export.inspect import float_compute_ops, op_counts
from keras_mot.garden.text_encoder import PositionEmbedding
from keras_mot.layers.attention import gelu_tanh
from keras_mot.layers.base import adapter_for
from tests.attention.helpers import run_tflite

L = keras.layers
SEQ = (8, 16)


CASES = {  # name: (build(inputs) -> outputs, expected TFLite op, allowed steps)
    "mha": (lambda i: L.MultiHeadAttention(2, 8)(i, i), "BATCH_MATMUL", 2),
    "mha_cross_value_dim": (
        lambda i: L.MultiHeadAttention(2, 8, value_dim=4)(i, L.Dense(16)(i)),
        "SOFTMAX",
        2,
    ),
    # LayerNormalization lowers to MEAN / SQUARED_DIFFERENCE / RSQRT / MUL int8 kernels whose
    # fixed-point steps can add up to two output steps (measured: 1 element of 6144 at two).
    "layer_norm": (lambda i: L.LayerNormalization()(i), "RSQRT", 2),
    "layer_norm_no_center_axis1": (lambda i: L.LayerNormalization(axis=1, center=False)(i), "RSQRT", 2),
    "einsum_dense_gelu": (
        lambda i: L.EinsumDense("abc,cd->abd", (8, 12), bias_axes="d", activation="gelu")(i),
        "GELU",
        1,
    ),
    "einsum_dense_heads": (
        lambda i: L.EinsumDense("abc,cde->abde", (8, 2, 4), bias_axes="de")(i),
        "FULLY_CONNECTED",
        1,
    ),
    "dense_3d_gelu": (lambda i: L.Dense(12, activation="gelu")(i), "GELU", 1),
    "gelu_tanh": (lambda i: L.Activation(gelu_tanh)(L.Dense(12)(i)), "GELU", 1),
    "dense_gelu_tanh": (lambda i: L.Dense(12, activation=gelu_tanh)(i), "GELU", 1),
    "position_embedding": (lambda i: PositionEmbedding(8)(i), "ADD", 1),
}


def _train_convert(build, x, y_scale=1.05):
    inp = keras.Input(x.shape[1:], dtype=x.dtype)
    model = keras.Model(inp, build(inp))
    rng = np.random.default_rng(1)
    for v in model.weights:  # non-zero biases: a zero bias is folded away by the converter
        if v.path.endswith(("bias", "beta")):
            v.assign(rng.normal(0, 0.2, v.shape).astype("float32"))
    y = np.asarray(model(x)) * y_scale + 0.01
    q = mot.quantize(model, calibration_data=x)
    q.compile(keras.optimizers.SGD(0.01), "mse", lint="off")
    q.fit(x, y, epochs=1, batch_size=16, verbose=0)
    return q, to_tflite(q, "tflite_int8")


def _output_step(q):
    w = [w for w in wrappers(q) if w.quantize_output][-1]
    lo, hi = (float(v.numpy()) for v in w._range_vars["output"])
    return (hi - lo) / 255.0


@pytest.mark.parametrize("name", sorted(CASES))
def test_int8_matches_keras(name):
    build, op, steps = CASES[name]
    x = np.random.default_rng(0).normal(size=(48,) + SEQ).astype("float32")
    q, tfl = _train_convert(build, x)
    assert float_compute_ops(tfl) == []
    assert op in op_counts(tfl)
    diff = np.abs(np.asarray(q(x, training=False)) - run_tflite(tfl, x))
    step = _output_step(q)
    assert diff.max() <= steps * step * 1.01, f"max diff {diff.max():.5f}, step {step:.5f}"
    # Attention chains int8 BATCH_MATMUL -> SOFTMAX (fixed-point exp) -> BATCH_MATMUL; the
    # kernels' approximations leave 3.5-5.1 % of outputs one step off (measured), the rest < 1 %.
    off = 0.08 if name.startswith("mha") else 0.05
    assert np.mean(diff > 0.5 * step) < off


def test_embedding_gather_int8_table_per_tensor():
    x = np.random.default_rng(0).integers(0, 20, (48, 8)).astype("int32")
    q, tfl = _train_convert(lambda i: L.Embedding(20, 16)(i), x)
    emb = [w for w in wrappers(q) if isinstance(w.layer, L.Embedding)][0]
    assert emb.quantize_inputs == [False]  # token ids are never fake-quantized
    assert emb._weight_vars["embeddings"][0].shape == ()  # one range: per tensor
    assert float_compute_ops(tfl) == [] and "GATHER" in op_counts(tfl)
    assert "quantize_input_0" not in [layer.name for layer in q.layers]
    diff = np.abs(np.asarray(q(x, training=False)) - run_tflite(tfl, x))
    assert diff.max() <= _output_step(q) * 1.01


def test_adapters_are_registered():
    for layer in (
        L.MultiHeadAttention(2, 4),
        L.EinsumDense("ab,bc->ac", 4),
        L.LayerNormalization(),
        L.Embedding(4, 2),
        PositionEmbedding(4),
    ):
        assert adapter_for(layer) is not None, type(layer).__name__


def test_layer_norm_rms_scaling_is_a_clear_error():
    inp = keras.Input(SEQ)
    with pytest.raises(Exception, match="rms_scaling"):
        mot.quantize(keras.Model(inp, L.LayerNormalization(rms_scaling=True)(inp)))


def test_mha_with_attention_axes_is_a_clear_error():
    inp = keras.Input((4, 4, 8))
    model = keras.Model(inp, L.MultiHeadAttention(2, 4, attention_axes=(1, 2))(inp, inp))
    with pytest.raises(Exception, match="attention_axes"):
        mot.quantize(model)


ROUNDTRIP = {
    "mha": (lambda i: L.MultiHeadAttention(2, 8)(i, i), SEQ, "float32"),
    "layer_norm": (lambda i: L.LayerNormalization()(i), SEQ, "float32"),
    "einsum_dense": (lambda i: L.EinsumDense("abc,cde->abde", (8, 2, 4), bias_axes="de")(i), SEQ, "float32"),
    "embedding_position": (lambda i: PositionEmbedding(8)(L.Embedding(20, 16)(i)), (8,), "int32"),
}


@pytest.mark.parametrize("name", sorted(ROUNDTRIP))
def test_keras_file_roundtrip_safe_mode(name, tmp_path):
    build, shape, dtype = ROUNDTRIP[name]
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 20, (8,) + shape) if dtype == "int32" else rng.normal(size=(8,) + shape)).astype(
        dtype
    )
    inp = keras.Input(shape, dtype=dtype)
    q = mot.quantize(keras.Model(inp, build(inp)), calibration_data=x, calibration_steps=1)
    path = str(tmp_path / "m.keras")
    q.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(np.asarray(q(x)), np.asarray(loaded(x)))
