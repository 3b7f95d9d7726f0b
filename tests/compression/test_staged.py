"""Staged cascade: prune first, initialise the compression from the pruned weights at
`start_step`, then cluster-preserving int8 QAT; saving and resuming around `start_step`."""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.compression.cluster import initial_centroids
from keras_mot.errors import KerasMotError
from tests.compression.helpers import conv_dense_model, data, int8_weights, weight_of

START = 6  # 96 examples / batch 16: the first step of the second epoch


def _recipe(algorithm):
    return mot.Recipe(
        "tflite_int8",
        schedule=mot.PolynomialDecay(0.0, 0.5, 0, START - 2, frequency=2),
        rules=(
            mot.Rule("class:Conv2D", compress=algorithm, prune=mot.Unstructured()),
            mot.Rule("_default"),
        ),
    )


def _compile(model):
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _fit(model, x, y, extra=()):
    cbs = mot.callbacks(model) + list(extra)
    model.fit(x, y, epochs=1, batch_size=16, callbacks=cbs, verbose=0, shuffle=False)


class _AtActivation(keras.callbacks.Callback):
    """Records the masked kernel and the centroids of `conv_b` at the batch where it starts."""

    def on_train_batch_begin(self, batch, logs=None):
        w = self.model.get_layer("conv_b")
        if w.compression_is_active() and not hasattr(self, "centroids"):
            self.step = int(self.model.optimizer.iterations.numpy())
            self.kernel = np.array(w.layer.kernel) * np.array(w.masks["kernel"])
            self.centroids = np.array(w.compression_state()["kernel"]["centroids"])


def test_clusters_start_at_start_step_from_the_pruned_weights_and_export_clustered(tmp_path):
    x, y = data()
    model = _compile(
        mot.apply(conv_dense_model(), _recipe(mot.Cluster(8, start_step=START)), calibration_data=x[:32])
    )
    kinds = [type(c).__name__ for c in mot.callbacks(model)]
    assert kinds.index("UpdateCompression") == kinds.index("UpdateMasks") + 1
    _fit(model, x, y)  # steps 0..5: pruned to 50 %, not clustered yet
    w = model.get_layer("conv_b")
    assert not w.compression_is_active()
    free = np.array(w.compressed_weights()["kernel"])
    assert np.unique(free[free != 0]).size > 100 and abs((free == 0).mean() - 0.5) < 0.02

    probe = _AtActivation()
    _fit(model, x, y, [probe])
    assert probe.step == START and w.compression_is_active()
    expected = initial_centroids(probe.kernel, 7, "kmeans++", 0)
    np.testing.assert_allclose(probe.centroids[0], expected, rtol=1e-6)
    clustered = np.array(w.compressed_weights()["kernel"])
    assert np.unique(clustered).size <= 8 and (clustered == 0).mean() >= 0.5

    result = mot.export(model, str(tmp_path / "out"), representative_data=x[:32])
    assert result.ok, result.summary()
    values, _ = weight_of(int8_weights(open(result.paths["tflite"], "rb").read()), "conv_b")
    assert np.unique(values).size <= 8 and (values == 0).mean() >= 0.45


def test_palettize_is_staged_the_same_way():
    x, y = data()
    model = _compile(
        mot.apply(
            conv_dense_model(),
            _recipe(mot.compression.Palettize(3, start_step=START)),
            calibration_data=x[:32],
        )
    )
    _fit(model, x, y)
    w = model.get_layer("conv_b")
    assert not w.compression_is_active()
    _fit(model, x, y)
    kernel = np.array(w.compressed_weights()["kernel"])
    step = float(np.array(w.compression_state()["kernel"]["step"]))
    assert w.compression_is_active() and np.unique(np.round(kernel / step)).size <= 7


def _state(model):
    out = {}
    for w in mot.callbacks.wrappers(model):
        for name, state in w.compression_state().items():
            kernel = w.layer.kernel * w.masks[name]
            out[w.name] = (
                np.array(state["centroids"]),
                np.array(w.compress.assignments(kernel, state)),
                np.array(kernel),
                w.compression_is_active(),
            )
    return out


@pytest.mark.parametrize("stop_at", [3, 9], ids=["before_start", "after_start"])
def test_resume_from_a_checkpoint_before_or_after_start_step_is_exact(tmp_path, stop_at):
    x, y = data()
    half = x[:48], y[:48]
    rest = x[48:], y[48:]
    chunks = [half, rest, (x, y)] if stop_at == 3 else [(x, y), half, rest, (x, y)]
    split = 1 if stop_at == 3 else 2  # checkpoint at optimizer step 3 or 9

    def fresh():
        keras.utils.set_random_seed(0)
        return _compile(
            mot.apply(conv_dense_model(), _recipe(mot.Cluster(8, start_step=START)), calibration_data=x[:32])
        )

    straight = fresh()
    for cx, cy in chunks:
        _fit(straight, cx, cy)

    resumed = fresh()
    for cx, cy in chunks[:split]:
        _fit(resumed, cx, cy)
    assert int(resumed.optimizer.iterations.numpy()) == stop_at
    path = str(tmp_path / "checkpoint.keras")
    resumed.save(path)
    resumed = keras.saving.load_model(path, safe_mode=True)
    assert resumed.get_layer("conv_b").compress == mot.Cluster(8, start_step=START)
    assert resumed.get_layer("conv_b").compression_is_active() == (stop_at > START)
    for cx, cy in chunks[split:]:
        _fit(resumed, cx, cy)

    a, b = _state(straight), _state(resumed)
    assert a.keys() == b.keys() == {"conv_a", "conv_b"}
    for name in a:
        assert a[name][3] and b[name][3]
        np.testing.assert_allclose(a[name][0], b[name][0], rtol=0, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(a[name][1], b[name][1], err_msg=name)
        np.testing.assert_allclose(a[name][2], b[name][2], rtol=0, atol=1e-6, err_msg=name)


def test_training_a_staged_model_without_update_compression_is_a_clear_error():
    x, y = data()
    model = _compile(
        mot.apply(conv_dense_model(), _recipe(mot.Cluster(8, start_step=START)), calibration_data=x[:32])
    )
    with pytest.raises(KerasMotError, match="UpdateCompression"):
        model.fit(x, y, epochs=1, batch_size=16, callbacks=[mot.callbacks.UpdateMasks()], verbose=0)


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_bad_start_step_is_a_clear_error(bad):
    with pytest.raises(KerasMotError, match="start_step"):
        mot.Cluster(8, start_step=bad)
