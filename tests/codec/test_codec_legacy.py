"""Files written before `keras_mot.codec` (tests/fixtures/legacy_v0) still load, compute the same
outputs and keep training; saving them again writes the codec's encoding."""

import json
import os
import zipfile

import keras
import numpy as np
import pytest
import yaml

import keras_mot as mot
from keras_mot import codec
from keras_mot.callbacks import wrappers

HERE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "legacy_v0")
SCHEDULE = mot.PolynomialDecay(0.0, 0.5, 0, 4, power=2, frequency=2)
RECIPE = mot.Recipe(
    "generic",
    schedule=SCHEDULE,
    rules=(
        mot.Rule("logits", quantize="int8_per_tensor", prune=mot.Block(4, 1, pooling="max")),
        mot.Rule("conv", quantize="int16x8", prune=mot.Unstructured()),
        mot.Rule("_default"),
    ),
)


def _path(name):
    return os.path.join(HERE, name)


def _saved_layers(path):
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    return {c["config"]["name"]: c["config"] for c in config["config"]["layers"]}


def test_legacy_recipe_yaml_loads_and_rewrites_in_the_codec_form(tmp_path):
    with open(_path("recipe.yaml")) as f:
        raw = yaml.safe_load(f)
    assert "type" not in raw and raw["rules"][0]["prune"] == {
        "type": "Block",
        "rows": 4,
        "cols": 1,
        "pooling": "max",
    }
    recipe = mot.Recipe.from_yaml(_path("recipe.yaml"))
    assert recipe == RECIPE
    recipe.to_yaml(tmp_path / "new.yaml")
    with open(tmp_path / "new.yaml") as f:
        assert yaml.safe_load(f) == codec.encode(RECIPE)
    assert mot.Recipe.from_yaml(str(tmp_path / "new.yaml")) == RECIPE


def test_legacy_prepared_model_loads_exactly_and_keeps_training(tmp_path):
    layers = _saved_layers(_path("prepared.keras"))
    assert layers["logits"]["prune"]["class_name"] == "PruneSpec"  # the Keras-registry form
    assert "type" not in layers["logits"]["scheme"]  # a bare scheme mapping
    model = keras.saving.load_model(_path("prepared.keras"), safe_mode=True)
    io = np.load(_path("io.npz"))
    np.testing.assert_array_equal(np.asarray(model(io["x"])), io["y"])
    found = {w.name: w for w in wrappers(model)}
    assert found["logits"].scheme == mot.get_scheme("int8_per_tensor")
    assert found["conv"].scheme == mot.get_scheme("int16x8")
    assert found["fc1"].prune == mot.PruneSpec(mot.NofM(2, 4), SCHEDULE)  # from annotate
    assert found["logits"].prune == mot.PruneSpec(mot.Block(4, 1, pooling="max"), SCHEDULE)
    assert found["conv"].prune == mot.PruneSpec(mot.Unstructured(), SCHEDULE)
    assert int(model.optimizer.iterations) == 2 and float(found["logits"].mask_step) == 0.0
    assert np.all(keras.ops.convert_to_numpy(found["logits"].kernel_mask) == 1)  # sparsity 0 at step 0

    model.fit(io["x"], io["t"], batch_size=4, epochs=1, callbacks=mot.callbacks(model), verbose=0)
    assert float(found["logits"].mask_step) == 2.0  # the saved schedule goes on at step 2
    kernel = keras.ops.convert_to_numpy(found["logits"].kernel_mask)
    assert np.mean(kernel == 0) == pytest.approx(SCHEDULE.sparsity_at(2))  # 3 of 8 blocks of 4x1

    model.save(tmp_path / "again.keras")
    layers = _saved_layers(tmp_path / "again.keras")
    assert layers["logits"]["prune"] == codec.encode(found["logits"].prune)
    assert layers["logits"]["scheme"] == codec.encode(mot.get_scheme("int8_per_tensor"))
    again = keras.saving.load_model(tmp_path / "again.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(again(io["x"])), np.asarray(model(io["x"])))


def test_legacy_annotated_model_loads_and_its_annotation_still_wins(tmp_path):
    layers = _saved_layers(_path("annotated.keras"))
    assert layers["fc1"]["prune"] == {"type": "NofM", "n": 2, "m": 4}  # the old short form
    model = keras.saving.load_model(_path("annotated.keras"), safe_mode=True)
    annotated = model.get_layer("fc1")
    assert isinstance(annotated, mot.Annotated) and annotated.prune == mot.NofM(2, 4)
    assert annotated.get_config()["prune"] == codec.encode(mot.NofM(2, 4))
    prepared = mot.apply(model, RECIPE)
    assert prepared.get_layer("fc1").prune.pattern == mot.NofM(2, 4)
