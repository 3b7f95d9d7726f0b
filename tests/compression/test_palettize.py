"""`Palettize`, the second built-in algorithm on the same API: trains, saves, exports with at most
2**bits - 1 int8 values per tensor (per channel with per_channel=True)."""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.compression import Palettize
from keras_mot.errors import KerasMotError
from tests.compression.helpers import compile_fit, conv_dense_model, data, int8_weights, weight_of


def test_palettize_trains_saves_and_exports_within_its_palette(tmp_path):
    x, y = data()
    recipe = mot.Recipe(
        "tflite_int8",
        rules=(
            mot.Rule("class:Conv2D", compress=Palettize(3)),
            mot.Rule("class:Dense", compress=Palettize(2, per_channel=True)),
            mot.Rule("_default"),
        ),
    )
    model = mot.apply(conv_dense_model(), recipe, calibration_data=x[:32])
    step = model.get_layer("conv_b").compression_state()["kernel"]["step"]
    before = np.array(step)
    compile_fit(model, x, y, epochs=1)
    assert not np.allclose(before, np.array(step)), "the step did not train"

    path = str(tmp_path / "palette.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(model.predict(x[:8], verbose=0), loaded.predict(x[:8], verbose=0), atol=1e-5)
    result = mot.export(loaded, str(tmp_path / "out"), representative_data=x[:32])
    assert result.ok, result.summary()
    rows = {r["layer"]: r for r in result.report["compression"]["layers"]}
    assert rows["conv_a"]["limit"] == 7 and rows["conv_a"]["distinct"] <= 7
    assert rows["head"]["per_channel"] and 2 <= rows["head"]["distinct"] <= 3
    weights = int8_weights(open(result.paths["tflite"], "rb").read())
    values, axis = weight_of(weights, "head")
    assert max(np.unique(r).size for r in np.moveaxis(values, axis, 0)) <= 3


def test_stored_form_reconstructs_the_projection():
    wrapper = mot.Wrapper(keras.layers.Dense(5), quantize=False, compress=Palettize(3))
    wrapper(np.zeros((1, 4), "float32"))
    state = wrapper.compression_state()["kernel"]
    kernel = wrapper.layer.kernel
    stored = wrapper.compress.stored(kernel, state)
    assert stored["indices"].dtype == np.int8 and np.abs(stored["indices"]).max() <= 3
    np.testing.assert_allclose(
        wrapper.compress.reconstruct(stored), np.asarray(wrapper.compressed_weights()["kernel"]), atol=1e-6
    )


def test_bad_bits_is_a_clear_error():
    with pytest.raises(KerasMotError, match="bits"):
        Palettize(9)
