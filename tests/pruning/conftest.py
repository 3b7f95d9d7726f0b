"""Tiny pruned models trained with real Keras steps (helpers shared by the pruning tests)."""

import keras
import numpy as np

import keras_mot as mot
from keras_mot.callbacks import wrappers
from keras_mot.sparsity import get_layout


def dense_model(units=(32, 16), inputs=16):
    """Input(inputs) -> Dense(units[0], relu) -> Dense(units[1])."""
    inp = keras.Input((inputs,))
    x = keras.layers.Dense(units[0], activation="relu", name="fc1")(inp)
    out = keras.layers.Dense(units[1], name="fc2")(x)
    return keras.Model(inp, out)


def conv_model():
    """Input(6, 6, 8) -> Conv2D(16, 3) -> Conv2D(16, 1) -> GAP -> Dense(8)."""
    inp = keras.Input((6, 6, 8))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv3")(inp)
    x = keras.layers.Conv2D(16, 1, activation="relu", name="conv1")(x)
    out = keras.layers.Dense(8, name="fc")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, out)


def data(model, n=64, seed=0):
    """Random regression data matching `model`'s input and output shapes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + tuple(model.inputs[0].shape[1:])).astype("float32")
    y = rng.standard_normal((n,) + tuple(model.outputs[0].shape[1:])).astype("float32")
    return x, y


def compile_(model, lr=1e-2):
    """Adam + MSE, no lint table."""
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", lint="off")
    return model


def pruned(model):
    """{layer path: Wrapper} of the pruned wrappers."""
    return {w.name: w for w in wrappers(model) if w.prune is not None}


def mask_of(wrapper):
    """The wrapper's mask as numpy."""
    return keras.ops.convert_to_numpy(wrapper.kernel_mask)


def as_matrix(array, kind):
    """The (rows, cols) matrix view of a kernel-shaped array (rows = input channels)."""
    return np.asarray(get_layout(kind).to_matrix(keras.ops.convert_to_tensor(array)))


def schedule(final=0.75, begin=0, end=8, frequency=2):
    """A linear PolynomialDecay from 0 to `final`."""
    return mot.PolynomialDecay(0.0, final, begin_step=begin, end_step=end, power=1, frequency=frequency)
