"""An algorithm written only against the public `keras_mot.compression` API (as a third party
would) trains in the cascade, serialises in `.keras` with safe_mode=True and exports."""

import dataclasses

import keras
import numpy as np
from keras import ops

import keras_mot as mot
from tests.compression.helpers import compile_fit, conv_dense_model, data, int8_weights, weight_of


@mot.compression.register("tests.Palette")
@dataclasses.dataclass(frozen=True)
class Palette(mot.WeightCompression):
    """A uniform palette of 2**bits - 1 values {-L..L} * step with a trainable step."""

    bits: int = 3

    @property
    def levels(self):
        return 2 ** (self.bits - 1) - 1

    def build(self, layer, weight_name, weight, channel_axis=None):
        step = float(np.abs(weight).max()) / self.levels or 1e-3
        return {
            "step": layer.add_weight(
                name=f"{weight_name}_step",
                shape=(),
                trainable=True,
                initializer=keras.initializers.Constant(step),
            )
        }

    def project(self, weight, state, training=None):
        z = weight / state["step"]
        z = z + ops.stop_gradient(ops.clip(ops.round(z), -self.levels, self.levels) - z)
        return z * state["step"]

    def shared_magnitude(self, state):
        return ops.abs(state["step"]) * self.levels


def test_third_party_palette_trains_saves_and_exports(tmp_path):
    x, y = data()
    recipe = mot.Recipe(
        "tflite_int8",
        schedule=mot.ConstantSparsity(0.5, 0, frequency=1),
        rules=(mot.Rule("class:Conv2D", compress=Palette(3), prune=mot.Unstructured()), mot.Rule("_default")),
    )
    assert "tests.Palette" in mot.compression.registered()
    model = mot.apply(conv_dense_model(), recipe, calibration_data=x[:32])
    step = model.get_layer("conv_b").compression_state()["kernel"]["step"]
    before = float(step.numpy())
    compile_fit(model, x, y, epochs=2)
    assert float(step.numpy()) != before, "the palette step did not train"

    path = str(tmp_path / "palette.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.get_layer("conv_b").compress == Palette(3)
    np.testing.assert_allclose(model.predict(x[:8], verbose=0), loaded.predict(x[:8], verbose=0), atol=1e-5)

    result = mot.export(loaded, str(tmp_path / "out"), representative_data=x[:32])
    assert result.ok, result.summary()
    assert {r["algorithm"] for r in result.report["compression"]["layers"]} == {"Palette"}
    weights = int8_weights(open(result.paths["tflite"], "rb").read())
    for name in ("conv_a", "conv_b"):
        values, _ = weight_of(weights, name)
        assert np.unique(values).size <= 7, (name, np.unique(values))
        assert (values == 0).mean() >= 0.45
