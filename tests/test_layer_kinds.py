"""`LayerKind` replaces the bare kind strings without changing what configs hold."""

import json

import keras
import numpy as np
import pytest
import yaml

import keras_mot as mot
from keras_mot.errors import KerasMotError
from keras_mot.layers.base import adapter_for
from keras_mot.quantization.scheme import QuantScheme, get_scheme
from keras_mot.sparsity import Block, get_layout, kinds
from keras_mot.sparsity.layout import Layout


def test_a_kind_is_its_old_string():
    assert mot.LayerKind.DENSE == "dense" and mot.LayerKind("conv") is mot.LayerKind.CONV
    assert {mot.LayerKind.DEPTHWISE: 1}["depthwise"] == 1
    assert f"{mot.LayerKind.CONV_TRANSPOSE}" == str(mot.LayerKind.CONV_TRANSPOSE) == "conv_transpose"
    assert adapter_for(keras.layers.Dense(3)).kind is mot.LayerKind.DENSE


def test_scheme_configs_hold_plain_strings_and_read_old_ones():
    scheme = get_scheme("int8")
    config = scheme.get_config()
    assert config["per_tensor_kinds"] == ["dense", "conv_transpose"]
    assert all(type(k) is str for k in config["per_tensor_kinds"])
    yaml.safe_dump(config)
    json.dumps(config)
    again = QuantScheme.from_config(json.loads(json.dumps(config)))
    assert again.weight_spec(mot.LayerKind.DENSE) == scheme.weight_spec("dense")
    assert again.weight_spec(mot.LayerKind.CONV).per_channel


def test_layouts_are_keyword_data():
    for kind in kinds():
        layout = get_layout(kind)
        assert layout.kind == kind and layout.doc
    conv = get_layout(mot.LayerKind.CONV)
    assert conv.matrix_shape((3, 3, 8, 16)) == (72, 16) and conv.in_axis_of(4) == 2
    transposed = get_layout("conv_transpose")
    assert transposed.matrix_shape((3, 3, 16, 8)) == (72, 16) and transposed.in_axis_of(4) == 3
    assert get_layout("einsum_in2").matrix_shape((4, 8, 32)) == (32, 32)
    w = np.arange(3 * 3 * 16 * 8, dtype="float32").reshape(3, 3, 16, 8)
    back = transposed.from_matrix(transposed.to_matrix(keras.ops.convert_to_tensor(w)), w.shape)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(back), w)
    with pytest.raises(KerasMotError, match="exactly one of col_axes and row_axes"):
        Layout(kind="bad", doc="", min_rank=2, out_axis=-1)


def test_a_new_family_may_use_its_own_string(monkeypatch):
    from keras_mot.sparsity import layout as layout_module
    from keras_mot.sparsity import register_layout

    monkeypatch.setattr(layout_module, "_LAYOUTS", dict(layout_module._LAYOUTS))
    register_layout(Layout(kind="my_fc", doc="(in, out)", min_rank=2, in_axis=0, out_axis=-1, col_axes=1))
    mask = Block(4, 1).compute_mask(keras.ops.ones((8, 4)), 0.5, "my_fc")
    assert float(keras.ops.mean(mask)) == pytest.approx(0.5)
