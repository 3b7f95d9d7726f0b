"""Shared bits of the examples: the embedded digits data and a small CNN for 8x8 images."""

import argparse

import keras

from keras_mot.garden.digits import load_digits


def parse_args(description, argv=None, epochs=10, out=None):
    """`--epochs`, `--out` and `--fast` (one epoch; what the tests run)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    if out is not None:
        parser.add_argument("--out", default=out, help="output directory")
    parser.add_argument("--fast", action="store_true", help="one epoch (smoke test)")
    args = parser.parse_args(argv)
    if args.fast:
        args.epochs = 1
    return args


def digits():
    """(x_train, y_train, x_val, y_val): 8x8x1 digits in [0, 1]; val is the held-out split."""
    x, y = load_digits("train", channels=1)
    xv, yv = load_digits("validation", channels=1)
    return x, y, xv, yv


def small_cnn():
    """Conv-BN-ReLU, depthwise, pooling, dense: every layer kind keras_mot quantizes."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.Conv2D(32, 1)(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10)(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def compile_kwargs(learning_rate=3e-3):
    """Adam on logits with accuracy."""
    return dict(
        optimizer=keras.optimizers.Adam(learning_rate),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
