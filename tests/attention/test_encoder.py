"""The garden BERT-style encoder, QAT-exported to int8 and int16x8 with the real converter.

- int8: every compute op is int8; the float ops that remain in a *post-training* int8 conversion
  of the same float model (one NEG per LayerNormalization) are exactly the lint's float-fallback
  findings, and the QAT export (LayerNormalization rewritten without NEG) has none.
- TFLite-vs-Keras top-1 agreement >= 99.5 % on held-out data.
- `.keras` round-trip with safe_mode=True reproduces the QAT model's outputs exactly.
- int16x8: converts with 16-bit activations, the token lookup included (keras_mot/export/
  int16x8.py), and agrees with Keras.
"""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.export.convert import to_tflite
from keras_mot.export.inspect import float_compute_ops, op_list
from keras_mot.garden.data import make_text_task
from keras_mot.lint import lint, lint_tflite
from tests.attention.helpers import run_tflite, tiny_encoder


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    x, y = make_text_task(1024, 16, 64, 4, seed=0)
    xt, _ = make_text_task(600, 16, 64, 4, seed=1)
    model = tiny_encoder()
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    q = mot.quantize(model, target="tflite_int8", calibration_data=x[:256])
    q.compile(
        keras.optimizers.Adam(3e-4), keras.losses.SparseCategoricalCrossentropy(from_logits=True), lint="off"
    )
    q.fit(x, y, batch_size=64, epochs=1, verbose=0)
    return model, q, x, xt


def _post_training_int8(model, x, ops_set="TFLITE_BUILTINS_INT8"):
    """Plain TFLite post-training int8 (to_tflite casts representative data to float32, which
    an int32 token input rejects: reported to the export owner)."""
    import tensorflow as tf

    from keras_mot.export.convert import frozen_concrete_function

    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen_concrete_function(model)])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[i : i + 1]] for i in range(len(x)))
    converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, ops_set)]
    return converter.convert()


def _float_ops(tfl):
    return sorted(o["op"] for o in float_compute_ops(tfl))


def test_int8_export_is_fully_integer_and_matches_lint(trained):
    model, q, x, xt = trained
    tfl = to_tflite(q, "tflite_int8")
    assert _float_ops(tfl) == []
    ops = {o["op"] for o in op_list(tfl)}
    assert {"FULLY_CONNECTED", "BATCH_MATMUL", "SOFTMAX", "RSQRT", "GELU", "GATHER", "TANH"} <= ops
    assert not [f for f in lint_tflite(tfl, "tflite_int8", model=q).findings if f.severity == "error"]
    # Post-training int8 of the float model keeps Keras' LayerNormalization graph: its float ops
    # are the NEGs the lint predicts, one per LayerNormalization.
    ptq = _post_training_int8(model, x[:64])
    norms = [layer.name for layer in model.layers if isinstance(layer, keras.layers.LayerNormalization)]
    assert _float_ops(ptq) == ["NEG"] * len(norms)

    def fallback(report):
        return sorted((f.layer, f.op.upper()) for f in report.findings if f.code == "float-fallback")

    assert fallback(lint(model, "tflite_int8")) == sorted((n, "NEG") for n in norms)
    measured = fallback(lint_tflite(ptq, "tflite_int8", model=model))
    assert [op for _, op in measured] == _float_ops(ptq), measured
    # The QAT model's own trace has no float island left.
    assert fallback(lint(q, "tflite_int8")) == []


def test_int8_tflite_agrees_with_keras(trained):
    _, q, _, xt = trained
    tfl = to_tflite(q, "tflite_int8")
    keras_out = np.asarray(q(xt, training=False))
    agreement = np.mean(np.argmax(run_tflite(tfl, xt), -1) == np.argmax(keras_out, -1))
    assert agreement >= 0.995, agreement


def test_keras_file_roundtrip_is_exact(trained, tmp_path):
    _, q, _, xt = trained
    path = str(tmp_path / "encoder.keras")
    q.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(
        np.asarray(q(xt[:64], training=False)), np.asarray(loaded(xt[:64], training=False))
    )


def test_int16x8_after_lookup(trained):
    model, _, x, xt = trained
    q16 = mot.quantize(model, target="tflite_int16x8", calibration_data=x[:256])
    emb = next(w for w in q16.layers if isinstance(getattr(w, "layer", None), keras.layers.Embedding))
    body = keras.Model(emb.output, q16.output)
    table = np.asarray(emb._weights(training=False)[0]["embeddings"])
    tfl = to_tflite(body, "tflite_int16x8", representative_data=[table[x[:128]]])
    assert _float_ops(tfl) == []
    dtypes = {
        d
        for o in op_list(tfl)
        if o["op"] in ("FULLY_CONNECTED", "BATCH_MATMUL", "SOFTMAX")
        for d in o["outputs"]
    }
    assert dtypes == {"int16"}
    keras_out = np.asarray(q16(xt, training=False))
    agreement = np.mean(np.argmax(run_tflite(tfl, table[xt]), -1) == np.argmax(keras_out, -1))
    assert agreement >= 0.99, agreement


def test_int16x8_whole_model_through_mot_export(trained, tmp_path):
    """The token lookup included: keras_mot.export.int16x8 keeps the ids int32 up to GATHER."""
    model, _, x, xt = trained
    q16 = mot.quantize(model, target="tflite_int16x8", calibration_data=x[:256])
    result = mot.export(
        q16,
        str(tmp_path / "enc16"),
        target="tflite_int16x8",
        representative_data=xt[:128],
        formats=("tflite",),
    )
    assert result.float_compute_ops == []
    assert result.parity.agreement >= 0.99, result.parity.summary()


def test_int16x8_with_embedding_fails_in_tf_2_21(trained):
    """Documents the TF 2.21 converter limitation that keras_mot/export/int16x8.py works around:
    if this starts passing, the placeholder ranges on integer tensors can go."""
    model, _, x, _ = trained
    with pytest.raises(Exception, match="Max and min|min/max"):
        _post_training_int8(model, x[:16], "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8")
