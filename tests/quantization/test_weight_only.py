"""Weight-only schemes: grid math, the wrapper (QAT and post-training), selection, findings."""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.errors import KerasMotError, UnsupportedLayerError
from keras_mot.quantization.weight_only import (
    WeightLayout,
    get_scheme,
    pack_int4,
    quantize_matrix,
    unpack_int4,
    weight_only_scheme,
)
from keras_mot.weight_only_wrapper import WeightOnlyWrapper, weight_only_wrappers
from tests.quantization.serving_models import every_kind_model

_model = every_kind_model


def test_int4_pack_roundtrip_and_grid():
    codes = np.random.default_rng(0).integers(-7, 8, (10, 3)).astype(np.int8)
    np.testing.assert_array_equal(unpack_int4(pack_int4(codes)), codes)
    w = np.random.default_rng(1).normal(size=(100, 5)).astype(np.float32)
    scheme = get_scheme("int4_weight_only_b32")
    q, s = quantize_matrix(w, scheme)
    assert q.shape == (128, 5) and s.shape == (4, 5) and np.abs(q).max() <= 7
    deq = (q.reshape(4, 32, 5) * s[:, None]).reshape(128, 5)[:100]
    assert np.abs(deq - w).max() <= s.max() / 2 + 1e-6
    int8 = get_scheme("int8_weight_only")
    q8, s8 = quantize_matrix(w, int8)
    assert s8.shape == (1, 5) and np.abs(q8).max() == 127


def test_layout_roundtrip():
    w = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    layout = WeightLayout((0, 1), (2, 3))
    np.testing.assert_array_equal(layout.from_matrix(layout.to_matrix(w), w.shape), w)
    emb = WeightLayout((1,), (0,))
    assert emb.to_matrix(w[0, 0]).shape == (5, 4)


def test_bad_scheme_arguments_are_refused():
    with pytest.raises(KerasMotError, match="block_size"):
        weight_only_scheme(4, block_size=33)
    with pytest.raises(KerasMotError, match="bits"):
        weight_only_scheme(3)
    with pytest.raises(KerasMotError, match="compute_dtype"):
        weight_only_scheme(8, compute_dtype="float16")


@pytest.mark.parametrize("scheme", ["int8_weight_only", "int4_weight_only_b32"])
def test_every_layer_kind_is_wrapped_and_close_to_float(scheme):
    model = _model()
    q = mot.quantize(model, target="tf_serving", scheme=scheme)
    wrapped = {type(w.layer).__name__ for _, w in weight_only_wrappers(q)}
    assert wrapped == {"Embedding", "MultiHeadAttention", "EinsumDense", "Conv2D", "DepthwiseConv2D", "Dense"}
    ids = np.random.default_rng(0).integers(0, 40, (8, 8))
    ref, out = model.predict(ids, verbose=0), q.predict(ids, verbose=0)
    assert 0 < np.abs(out - ref).max() < 0.2 * np.abs(ref).max() + 1e-3
    # the weights the wrapper computes with lie on the scheme's grid
    w = dict(weight_only_wrappers(q))["head"]
    ((var, value),) = w.quantized_values()
    _, scales = quantize_matrix(np.asarray(var), w.scheme)
    codes = np.asarray(value) / scales
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-3)


def test_qat_trains_through_the_rounding_and_saves():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 32)).astype("float32")
    y = (x[:, :4].sum(-1) > 0).astype("int32")
    model = keras.Sequential(
        [keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(2)]
    )
    q = mot.quantize(model, target="tf_serving", scheme="int4_weight_only_b32")
    q.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(True),
        metrics=["accuracy"],
        lint="off",
    )
    before = [np.array(v) for v in q.trainable_variables]
    hist = q.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert all(np.abs(np.array(v) - b).max() > 0 for v, b in zip(q.trainable_variables, before))
    assert hist.history["accuracy"][-1] > 0.8
    q.save(path := "/tmp/keras_mot_weight_only_test.keras")
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x[:8], verbose=0), q.predict(x[:8], verbose=0))
    stripped = mot.strip(q)
    assert not weight_only_wrappers(stripped)
    np.testing.assert_allclose(stripped.predict(x[:8], verbose=0), q.predict(x[:8], verbose=0), atol=1e-5)


def test_exclude_and_rules_select_layers():
    model = _model()
    q = mot.quantize(model, target="tf_serving", exclude=["head"])
    names = {p.split("/")[-1] for p, _ in weight_only_wrappers(q)}
    assert "head" not in names and len(names) == 5
    recipe = mot.Recipe(
        "tf_serving",
        rules=(mot.Rule("class:Dense", quantize="int4_weight_only"), mot.Rule("_default", quantize=None)),
    )
    q = mot.apply(model, recipe)
    assert [type(w.layer).__name__ for _, w in weight_only_wrappers(q)] == ["Dense"]
    with pytest.raises(KerasMotError, match="mixes weight-only"):
        mot.apply(
            model,
            mot.Recipe("tf_serving", rules=(mot.Rule("class:Dense", quantize="int8"), mot.Rule("_default"))),
        )


def test_unknown_weighted_layer_stays_float_with_a_finding():
    inp = keras.Input((6, 4))
    x = keras.layers.LSTM(8)(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    q = mot.quantize(model, target="tf_serving")
    codes = [f.code for f in q.mot_findings]
    assert codes == ["weight-only-left-float"] and "LSTM" in q.mot_findings[0].message
    assert len(weight_only_wrappers(q)) == 1
    with pytest.raises(UnsupportedLayerError, match="lstm"):
        mot.quantize(model, target="tf_serving", strict=True)


def test_wrapper_refuses_a_layer_without_weights():
    layer = keras.layers.ReLU()
    layer.build((None, 3))
    with pytest.raises(UnsupportedLayerError, match="no weight"):
        WeightOnlyWrapper(layer)
