"""A clustered model saves to `.keras` (safe_mode=True) and resumes training exactly."""

import keras
import numpy as np

import keras_mot as mot
from tests.compression.helpers import compile_fit, conv_dense_model, data


def _recipe():
    return mot.Recipe(
        "tflite_int8",
        schedule=mot.ConstantSparsity(0.5, 0, frequency=1),
        rules=(
            mot.Rule("class:Conv2D", cluster=mot.Cluster(8), prune=mot.Unstructured()),
            mot.Rule("class:Dense", cluster=mot.Cluster(4, per_channel=True)),
            mot.Rule("_default"),
        ),
    )


def _state(model):
    out = {}
    for w in mot.callbacks.wrappers(model):
        for name, state in w.compression_state().items():
            kernel = w.layer.kernel * w.masks[name] if name in w.masks else w.layer.kernel
            out[w.name] = (np.array(state["centroids"]), np.array(w.compress.assignments(kernel, state)))
    return out


def _same(a, b):
    assert a.keys() == b.keys() and len(a) == 3
    for name in a:
        np.testing.assert_allclose(a[name][0], b[name][0], rtol=0, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(a[name][1], b[name][1], err_msg=name)


def test_keras_round_trip_with_safe_mode_keeps_centroids_assignments_and_outputs(tmp_path):
    x, y = data()
    model = compile_fit(mot.apply(conv_dense_model(), _recipe(), calibration_data=x[:32]), x, y, 1)
    path = str(tmp_path / "clustered.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    _same(_state(model), _state(loaded))
    loaded_wrapper = loaded.get_layer("conv_a")
    assert loaded_wrapper.compress == mot.Cluster(8)
    np.testing.assert_allclose(model.predict(x[:8], verbose=0), loaded.predict(x[:8], verbose=0), atol=1e-5)


def test_resume_from_checkpoint_gives_the_same_centroids_and_assignments(tmp_path):
    x, y = data()
    model = compile_fit(mot.apply(conv_dense_model(), _recipe(), calibration_data=x[:32]), x, y, 1)
    path = str(tmp_path / "checkpoint.keras")
    model.save(path)
    resumed = keras.saving.load_model(path, safe_mode=True)
    for m in (model, resumed):  # the same further epoch, in order
        m.fit(x, y, epochs=1, batch_size=16, callbacks=mot.callbacks(m), verbose=0, shuffle=False)
    _same(_state(model), _state(resumed))
