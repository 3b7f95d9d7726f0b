"""A small classifier with a planted bad layer, shared by the debug tests.

`spiky` is a ReLU Dense layer one of whose rarely active output channels is scaled up 2000x
(and the consumer's matching input row scaled down): the float function is unchanged, but a
few huge activations stretch the int8 range, so the other channels round to zero.
"""

import keras
import numpy as np

CLASSES, FEATURES = 4, 16


def data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype("float32")
    teacher = np.random.default_rng(99).normal(size=(FEATURES, CLASSES))
    y = np.argmax(np.tanh(x @ teacher) + 0.5 * np.abs(x[:, :CLASSES]), axis=1)
    return x, y


def planted_model(scale=2000.0):
    """`(model, x_train, y_train, x_test, y_test)`: trained, then the bad layer planted."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((FEATURES,), name="features")
    h = keras.layers.Dense(64, activation="relu", name="hidden")(inputs)
    h = keras.layers.Dense(64, activation="relu", name="spiky")(h)
    outputs = keras.layers.Dense(CLASSES, name="logits")(h)
    model = keras.Model(inputs, outputs, name="planted")
    x, y = data(4096, 0)
    x_test, y_test = data(1024, 1)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=12, batch_size=64, verbose=0)
    act = keras.Model(inputs, model.get_layer("spiky").output).predict(x, verbose=0)
    rate = (act > 0).mean(axis=0)
    channel = int(np.argmin(np.where(rate > 0.01, rate, 2.0)))  # active, but rarely
    k, b = model.get_layer("spiky").get_weights()
    k[:, channel] *= scale
    b[channel] *= scale
    model.get_layer("spiky").set_weights([k, b])
    k2, b2 = model.get_layer("logits").get_weights()
    k2[channel] /= scale
    model.get_layer("logits").set_weights([k2, b2])
    return model, x, y, x_test, y_test
