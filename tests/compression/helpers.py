"""Small model, data and flatbuffer readers shared by the compression tests."""

import keras
import numpy as np

from keras_mot.export.tflite_model import TfliteModel


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 3)).astype("float32")
    y = (x[:, :4, :4, 0].mean(axis=(1, 2)) > 0).astype("int32") + 2 * (
        x[:, 4:, 4:, 1].mean(axis=(1, 2)) > 0
    ).astype("int32")
    return x, y


def conv_dense_model():
    """Conv + BatchNormalization + ReLU, a second conv, Dense head (folded BN on the first)."""
    i = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(16, 3, use_bias=False, name="conv_a")(i)
    h = keras.layers.BatchNormalization(name="bn_a")(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Conv2D(16, 3, activation="relu", name="conv_b")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    o = keras.layers.Dense(4, name="head")(h)
    return keras.Model(i, o)


def compile_fit(model, x, y, epochs=2, shuffle=True):
    import keras_mot as mot

    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=epochs, batch_size=16, callbacks=mot.callbacks(model), verbose=0, shuffle=shuffle)
    return model


def int8_weights(tflite_bytes):
    """`{tensor name: int8 array}` of the constant int8 weights with 2+ dimensions."""
    parsed = TfliteModel(tflite_bytes)
    out = {}
    for i, t in enumerate(parsed.tensors):
        d = parsed.data(i)
        if d is not None and d.dtype == np.int8 and len(t.shape) >= 2:
            out[t.name] = (np.asarray(d).reshape(t.shape), t.quantized_dimension)
    return out


def weight_of(weights, layer_name):
    names = [n for n in weights if f"/{layer_name}" in n]
    assert len(names) == 1, (layer_name, list(weights))
    return weights[names[0]]
