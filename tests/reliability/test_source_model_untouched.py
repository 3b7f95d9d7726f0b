"""Training the model keras_mot returns leaves the source model's weights alone.

Layers keras_mot leaves float (a LayerNormalization under a weight-only scheme, a layer the
recipe excludes) are copies, not the source's objects; a layer that cannot be copied safely
stays shared and a `shared-with-source` finding says so.
"""

import keras
import numpy as np
import pytest

import keras_mot as mot


def _model(extra=None):
    inp = keras.Input((6,))
    x = keras.layers.Dense(8, name="dense_a")(inp)
    x = keras.layers.LayerNormalization(name="norm")(x)
    if extra is not None:
        x = extra(x)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(x))


def _fit(model, rng):
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.integers(0, 3, 32)
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        lint="off",
    )
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda m, x: mot.quantize(m, target="tf_serving", scheme="int8_weight_only"),
        lambda m, x: mot.quantize(m, calibration_data=x, exclude=["norm"]),
    ],
    ids=["weight_only", "int8_excluded_layer"],
)
def test_training_the_returned_model_leaves_the_source_alone(make):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = _model()
    before = [np.array(w) for w in model.get_weights()]
    new = make(model, rng.normal(size=(16, 6)).astype("float32"))
    source_ids = {id(v) for v in model.weights}
    assert not [v.path for v in new.weights if id(v) in source_ids]
    _fit(new, rng)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


class _Offset(keras.layers.Layer):
    """A user's layer with a weight and no adapter (not a Keras/KerasHub class)."""

    def build(self, input_shape):
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x + self.offset


def test_a_layer_that_is_not_copied_is_reported():
    keras.utils.set_random_seed(0)
    model = _model(_Offset(name="offset"))
    new = mot.quantize(model, target="tf_serving", scheme="int8_weight_only")
    shared = [f for f in new.mot_findings if f.code == "shared-with-source"]
    assert [f.layer for f in shared] == ["offset"]
    assert "original model" in shared[0].message and shared[0].severity == "warning"
