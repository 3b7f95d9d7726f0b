"""mot.quantize / apply / annotate / exclude / strict / calibration / callbacks, on real models."""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.errors import KerasMotError, UnsupportedLayerError
from keras_mot.export.convert import to_tflite
from keras_mot.export.inspect import float_compute_ops

L = keras.layers


def _cnn(shape=(8, 8, 3)):
    i = keras.Input(shape)
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(i)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(i, L.Dense(4, name="logits")(x), name="cnn")


def _x(n=32, shape=(8, 8, 3)):
    return np.random.default_rng(0).uniform(0, 1, (n,) + shape).astype("float32")


def test_quantize_fuses_bn_and_relu_into_the_conv_wrapper():
    q = mot.quantize(_cnn())
    names = [layer.name for layer in q.layers]
    assert "stem_bn" not in names and "stem_relu" not in names
    stem = q.get_layer("stem")
    assert isinstance(stem, mot.Wrapper) and stem.bn is not None
    assert stem.fused_activation == "relu6"
    assert isinstance(q, mot.PreparedModel) and q.mot_target == "tflite_int8"


def test_uninitialized_ranges_pass_activations_through():
    m = _cnn()
    x = _x()
    q = mot.quantize(m)  # no calibration: activations pass through, only weights are on grid
    stem = q.get_layer("stem")
    assert float(stem.initialized.numpy()) == 0.0
    np.testing.assert_allclose(np.asarray(q(x)), np.asarray(m(x)), atol=0.01)


def _logits_range(q):
    return tuple(float(v.numpy()) for v in q.get_layer("logits")._range_vars["output"])


def _calibrated(model, x):
    """Quantized and calibrated with the untrained model's BatchNormalization statistics kept
    (re-estimating them would change the function compared against; see test_bn_statistics)."""
    q = mot.quantize(model)
    mot.calibrate(q, x, steps=8, bn_statistics="keep")
    return q


def test_calibration_ranges_cover_every_batch():
    """Running min/max over all calibration batches (as TFLite calibration), not the last one."""
    m = _cnn()
    x = _x(64)
    x[:32] *= 4.0  # the first batch has the widest activations
    whole = _logits_range(_calibrated(m, x))  # two batches of 32
    first = _logits_range(_calibrated(m, x[:32]))
    second = _logits_range(_calibrated(m, x[32:]))
    assert whole == (min(first[0], second[0]), max(first[1], second[1]))
    assert whole != second
    # Calibrating again starts afresh instead of widening the earlier ranges.
    q = _calibrated(m, x[:32])
    mot.calibrate(q, x[32:], bn_statistics="keep")
    assert _logits_range(q) == second


def test_calibration_initialises_ranges_from_data():
    m = _cnn()
    x = _x()
    q = _calibrated(m, x)
    stem = q.get_layer("stem")
    lo, hi = (float(v.numpy()) for v in stem._range_vars["output"])
    assert lo == 0.0 and 0.0 < hi <= 6.0
    assert float(stem.initialized.numpy()) == 1.0
    # Fake-quantized output stays close to float (8-bit grid).
    ref = np.asarray(m(x))
    assert np.abs(np.asarray(q(x)) - ref).max() < 0.05 * (np.abs(ref).max() + 1e-6) + 0.02


def test_exclude_keeps_layers_float_and_conversion_still_succeeds():
    q = mot.quantize(_cnn(), exclude=["logits"], calibration_data=_x())
    assert not isinstance(q.get_layer("logits"), mot.Wrapper)
    tfl = to_tflite(q, "tflite_int8")
    assert [o["op"] for o in float_compute_ops(tfl)] == ["FULLY_CONNECTED"]


def test_annotations_are_honoured_and_unwrapped():
    i = keras.Input((8, 8, 3))
    x = mot.annotate(L.Conv2D(4, 3, name="c1"), quantize="int8_per_tensor")(i)
    x = L.Flatten()(x)
    y = mot.annotate(L.Dense(3, name="head"), quantize=None)(x)
    q = mot.quantize(keras.Model(i, y))
    c1 = q.get_layer("c1")
    assert isinstance(c1, mot.Wrapper) and c1.scheme.name == "int8_per_tensor"
    assert isinstance(q.get_layer("head"), L.Dense)
    assert not any(isinstance(layer, mot.Annotated) for layer in q.layers)


def test_recipe_rules_first_match_wins_and_roundtrip_yaml(tmp_path):
    recipe = mot.Recipe(
        "tflite_int8",
        rules=(
            mot.Rule("re:stem.*", quantize=None),
            mot.Rule("class:Dense", quantize="int8"),
            mot.Rule("_default"),
        ),
    )
    path = tmp_path / "r.yaml"
    recipe.to_yaml(path)
    loaded = mot.Recipe.from_yaml(str(path))
    assert loaded == recipe
    q = mot.apply(_cnn(), loaded)
    assert not isinstance(q.get_layer("stem"), mot.Wrapper)
    assert isinstance(q.get_layer("logits"), mot.Wrapper)


def test_recipe_yaml_rejects_unknown_types_and_keys():
    with pytest.raises(
        KerasMotError, match="Unknown SparsityPattern type.*os.system.*Block, NofM, Unstructured"
    ):
        mot.Recipe.from_yaml("rules:\n  - {select: _default, prune: {type: os.system}}\n")
    with pytest.raises(KerasMotError, match="Invalid recipe"):
        mot.Recipe.from_yaml("target: tflite_int8\nrulez: []\n")


class _Custom(L.Layer):
    def call(self, x):
        return keras.ops.sin(x)


def test_unsupported_layer_is_left_float_with_a_finding_or_raises_when_strict():
    i = keras.Input((4,))
    y = L.Dense(2)(_Custom(name="weird")(L.Dense(4)(i)))
    model = keras.Model(i, y)
    q = mot.quantize(model)
    # The subclassed layer is opened (keras_mot.inline): the finding names the op inside it.
    # (keras.ops nodes are auto-named: sin, sin_1, ... each time a block is traced)
    assert [(f.layer.rstrip("_0123456789"), f.code) for f in q.mot_findings] == [("weird/sin", "left-float")]
    assert "keras.ops.sin" in q.mot_findings[0].message
    with pytest.raises(UnsupportedLayerError, match="weird"):
        mot.quantize(model, strict=True)


def test_subclassed_model_gets_a_clear_error():
    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(KerasMotError, match="Functional"):
        mot.quantize(Sub())


def test_unknown_target_and_float_target_errors():
    with pytest.raises(KerasMotError, match="Unknown deployment target"):
        mot.quantize(_cnn(), target="tflite_in8")
    with pytest.raises(KerasMotError, match="nothing to quantize"):
        mot.quantize(_cnn(), target="tflite")


def test_nested_backbone_is_rewritten_and_stays_nested():
    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(inner_in, L.Conv2D(4, 3, activation="relu", name="c")(inner_in), name="backbone")
    i = keras.Input((8, 8, 3))
    y = L.Dense(2, name="head")(L.GlobalAveragePooling2D()(inner(i)))
    q = mot.quantize(keras.Model(i, y), calibration_data=_x())
    sub = q.get_layer("backbone")
    assert isinstance(sub, keras.Model)
    assert isinstance(sub.get_layer("c"), mot.Wrapper)
    assert not sub.get_layer("c").quantize_inputs[0]  # the outer input point quantized it
    tfl = to_tflite(q, "tflite_int8")
    assert float_compute_ops(tfl) == []


def test_sequential_model_is_supported():
    model = keras.Sequential([keras.Input((6,)), L.Dense(5, activation="relu"), L.Dense(2)])
    q = mot.quantize(model, calibration_data=np.random.rand(16, 6).astype("float32"))
    assert sum(isinstance(layer, mot.Wrapper) for layer in q.layers) == 3
    assert float_compute_ops(to_tflite(q)) == []


def test_freeze_callbacks_stop_range_and_bn_updates():
    m = _cnn()
    x, y = _x(64), np.random.default_rng(1).integers(0, 4, 64)
    q = mot.quantize(m, calibration_data=x)
    q.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), lint="off")
    stem = q.get_layer("stem")
    cbs = mot.callbacks(q, freeze_ranges_at=0, freeze_bn_at=0)
    assert {type(c).__name__ for c in cbs} == {"FreezeRanges", "FreezeBatchNorm", "StopOnNonFinite"}
    before = [v.numpy().copy() for v in (*stem._range_vars["output"], stem.bn.moving_mean)]
    q.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=cbs)
    after = [v.numpy() for v in (*stem._range_vars["output"], stem.bn.moving_mean)]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(b, a)
    # Without callbacks, ranges move and BN statistics follow the batches (the default, as in
    # float training).
    q2 = mot.quantize(m, calibration_data=x)
    q2.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), lint="off")
    s2 = q2.get_layer("stem")
    mean_before = s2.bn.moving_mean.numpy().copy()
    hi_before = float(s2._range_vars["output"][1].numpy())
    q2.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert float(s2._range_vars["output"][1].numpy()) != hi_before
    assert not np.allclose(mean_before, s2.bn.moving_mean.numpy())


def test_callbacks_function_carries_the_classes():
    assert mot.callbacks.FreezeRanges is mot.callbacks.FreezeRanges
    assert issubclass(mot.callbacks.UpdateMasks, keras.callbacks.Callback)
    with pytest.raises(KerasMotError, match="step"):
        mot.callbacks.FreezeRanges(step=-1)


def test_compile_runs_the_lint_before_training(capsys):
    q = mot.quantize(_cnn(), calibration_data=_x())
    q.compile("adam", "mse")
    out = capsys.readouterr().out
    assert "keras_mot lint [tflite_int8]" in out
    assert q.mot_lint_report is not None and q.mot_lint_report.verdict == "full_int8"


def test_the_compile_lint_table_is_logged_and_can_be_silenced_or_rerouted(capsys, caplog):
    import logging

    from keras_mot.log import COMPILE, show_compile_lint

    q = mot.quantize(_cnn(), calibration_data=_x())
    logger = logging.getLogger(COMPILE)
    level = logger.level
    try:
        logger.setLevel(logging.WARNING)
        q.compile("adam", "mse")
        assert "keras_mot lint" not in capsys.readouterr().out
        assert q.mot_lint_report is not None  # the lint still ran
        logger.setLevel(level)
        show_compile_lint(False)  # the application's logging takes it
        with caplog.at_level(logging.INFO, logger=COMPILE):
            q.compile("adam", "mse")
        assert "keras_mot lint" not in capsys.readouterr().out
        assert any("keras_mot lint [tflite_int8]" in r.getMessage() for r in caplog.records)
    finally:
        show_compile_lint(True)
        logger.setLevel(level)
    q.compile("adam", "mse")
    assert "keras_mot lint [tflite_int8]" in capsys.readouterr().out
