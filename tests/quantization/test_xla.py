"""A QAT training step compiles with XLA (`compile(jit_compile=True)`) and matches the plain step."""

import keras
import numpy as np
import pytest

import keras_mot as mot

L = keras.layers

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="jit_compile=True here is TensorFlow's XLA"
)


def _model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(inp)
    x = L.BatchNormalization(name="bn")(x)
    x = L.ReLU(6.0, name="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, L.Dense(4, name="fc")(x))


def _trained(jit, x, y, weights):
    q = mot.quantize(_model(), calibration_data=x)
    q.set_weights(weights)
    q.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    q.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=mot.callbacks(q))
    return q


def test_qat_step_compiles_with_xla_and_matches_the_plain_step():
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 1.0, (48, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 4, 48).astype("int32")
    weights = mot.quantize(_model(), calibration_data=x).get_weights()
    plain = _trained(False, x, y, weights)
    xla = _trained(True, x, y, weights)
    assert xla.jit_compile is True  # XLA was kept, not silently turned off
    names = [v.path for v in plain.weights]
    assert names == [v.path for v in xla.weights]
    # XLA fuses and orders float ops differently: a value on a rounding tie may land one int8
    # step apart (about 2e-3 of these ranges), never more.
    for name, a, b in zip(names, plain.get_weights(), xla.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-3, err_msg=name)
    moved = sum(not np.allclose(a, b) for a, b in zip(weights, plain.get_weights()))
    assert moved > 0  # the steps really trained
    np.testing.assert_allclose(np.asarray(xla(x[:8])), np.asarray(plain(x[:8])), atol=0.05)
