"""Clustering a MultiHeadAttention: its four projections (query, key, value, output kernels, all
of one size) are each clustered, exported as int8 FULLY_CONNECTED weights and checked against
their own tensor."""

import keras
import numpy as np

import keras_mot as mot
from tests.compression.helpers import compile_fit, int8_weights

WEIGHTS = ("query_kernel", "key_kernel", "value_kernel", "output_kernel")


def _model():
    i = keras.Input((8, 16))
    h = keras.layers.MultiHeadAttention(2, 8, name="mha")(i, i)
    h = keras.layers.GlobalAveragePooling1D()(h)
    return keras.Model(i, keras.layers.Dense(4, name="head")(h))


def _fc_layout(kernel):
    """A projection kernel as its FULLY_CONNECTED weight (out, in): q/k/v kernels are
    (hidden, heads, head_dim), the output kernel (heads, head_dim, hidden)."""
    return kernel.reshape(16, -1).T if kernel.shape[0] == 16 else kernel.reshape(-1, 16).T


def test_attention_projections_are_clustered_pruned_and_checked_each(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 16)).astype("float32")
    y = (x[:, 0, 0] > 0).astype("int32") + 2 * (x[:, 1, 1] > 0).astype("int32")
    recipe = mot.Recipe(
        "tflite_int8",
        schedule=mot.ConstantSparsity(0.5, 0, frequency=1),
        rules=(
            mot.Rule("class:MultiHeadAttention", cluster=mot.Cluster(16), prune=mot.Unstructured()),
            mot.Rule("_default"),
        ),
    )
    model = mot.apply(_model(), recipe, calibration_data=x[:32])
    wrapper = next(w for w in mot.callbacks.wrappers(model) if w.name == "mha")
    assert set(wrapper.compression_state()) == set(WEIGHTS)
    compile_fit(model, x, y, epochs=1)

    result = mot.export(model, str(tmp_path / "out"), representative_data=x[:32], formats=("tflite",))
    assert result.ok, result.summary()
    rows = {r["weight"]: r for r in result.report["compression"]["layers"] if r["layer"] == "mha"}
    assert set(rows) == set(WEIGHTS)
    assert len({r["tensor"] for r in rows.values()}) == 4, "two weights matched one tensor"
    stored = int8_weights(open(result.paths["tflite"], "rb").read())
    projected = {k: np.asarray(v) for k, v in wrapper.compressed_weights().items()}
    for wname, row in rows.items():
        values, _ = stored[row["tensor"]]
        assert row["op"] == "FULLY_CONNECTED" and row["dtype"] == "int8"
        assert np.unique(values).size <= 16 and row["distinct"] <= 16, (wname, np.unique(values))
        assert row["keras_zeros"] >= projected[wname].size * 0.45
        assert row["tflite_zeros"] >= row["keras_zeros"]
        # the row's tensor is this weight's: same zeros in the FC layout, not another projection's
        own = _fc_layout(projected[wname]) == 0
        np.testing.assert_array_equal(values.reshape(own.shape) == 0, own, err_msg=wname)
