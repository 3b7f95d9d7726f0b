"""The QAT training step's shortcuts leave its numerics unchanged bit for bit.

A fused ReLU / ReLU6 output's batch range skips the min reduction: its min is exactly 0.
"""

import keras
import numpy as np

import keras_mot as mot
from keras_mot.quantization import ranges
from keras_mot.quantization.scheme import QuantSpec
from keras_mot.wrapper import Wrapper


def _model():
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.Conv2D(6, 1, use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3)(x))


def _trained_variables(x, y):
    keras.utils.set_random_seed(1)
    q = mot.quantize(_model(), calibration_data=x)
    q.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", lint="off")
    q.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return [np.asarray(v) for v in q.variables], q.predict(x, verbose=0)


def test_relu_range_shortcut_trains_bit_for_bit_like_the_general_range(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (16, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, 16).astype("int32")
    used = []
    nonnegative = Wrapper._nonnegative

    def counting(self, name):
        used.append(nonnegative(self, name))
        return used[-1]

    monkeypatch.setattr(Wrapper, "_nonnegative", counting)
    fast, fast_pred = _trained_variables(x, y)
    assert sum(used) >= 2  # both fused ReLU outputs took the shortcut
    monkeypatch.setattr(Wrapper, "_nonnegative", lambda self, name: False)
    general, general_pred = _trained_variables(x, y)
    assert len(fast) == len(general)
    for a, b in zip(fast, general):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast_pred, general_pred)


def test_nonnegative_batch_range_equals_the_general_one():
    spec = QuantSpec(bits=8)
    for x in (np.zeros((2, 3), "float32"), np.array([[0.0, 0.5], [6.0, 0.0]], "float32")):
        fast = [float(v) for v in ranges.activation_batch_range(x, spec, nonnegative=True)]
        general = [float(v) for v in ranges.activation_batch_range(x, spec)]
        assert fast == general
        assert np.signbit(fast[0]) == np.signbit(general[0])
