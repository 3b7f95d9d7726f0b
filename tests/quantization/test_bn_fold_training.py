"""Folded Conv + BatchNormalization during QAT: batch statistics while live, moving once frozen."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mot as mot
from keras_mot.export.convert import to_tflite
from keras_mot.quantization import bn_fold
from tests.conftest import run_tflite

L = keras.layers


def _model():
    inp = keras.Input((6, 6, 3))
    x = L.Conv2D(8, 3, use_bias=True, name="conv")(inp)
    x = L.BatchNormalization(momentum=0.5, name="bn")(x)
    return keras.Model(inp, L.ReLU(name="relu")(x))


def _data(n=32, seed=0):
    return np.random.default_rng(seed).normal(0.5, 1.0, (n, 6, 6, 3)).astype("float32")


def test_live_statistics_normalize_like_float_training_and_update_the_moving_ones():
    model = _model()
    x = _data()
    for _ in range(20):  # moving statistics converge to the data's (momentum 0.5)
        model(x, training=True)
    q = mot.quantize(model, calibration_data=x)  # ranges fit the normalized output
    w = q.get_layer("conv")
    assert w.bn is not None
    # Now move the statistics away from the data's: live training must not use them.
    mean0 = w.bn.moving_mean.numpy() + 0.5
    var0 = w.bn.moving_variance.numpy() * 2.0
    w.bn.moving_mean.assign(mean0)
    w.bn.moving_variance.assign(var0)
    assert w._bn_statistics_live and float(w.bn_frozen.numpy()) == 0.0  # live by default
    float_bn_train = np.asarray(model(x, training=True))  # float conv + BN, batch statistics
    live = np.asarray(w(q.get_layer("quantize_input_0")(x), training=True))
    tol = 4 * float(np.ptp(float_bn_train)) / 255  # a few activation steps + weight rounding
    np.testing.assert_allclose(live, float_bn_train, atol=tol)
    # The moving statistics moved half-way (momentum 0.5) to the batch's, conv bias included.
    conv_out = np.asarray(model.get_layer("conv")(x))
    np.testing.assert_allclose(
        w.bn.moving_mean.numpy(), 0.5 * mean0 + 0.5 * conv_out.mean(axis=(0, 1, 2)), rtol=0.05, atol=0.02
    )
    np.testing.assert_allclose(
        w.bn.moving_variance.numpy(), 0.5 * var0 + 0.5 * conv_out.var(axis=(0, 1, 2)), rtol=0.05
    )


def test_frozen_statistics_are_the_exported_computation():
    model = _model()
    x, y = _data(), _data(seed=1)[:, :4, :4, :1].repeat(8, axis=-1)
    q = mot.quantize(model, calibration_data=x)
    q.compile(keras.optimizers.Adam(1e-3), "mse", lint="off")
    w = q.get_layer("conv")
    q.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=mot.callbacks(q, freeze_bn_at=0))
    assert float(w.bn_frozen.numpy()) == 1.0 and not w._bn_statistics_live
    before = w.bn.moving_mean.numpy().copy()
    train_out = np.asarray(w(q.get_layer("quantize_input_0")(x), training=True))
    infer_out = np.asarray(w(q.get_layer("quantize_input_0")(x), training=False))
    np.testing.assert_array_equal(before, w.bn.moving_mean.numpy())
    step = float(np.ptp(infer_out)) / 255
    np.testing.assert_allclose(train_out, infer_out, atol=step * 1.01)


def test_freeze_batchnorm_schedule_trains_then_exports_consistently():
    model = _model()
    x, y = _data(64), _data(64, seed=1)[:, :4, :4, :1].repeat(8, axis=-1)
    q = mot.quantize(model, calibration_data=x)
    q.compile(keras.optimizers.Adam(1e-3), "mse", lint="off")
    w = q.get_layer("conv")
    q.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=mot.callbacks(q, freeze_bn_at=0))
    before = w.bn.moving_mean.numpy().copy()
    # Training again with a later freeze step makes the statistics live until step 8.
    q.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=mot.callbacks(q, freeze_bn_at=8))
    assert float(w.bn_frozen.numpy()) == 1.0
    assert not np.allclose(before, w.bn.moving_mean.numpy())  # statistics were live until then
    keras_out = np.asarray(q(x, training=False))
    tfl_out = run_tflite(to_tflite(q, "tflite_int8"), x)
    step = float(np.ptp(keras_out)) / 255
    assert np.abs(keras_out - tfl_out).max() <= step * 1.01


def test_freeze_step_drops_the_batch_statistics_branch_even_between_executions():
    model = _model()
    x, y = _data(64), _data(64, seed=1)[:, :4, :4, :1].repeat(8, axis=-1)
    q = mot.quantize(model, calibration_data=x)
    q.compile(keras.optimizers.Adam(1e-3), "mse", lint="off", steps_per_execution=3)
    w = q.get_layer("conv")
    means = {}

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step = int(q.optimizer.iterations.numpy())
            means[step] = w.bn.moving_mean.numpy().copy()

    traced = []

    class Traces(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if not traced or traced[-1] is not q.train_function:
                traced.append(q.train_function)

    # 4 steps per epoch, executions of at most 3 steps within an epoch: they start at steps
    # 0, 3, 4, 7, 8, 11. Step 2 is inside the first, so the statistics freeze at step 3.
    before = w.bn.moving_mean.numpy().copy()
    q.fit(
        x,
        y,
        epochs=3,
        batch_size=16,
        verbose=0,
        shuffle=False,
        callbacks=[*mot.callbacks(q, freeze_bn_at=2), Traces(), Record()],
    )
    assert sorted(means) == [3, 4, 7, 8, 11, 12]
    assert not np.allclose(before, means[3])  # live for the first execution
    np.testing.assert_array_equal(means[3], means[12])  # frozen from step 3 on
    assert float(w.bn_frozen.numpy()) == 1.0
    assert not w._bn_statistics_live
    assert len(traced) == 2  # the live training step, then the retraced frozen one
    keras_out = np.asarray(q(x, training=False))
    tfl_out = run_tflite(to_tflite(q, "tflite_int8"), x)
    assert np.abs(keras_out - tfl_out).max() <= float(np.ptp(keras_out)) / 255 * 1.01


def test_a_model_saved_before_its_freeze_step_resumes_with_live_statistics(tmp_path):
    model = _model()
    x, y = _data(64), _data(64, seed=1)[:, :4, :4, :1].repeat(8, axis=-1)
    q = mot.quantize(model, calibration_data=x)
    q.compile(keras.optimizers.Adam(1e-3), "mse", lint="off")
    q.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=mot.callbacks(q, freeze_bn_at=100))
    q.save(tmp_path / "live.keras")
    q.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=mot.callbacks(q, freeze_bn_at=0))
    q.save(tmp_path / "frozen.keras")
    for name, live in (("live", True), ("frozen", False)):
        loaded = keras.saving.load_model(tmp_path / f"{name}.keras", safe_mode=True)
        w = loaded.get_layer("conv")
        assert w._bn_statistics_live is live
        loaded.compile(keras.optimizers.Adam(1e-3), "mse", lint="off")
        before = w.bn.moving_mean.numpy().copy()
        loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)  # no callback: as saved
        assert np.allclose(before, w.bn.moving_mean.numpy()) is not live
    fresh = mot.quantize(_model(), calibration_data=x).get_layer("conv")
    assert fresh._bn_statistics_live and float(fresh.bn_frozen.numpy()) == 0.0  # the default


def _bn_and_input(seed=0):
    rng = np.random.default_rng(seed)
    bn = L.BatchNormalization(momentum=0.9)
    bn.build((None, 4))
    bn.gamma.assign(rng.normal(1.0, 0.5, 4).astype("float32"))
    bn.beta.assign(rng.normal(0.0, 1.0, 4).astype("float32"))
    bn.moving_mean.assign(rng.normal(0.0, 1.0, 4).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, 4).astype("float32"))
    return bn, tf.constant(rng.normal(1.0, 1.5, (32, 4)).astype("float32"))


def test_live_output_has_batchnorm_values_gradients_and_statistics_updates():
    bn, u = _bn_and_input()
    mm, mv = bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy()
    weights = tf.constant(np.random.default_rng(1).normal(size=(32, 4)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(u)
        folded = (u - mm) * bn_fold.bn_scale(bn) + bn.beta  # the moving-statistics fold
        out = bn_fold.batch_statistics_output(bn, folded, tf.constant(True))
        mean, var = tf.reduce_mean(u, 0), tf.math.reduce_variance(u, 0)
        ref = bn.gamma * (u - mean) / tf.sqrt(var + bn.epsilon) + bn.beta  # float training
        loss_out, loss_ref = tf.reduce_sum(out * weights), tf.reduce_sum(ref * weights)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    for v in (u, bn.gamma, bn.beta):
        np.testing.assert_allclose(tape.gradient(loss_out, v), tape.gradient(loss_ref, v), atol=2e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.9 * mm + 0.1 * mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 * mv + 0.1 * var.numpy(), rtol=1e-5)


def test_frozen_output_is_the_fold_bit_for_bit():
    bn, u = _bn_and_input(seed=2)
    mm, mv = bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy()
    folded = (u - mm) * bn_fold.bn_scale(bn) + bn.beta
    out = bn_fold.batch_statistics_output(bn, folded, tf.constant(False))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(folded))
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mm)
    np.testing.assert_array_equal(bn.moving_variance.numpy(), mv)


@pytest.mark.parametrize("live", [True, False])
def test_a_separate_bias_gives_the_output_of_the_biased_op(live):
    """`bias=` (the wrapper's training path) matches adding the bias first: bit for bit where not
    live; where live within float rounding, the same gradients and statistics updates."""
    results = []
    for separate in (False, True):
        bn, u = _bn_and_input(seed=3)
        bias = tf.constant([0.5, -1.0, 2.0, 0.25])
        weights = tf.constant(np.random.default_rng(4).normal(size=(32, 4)).astype("float32"))
        with tf.GradientTape() as tape:
            tape.watch([u, bias])
            if separate:
                out = bn_fold.batch_statistics_output(bn, u, tf.constant(live), bias=bias)
            else:
                out = bn_fold.batch_statistics_output(bn, u + bias, tf.constant(live))
            loss = tf.reduce_sum(out * weights)
        grads = tape.gradient(loss, [u, bias, bn.gamma, bn.beta])
        results.append(
            (out.numpy(), [g.numpy() for g in grads], bn.moving_mean.numpy(), bn.moving_variance.numpy())
        )
    (out_a, grads_a, mm_a, mv_a), (out_b, grads_b, mm_b, mv_b) = results
    if live:
        np.testing.assert_allclose(out_b, out_a, atol=1e-5)
        for a, b in zip(grads_a, grads_b):
            np.testing.assert_allclose(b, a, atol=1e-5)
        np.testing.assert_allclose(mm_b, mm_a, atol=1e-6)
        np.testing.assert_allclose(mv_b, mv_a, rtol=1e-5)
    else:
        np.testing.assert_array_equal(out_b, out_a)
        np.testing.assert_array_equal(mm_b, mm_a)
        for a, b in zip(grads_a, grads_b):
            np.testing.assert_allclose(b, a, atol=1e-6)
