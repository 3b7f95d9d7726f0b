"""Weight clustering: the cascade prune -> cluster -> int8 QAT trains, exports and keeps its
properties in the flatbuffer; configs validate; centroids receive gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mot as mot
from keras_mot.compression.cluster import initial_centroids
from keras_mot.errors import KerasMotError
from tests.compression.helpers import compile_fit, conv_dense_model, data, int8_weights, weight_of


def _cascade_recipe():
    return mot.Recipe(
        "tflite_int8",
        schedule=mot.ConstantSparsity(0.5, 0, frequency=1),
        rules=(
            mot.Rule("class:Conv2D", cluster=mot.Cluster(8), prune=mot.Unstructured(), quantize="int8"),
            mot.Rule(
                "class:Dense",
                compress=mot.Cluster(4, per_channel=True, init="linear"),
                prune=mot.Unstructured(),
                quantize="int8",
            ),
            mot.Rule("_default"),
        ),
    )


def _wrapper(model, name):
    return next(w for w in mot.callbacks.wrappers(model) if w.name == name)


def test_cascade_trains_and_exports_with_zeros_and_at_most_n_int8_values(tmp_path):
    x, y = data()
    model = mot.apply(conv_dense_model(), _cascade_recipe(), calibration_data=x[:32])
    before = np.array(_wrapper(model, "conv_a").compression_state()["kernel"]["centroids"])
    compile_fit(model, x, y, epochs=2)
    after = np.array(_wrapper(model, "conv_a").compression_state()["kernel"]["centroids"])
    assert not np.allclose(before, after), "the centroids did not train"

    result = mot.export(model, str(tmp_path / "out"), representative_data=x[:32])
    assert result.ok, result.summary()
    rows = {r["layer"]: r for r in result.report["compression"]["layers"]}
    assert set(rows) == {"conv_a", "conv_b", "head"}
    assert "no clustered" in result.report["compression"]["note"]
    assert result.report["sizes"]["tflite"]["gzip"] > 0

    weights = int8_weights(open(result.paths["tflite"], "rb").read())
    for name, limit in (("conv_a", 8), ("conv_b", 8)):  # per tensor: one shared grid
        values, _ = weight_of(weights, name)
        assert np.unique(values).size <= limit, (name, np.unique(values))
        assert (values == 0).mean() >= 0.45, name  # the pruned half stays zero
        assert rows[name]["distinct"] <= limit and rows[name]["dtype"] == "int8"
        assert rows[name]["tflite_zeros"] == rows[name]["keras_zeros"]
    values, axis = weight_of(weights, "head")  # per channel
    per_channel = [np.unique(row).size for row in np.moveaxis(values, axis, 0)]
    assert max(per_channel) <= 4 and (values == 0).mean() >= 0.45


def test_per_tensor_clusters_share_one_grid_across_channels_despite_folded_bn():
    x, _ = data(32)
    float_model = conv_dense_model()
    kernel = float_model.get_layer("conv_a").kernel
    spread = np.linspace(0.05, 1.0, 16).astype("float32")  # channel 0 lacks the big centroids
    kernel.assign(np.random.default_rng(1).uniform(-1, 1, kernel.shape).astype("float32") * spread)
    model = mot.apply(
        float_model,
        mot.Recipe(
            "tflite_int8",
            rules=(mot.Rule("conv_a", cluster=mot.Cluster(6, init="density")), mot.Rule("_default")),
        ),
        calibration_data=x,
    )
    bn = model.get_layer("conv_a").bn
    bn.gamma.assign(np.linspace(0.2, 3.0, 16).astype("float32"))  # very different channel scales
    stripped = mot.strip(model)
    kernel = stripped.get_layer("conv_a").layer.kernel.numpy()
    lo, hi = stripped.get_layer("conv_a").weight_ranges()["kernel"]
    codes = np.round(kernel / (np.asarray(hi) / 127.0))
    assert np.unique(codes).size <= 6


def test_centroids_receive_gradients_and_weights_get_straight_through():
    wrapper = mot.Wrapper(keras.layers.Dense(3), quantize=False, compress=mot.Cluster(4))
    x = tf.random.normal((5, 6))
    wrapper(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(wrapper(x, training=True) ** 2)
    centroids = wrapper.compression_state()["kernel"]["centroids"]
    g_c, g_k = tape.gradient(loss, [centroids, wrapper.layer.kernel])
    assert np.abs(g_c.numpy()).sum() > 0 and np.abs(g_k.numpy()).sum() > 0


def test_projection_uses_at_most_n_values_and_keeps_zeros():
    w = np.random.default_rng(0).normal(size=(4, 4, 8, 8)).astype("float32")
    w[w < 0.1] = 0.0
    wrapper = mot.Wrapper(keras.layers.Conv2D(8, 4), quantize=False, compress=mot.Cluster(5))
    wrapper(np.zeros((1, 4, 4, 8), "float32"))
    wrapper.layer.kernel.assign(w)
    projected = np.asarray(wrapper.compressed_weights()["kernel"])
    assert np.unique(projected).size <= 5
    assert np.all(projected[w == 0] == 0)


@pytest.mark.parametrize("init", ["kmeans++", "linear", "density"])
def test_initialisations_are_sorted_and_ignore_zeros(init):
    values = np.concatenate([np.zeros(100), np.linspace(-1, 1, 50)])
    c = initial_centroids(values, 4, init)
    assert c.shape == (4,) and np.all(np.diff(c) >= 0) and c.min() >= -1 and c.max() <= 1


def test_bad_configs_are_clear_errors():
    with pytest.raises(KerasMotError, match="n_clusters"):
        mot.Cluster(1)
    with pytest.raises(KerasMotError, match="init"):
        mot.Cluster(8, init="random")
    with pytest.raises(KerasMotError, match="Unknown weight compression"):
        mot.Rule("_default", compress="nope")


def test_recipe_yaml_and_annotation_carry_the_algorithm(tmp_path):
    recipe = _cascade_recipe()
    again = mot.Recipe.from_yaml(recipe.to_yaml())
    assert again == recipe and again.rules[0].compress == mot.Cluster(8)
    assert "compress" not in mot.Rule("_default").get_config()  # unchanged files for others

    i = keras.Input((6,))
    o = mot.annotate(keras.layers.Dense(3, name="d"), cluster=mot.Cluster(3))(i)
    model = keras.Model(i, keras.layers.Dense(2, name="e")(o))
    path = str(tmp_path / "annotated.keras")
    model.save(path)
    model = keras.saving.load_model(path, safe_mode=True)
    q = mot.quantize(model)
    assert q.get_layer("d").compress == mot.Cluster(3) and q.get_layer("e").compress is None
