"""The export check finds each compressed layer's own tensor when blocks repeat sublayer names."""

import keras
import numpy as np

import keras_mot as mot
from keras_mot.compression.export_check import path_score


def _block(name, width):
    i = keras.Input((width,))
    return keras.Model(i, keras.layers.Dense(width, activation="relu", name="ffn")(i), name=name)


def testpath_score_prefers_the_enclosing_block():
    layer_1 = "bert_backbone/transformer_layer_1/ffn"
    own = "bert_1/bert_backbone_1/transformer_layer_1_1/ffn_1/MatMul"
    other = "bert_1/bert_backbone_1/transformer_layer_0_1/ffn_1/MatMul"
    assert path_score(own, layer_1) == 3
    assert path_score(other, layer_1) == 2
    assert path_score("a/ffn_2/MatMul;x/transformer_layer_1/ffn/BiasAdd", layer_1) == 2  # fused names


def test_repeated_block_layers_are_checked_against_their_own_tensors(tmp_path):
    i = keras.Input((16,))
    h = _block("block_0", 16)(i)
    h = _block("block_1", 16)(h)
    model = keras.Model(i, keras.layers.Dense(4, name="head")(h))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 16)).astype("float32")
    weights = model.get_weights()
    weights[2][:, :8] = 0.0  # block_1's ffn: half its kernel zero, block_0's none
    model.set_weights(weights)
    recipe = mot.Recipe(
        "tflite_int8", rules=(mot.Rule("re:block_./ffn", cluster=mot.Cluster(8)), mot.Rule("_default"))
    )
    prepared = mot.apply(model, recipe, calibration_data=x[:32])
    result = mot.export(prepared, str(tmp_path / "out"), representative_data=x[:32], formats=("tflite",))
    rows = {r["layer"]: r for r in result.report["compression"]["layers"]}
    assert set(rows) == {"block_0/ffn", "block_1/ffn"}
    for path, row in rows.items():
        assert path.split("/")[0] in row["tensor"], row
        assert row["tflite_zeros"] == row["keras_zeros"], row
    assert rows["block_1/ffn"]["keras_zeros"] >= 128 > rows["block_0/ffn"]["keras_zeros"]
    assert result.ok, result.summary()
