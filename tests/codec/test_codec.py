"""`keras_mot.codec`: every registered type round-trips through YAML and JSON; recipe files and
`.keras` files hold the same encoding; unknown, disallowed and future-version data is refused."""

import json
import zipfile

import keras
import numpy as np
import pytest
import yaml

import keras_mot as mot
from keras_mot import codec
from keras_mot.errors import KerasMotError
from keras_mot.quantization.scheme import QuantSpec, get_scheme
from keras_mot.sparsity import PruningSchedule, SparsityPattern

POLY = mot.PolynomialDecay(0.0, 0.75, begin_step=2, end_step=14, power=2, frequency=4)
CONST = mot.ConstantSparsity(0.5, begin_step=3, end_step=-1, frequency=7)

# Instances of every registered type. A type registered without an entry here fails
# `test_every_registered_type_has_a_conformance_case`.
EXAMPLES = {
    "Unstructured": [mot.Unstructured()],
    "Block": [mot.Block(4, 1), mot.Block(1, 16, pooling="max")],
    "NofM": [mot.NofM(2, 4)],
    "PolynomialDecay": [POLY],
    "ConstantSparsity": [CONST, mot.ConstantSparsity(0.25, 0, end_step=9, frequency=1)],
    "PruneSpec": [mot.PruneSpec(mot.NofM(2, 4), CONST), mot.PruneSpec(mot.Block(4, 1), POLY)],
    "QuantSpec": [QuantSpec(bits=4, symmetric=True, narrow_range=True, per_channel=True)],
    "QuantScheme": [get_scheme(n) for n in ("int8", "int8_per_tensor", "int16x8", "int4w_int8a")],
    "WeightOnlyScheme": [
        get_scheme("int8_weight_only"),
        get_scheme("int4_weight_only_b32"),
        get_scheme("int8_weight_only_bf16"),
    ],
    "Rule": [
        mot.Rule("re:.*logits", quantize=None),
        mot.Rule("class:Dense", "int8", mot.Block(4, 1)),
        mot.Rule("_default", prune="target"),
        mot.Rule("class:Conv2D", cluster=mot.Cluster(16), prune=mot.Unstructured()),
    ],
    "Cluster": [mot.Cluster(16), mot.Cluster(4, init="density", per_channel=True, seed=3)],
    "Palettize": [mot.compression.Palettize(4), mot.compression.Palettize(2, per_channel=True)],
    "Recipe": [
        mot.Recipe(),
        mot.Recipe(
            "generic",
            schedule=POLY,
            rules=(mot.Rule("conv", quantize="int16x8", prune=mot.Unstructured()), mot.Rule("_default")),
        ),
    ],
}


def test_every_registered_type_has_a_conformance_case():
    own = {n for n, cls in codec.registered().items() if cls.__module__.startswith("keras_mot")}
    missing = sorted(own - set(EXAMPLES))
    assert not missing, f"add conformance cases for {missing}"


CASES = [(name, obj) for name, objs in EXAMPLES.items() for obj in objs]


@pytest.mark.parametrize("name,obj", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_round_trip_through_yaml_and_json(name, obj):
    data = codec.encode(obj)
    assert set(data) == {"type", "version", "config"} and data["type"] == name
    assert data["version"] == codec.version_of(type(obj))
    for text in (yaml.safe_dump(data), json.dumps(data)):
        again = yaml.safe_load(text)  # JSON is YAML
        assert again == data
        restored = codec.decode(again, expect=type(obj))
        assert restored == obj and type(restored) is type(obj)
        assert codec.encode(restored) == data


def test_recipe_yaml_and_keras_configs_hold_the_same_encoding(tmp_path):
    block, scheme = mot.Block(4, 1), get_scheme("int8")
    recipe = mot.Recipe(
        "tflite_int8",
        schedule=POLY,
        rules=(mot.Rule("fc", quantize="int8", prune=block), mot.Rule("_default", quantize=None)),
    )
    inputs = keras.Input((8,))
    hidden = mot.annotate(keras.layers.Dense(8, name="fc"), quantize="int8", prune=block)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(hidden))
    annotated_config = model.get_layer("fc").get_config()
    prepared = mot.apply(model, recipe)
    prepared.save(tmp_path / "m.keras")

    from_yaml = yaml.safe_load(recipe.to_yaml())
    assert from_yaml == recipe.to_dict() == codec.encode(recipe)
    rule_prune = from_yaml["config"]["rules"][0]["config"]["prune"]
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        saved = json.loads(archive.read("config.json"))
    layer = next(c for c in saved["config"]["layers"] if c["config"]["name"] == "fc")["config"]
    assert (
        rule_prune == annotated_config["prune"] == layer["prune"]["config"]["pattern"] == codec.encode(block)
    )
    assert layer["prune"] == codec.encode(mot.PruneSpec(block, POLY))
    assert layer["scheme"] == codec.encode(scheme)
    assert from_yaml["config"]["schedule"] == layer["prune"]["config"]["schedule"]

    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    wrapper = loaded.get_layer("fc")
    assert wrapper.prune == mot.PruneSpec(block, POLY) and wrapper.scheme == scheme
    x = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(prepared(x)))


def test_short_form_and_typeless_forms_read_as_version_one():
    assert codec.decode({"type": "Block", "rows": 4, "cols": 1}, SparsityPattern) == mot.Block(4, 1)
    assert codec.decode({"type": "Block", "version": 1, "rows": 2, "cols": 2}) == mot.Block(2, 2)
    assert codec.decode({"bits": 8}, expect=QuantSpec) == QuantSpec(bits=8)
    recipe = mot.Recipe.from_yaml("version: 1\ntarget: generic\nrules:\n  - {select: _default}\n")
    assert recipe == mot.Recipe("generic")


@pytest.mark.parametrize(
    "data,expect,match",
    [
        (
            {"type": "os.system", "config": {}},
            SparsityPattern,
            r"Unknown SparsityPattern type.*'os.system'.*Use one of: Block, NofM, Unstructured",
        ),
        (
            {"type": "Blok", "config": {}},
            None,
            r"Unknown keras_mot object type.*'Blok'.*Block, Cluster, ConstantSparsity",
        ),
        (
            {"type": "PolynomialDecay", "config": POLY.get_config()},
            SparsityPattern,
            r"A SparsityPattern is expected here; 'PolynomialDecay' is not one.*Block, NofM, Unstructured",
        ),
        (
            {"type": "Block", "version": 2, "config": {"rows": 4, "cols": 1}},
            SparsityPattern,
            r"written by a newer keras_mot \(config version 2\).*up to 1.*Upgrade keras_mot",
        ),
        ({"type": "Block", "version": 0, "config": {"rows": 4, "cols": 1}}, None, r"Invalid version.*0"),
        ({"type": "Block", "version": "1", "config": {"rows": 4, "cols": 1}}, None, r"Invalid version.*'1'"),
        ({"type": "Block", "version": True, "config": {"rows": 4, "cols": 1}}, None, r"Invalid version"),
        ({"type": "Block", "config": {"rows": 4, "size": 1}}, None, r"does not fit Block.*size"),
        ({"type": "Block", "config": [4, 1]}, None, r"config of a Block must be a mapping"),
        ({"rows": 4, "cols": 1}, SparsityPattern, r"needs a 'type' key.*Block, NofM, Unstructured"),
        ("Block", PruningSchedule, r"Expected an encoded PruningSchedule"),
        ({"type": "Block", "config": {"rows": 0, "cols": 1}}, None, r"rows.*positive integer"),
    ],
)
def test_bad_data_is_refused_with_a_clear_error(data, expect, match):
    with pytest.raises(KerasMotError, match=match):
        codec.decode(data, expect=expect)


def test_keras_load_refuses_a_type_outside_the_allowlist(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, mot.annotate(keras.layers.Dense(2), prune=mot.Block(2, 1))(inputs))
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    text = files["config.json"].decode()
    assert '"type": "Block"' in text
    files["config.json"] = text.replace('"type": "Block"', '"type": "builtins.eval"').encode()
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    with pytest.raises(Exception, match="Unknown SparsityPattern type.*builtins.eval"):
        keras.saving.load_model(tmp_path / "bad.keras", safe_mode=True)


class _Opaque:
    pass


def test_encoding_an_unregistered_or_non_plain_object_is_refused(monkeypatch):
    with pytest.raises(KerasMotError, match="_Opaque is not a type keras_mot's codec can write"):
        codec.encode(_Opaque())
    monkeypatch.setattr(codec, "_BY_NAME", dict(codec._BY_NAME))
    monkeypatch.setattr(codec, "_BY_CLASS", dict(codec._BY_CLASS))

    @codec.register("tests.Tupled")
    class Tupled:
        def get_config(self):
            return {"sizes": (1, 2)}

        @classmethod
        def from_config(cls, config):
            return cls()

    with pytest.raises(KerasMotError, match=r"tests.Tupled.sizes is not plain data.*\(1, 2\)"):
        codec.encode(Tupled())


def test_register_rejects_a_taken_name_and_missing_upgrades(monkeypatch):
    monkeypatch.setattr(codec, "_BY_NAME", dict(codec._BY_NAME))
    monkeypatch.setattr(codec, "_BY_CLASS", dict(codec._BY_CLASS))
    with pytest.raises(TypeError, match="'Block' is taken by keras_mot.sparsity.patterns.Block"):

        @codec.register("Block")
        class Block(SparsityPattern):
            pass

    with pytest.raises(TypeError, match=r"needs upgrades from versions \[1, 2\]"):

        @codec.register("tests.Ladder", version=3)
        class Ladder(SparsityPattern):
            pass


def test_a_new_version_reads_older_data_through_its_upgrades(monkeypatch):
    monkeypatch.setattr(codec, "_BY_NAME", dict(codec._BY_NAME))
    monkeypatch.setattr(codec, "_BY_CLASS", dict(codec._BY_CLASS))

    # version 1 had `size` (square blocks); version 2 has rows and cols
    @codec.register("tests.Tile", version=2, upgrades={1: lambda c: {"rows": c["size"], "cols": c["size"]}})
    class Tile(SparsityPattern):
        def __init__(self, rows, cols):
            self.rows, self.cols = rows, cols

        def get_config(self):
            return {"rows": self.rows, "cols": self.cols}

    assert codec.decode({"type": "tests.Tile", "version": 1, "config": {"size": 3}}) == Tile(3, 3)
    assert codec.decode({"type": "tests.Tile", "size": 2}) == Tile(2, 2)  # no version: 1
    assert codec.encode(Tile(1, 4)) == {"type": "tests.Tile", "version": 2, "config": {"rows": 1, "cols": 4}}
    assert "tests.Tile" in codec.registered(SparsityPattern)
