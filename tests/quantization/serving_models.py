"""A small model holding every layer kind the serving schemes treat differently."""

import keras


def every_kind_model():
    """Embedding, MultiHeadAttention, EinsumDense, Conv2D, DepthwiseConv2D and a Dense head."""
    inp = keras.Input((8,), dtype="int32")
    x = keras.layers.Embedding(40, 16)(inp)
    x = keras.layers.MultiHeadAttention(2, 8)(x, x)
    x = keras.layers.EinsumDense("abc,cd->abd", (8, 32), bias_axes="d", activation="relu")(x)
    x = keras.layers.Reshape((8, 32, 1))(x)
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(x))
