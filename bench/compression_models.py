"""The models of bench/compression.py, buildable with Keras 3 and with tf_keras (the tfmot side).

Each entry: `build(keras)`, `data()` -> (x_train, y_train, x_held_out, y_held_out) on the embedded
digits, and the Keras layer classes the compression rules select. Neither keras_mot nor Keras is
imported here (the peer process imports tf_keras as `keras` and passes it in).

Example:
    >>> spec = MODELS["mlp"]
    >>> x_tr, y_tr, x_te, y_te = spec.data()
    >>> x_tr.shape[1:]
    (64,)
"""

import dataclasses

import common
import numpy as np
import qat_protocol


def _digits(flat):
    x_tr, y_tr = common.load_digits("train", None if flat else qat_protocol.IMAGE_SIZE, 1 if flat else 3)
    held = [
        common.load_digits(s, None if flat else qat_protocol.IMAGE_SIZE, 1 if flat else 3)
        for s in ("validation", "test")
    ]
    x_te, y_te = np.concatenate([x for x, _ in held]), np.concatenate([y for _, y in held])
    if flat:
        x_tr, x_te = x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    return x_tr, y_tr, x_te, y_te


def _mobilenetv2(keras):
    return common.build_mobilenetv2(keras, qat_protocol.IMAGE_SIZE + (3,), classes=10)


def _mlp(keras):
    inputs = keras.Input((64,))
    h = keras.layers.Dense(1024, activation="relu", name="fc1")(inputs)
    h = keras.layers.Dense(1024, activation="relu", name="fc2")(h)
    return keras.Model(inputs, keras.layers.Dense(10, name="logits")(h), name="mlp")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One benchmark model: its builder, its data and the layer classes the rules compress."""

    build: object
    data: object
    classes: tuple


MODELS = {
    "mobilenetv2": ModelSpec(_mobilenetv2, lambda: _digits(False), ("Conv2D", "DepthwiseConv2D", "Dense")),
    "mlp": ModelSpec(_mlp, lambda: _digits(True), ("Dense",)),
}
