"""Small digits models shared by the export tests (trained for a few steps, real converter)."""

import keras
import pytest

import keras_mot as mot
from keras_mot.garden.digits import load_digits


@pytest.fixture(scope="session")
def digits():
    """(x_train, y_train, x_val, y_val) at 8x8x1 in [0, 1]."""
    x, y = load_digits("train", channels=1)
    xv, yv = load_digits("validation", channels=1)
    return x.astype("float32"), y, xv.astype("float32"), yv


def small_cnn():
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.DepthwiseConv2D(3, padding="same")(h)
    h = keras.layers.ReLU(6.0)(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(10)(h)
    return keras.Model(inputs, outputs, name="small_cnn")


def compile_model(model):
    """Adam + sparse CE on logits; lint off for prepared models (tests read it elsewhere)."""
    kwargs = dict(
        optimizer=keras.optimizers.Adam(5e-3),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    if isinstance(model, mot.PreparedModel):
        kwargs["lint"] = "off"
    model.compile(**kwargs)


@pytest.fixture(scope="session")
def float_model(digits):
    keras.utils.set_random_seed(0)
    x, y, _, _ = digits
    model = small_cnn()
    compile_model(model)
    model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="session")
def qat_model(digits, float_model):
    x, y, _, _ = digits
    model = mot.quantize(float_model, "tflite_int8", calibration_data=x[:128])
    compile_model(model)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=mot.callbacks(model))
    return model
