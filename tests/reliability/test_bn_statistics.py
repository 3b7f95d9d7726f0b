"""QAT of barely trained and dead-channel models stays finite (stale BatchNormalization
statistics are re-estimated at calibration; `keras_mot.bn_statistics`)."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mot as mot
from keras_mot.callbacks.quantization import wrappers
from keras_mot.errors import KerasMotError
from keras_mot.garden.digits import load_digits


def _images(n=64, size=32):
    x, y = load_digits("train", image_size=(size, size), channels=3)
    return x[:n], y[:n]


def _untrained(momentum=0.999):
    """A small MobileNetV2 exactly as built (moving mean 0, variance 1), BN momentum 0.999."""
    keras.utils.set_random_seed(1)
    return keras.applications.MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), weights=None, classes=10)


def _first_kernel_grad(model, x, y):
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    kernel = next(v for v in model.trainable_variables if v.path.endswith("kernel"))
    return float(np.abs(np.asarray(tape.gradient(loss, kernel))).max())


def test_untrained_model_gradients_match_float_after_reestimation():
    x, y = _images()
    model = _untrained()
    float_grad = _first_kernel_grad(model, x[:32], y[:32])
    with pytest.warns(RuntimeWarning, match=r"re-estimated.*variance off by up to"):
        qmodel = mot.quantize(model, calibration_data=x)
    assert any(f.code == "bn-statistics-reestimated" for f in qmodel.mot_findings)
    qat_grad = _first_kernel_grad(qmodel, x[:32], y[:32])
    assert qat_grad < 10 * float_grad, (qat_grad, float_grad)
    # The mechanism, measured: with the stale statistics kept, the gradient explodes.
    kept = mot.quantize(model)
    mot.calibrate(kept, x, bn_statistics="keep")
    assert _first_kernel_grad(kept, x[:32], y[:32]) > 1000 * float_grad


def test_untrained_model_qat_steps_stay_finite():
    x, y = _images()
    with pytest.warns(RuntimeWarning, match="re-estimated"):
        qmodel = mot.quantize(_untrained(), calibration_data=x)
    qmodel.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")
    history = qmodel.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=mot.callbacks(qmodel))
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(np.asarray(v)).all() for v in qmodel.variables)
    assert np.isfinite(qmodel.predict(x, verbose=0)).all()


def _dead_channel_model():
    """Conv-BN-ReLU stack in which one conv output channel is identically zero (batch
    variance exactly 0) and one input channel is constant."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((16, 16, 3))
    h = inputs
    for i in range(4):
        h = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name=f"conv{i}")(h)
        h = keras.layers.BatchNormalization(momentum=0.999, name=f"bn{i}")(h)
        h = keras.layers.ReLU(6.0)(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(4, name="head")(h))
    kernel = model.get_layer("conv1").kernel
    kernel.assign(np.asarray(kernel) * (np.arange(8) != 3))  # channel 3 of conv1 is dead
    return model


def test_dead_channel_model_trains_and_exports_finite(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 16, 16, 3)).astype("float32")
    x[..., 2] = 0.5  # a constant input channel
    y = rng.integers(0, 4, 64)
    qmodel = mot.quantize(_dead_channel_model(), calibration_data=x)
    qmodel.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = qmodel.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=mot.callbacks(qmodel))
    assert np.isfinite(history.history["loss"]).all()
    assert np.isfinite(qmodel.predict(x, verbose=0)).all()
    result = mot.export(
        qmodel, tmp_path / "out", target="tflite_int8", representative_data=(x, y), formats=("tflite",)
    )
    assert result.ok, result.summary()


def test_agreeing_statistics_are_kept():
    x, _ = _images()
    with pytest.warns(RuntimeWarning, match="re-estimated"):
        qmodel = mot.quantize(_untrained(), calibration_data=x)
    bn = next(w.bn for w in wrappers(qmodel) if w.bn is not None)
    before = np.array(bn.moving_variance)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no re-estimation: they now agree
        mot.calibrate(qmodel, x)
    np.testing.assert_array_equal(np.array(bn.moving_variance), before)
    assert bn.momentum == 0.999  # momenta are put back


def test_bad_bn_statistics_mode_is_refused():
    x, _ = _images(8)
    qmodel = mot.quantize(_untrained())
    with pytest.raises(KerasMotError, match=r"bn_statistics.*'refresh'.*auto, keep, reestimate"):
        mot.calibrate(qmodel, x, bn_statistics="refresh")
