"""`keras_mot.callbacks` is a package and `mot.callbacks` a function: every documented spelling works."""

import importlib

import keras
import numpy as np

import keras_mot as mot
from keras_mot import callbacks as package_attr
from keras_mot.callbacks import UpdateMasks
from keras_mot.callbacks.pruning import UpdateMasks as UpdateMasksFromModule

PACKAGE = importlib.import_module("keras_mot.callbacks")


def _pruned():
    inp = keras.Input((8,))
    model = keras.Model(inp, keras.layers.Dense(4, name="fc")(inp))
    return mot.prune(model, "generic", schedule=mot.ConstantSparsity(0.5, 0))


def test_the_function_picks_the_callbacks_and_carries_the_classes():
    pmodel = _pruned()
    chosen = mot.callbacks(pmodel)
    assert any(isinstance(c, mot.callbacks.UpdateMasks) for c in chosen)
    assert mot.callbacks.UpdateMasks is UpdateMasks is UpdateMasksFromModule
    for name in PACKAGE.__all__:
        assert getattr(mot.callbacks, name) is getattr(PACKAGE, name), name
    assert package_attr is mot.callbacks


def test_the_package_and_its_modules_import_and_read_as_attributes():
    assert PACKAGE.UpdateMasks is UpdateMasks and "wrappers" in PACKAGE.__all__
    pmodel = _pruned()
    assert len(mot.callbacks.wrappers(pmodel)) == 1
    import keras_mot.callbacks.quantization as quantization  # `import a.b.c as x` reads attributes

    assert quantization.FreezeRanges is mot.callbacks.FreezeRanges
    assert callable(mot.callbacks.pruning.require_update_masks)


def test_mot_callbacks_train_a_pruned_model():
    pmodel = _pruned()
    pmodel.compile(optimizer="sgd", loss="mse", lint="off")
    x = np.random.default_rng(0).normal(size=(16, 8)).astype("float32")
    pmodel.fit(
        x,
        np.zeros((16, 4), "float32"),
        epochs=1,
        batch_size=8,
        verbose=0,
        callbacks=mot.callbacks(pmodel) + [mot.callbacks.StopOnNonFinite()],
    )
    assert mot.callbacks.optimizer_step(pmodel) == 2
