"""Pruned models through the real TFLite converter and the ai_edge_litert interpreter."""

import os
import sys

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from conftest import compile_, data, dense_model, mask_of, pruned

import keras_mot as mot
from keras_mot.export.convert import to_tflite
from keras_mot.export.sparse_check import inspect_sparsity, verify
from keras_mot.export.xnnpack_check import check_cluster

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))

RECIPE = """
version: 1
target: tflite_sparse_fc_int8
schedule: {type: PolynomialDecay, initial_sparsity: 0.0, final_sparsity: 0.75,
           begin_step: 0, end_step: 6, power: 1, frequency: 2}
rules:
  - {select: _default, quantize: int8, prune: target}
"""


def _run(tflite_bytes, x):
    it = Interpreter(model_content=tflite_bytes, num_threads=1)
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], x.shape)
    it.allocate_tensors()
    it.set_tensor(inp["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _fc_weights(tflite_bytes):
    """{tensor name: int8 (out, in) weight} of every dense-stored FULLY_CONNECTED weight."""
    out = {}
    for w in inspect_sparsity(tflite_bytes).weights:
        assert w.stored == "dense" and w.values is not None
        out[w.tensor] = np.asarray(w.values).reshape(w.shape)
    return out


def test_pruned_qat_model_keeps_its_zeros_through_int8_export():
    x, y = data(dense_model(units=(64, 32), inputs=32), n=64)
    qp = mot.apply(
        dense_model(units=(64, 32), inputs=32), mot.Recipe.from_yaml(RECIPE), calibration_data=x[:32]
    )
    compile_(qp, lr=1e-3).fit(x, y, batch_size=8, epochs=1, callbacks=mot.callbacks(qp), verbose=0)
    ws = pruned(qp)
    assert {w.name: w.quantize for w in ws.values()} == {"fc1": True, "fc2": True}
    masks = {name: mask_of(w) for name, w in ws.items()}  # Keras (in, out)
    assert all(np.mean(m == 0) == pytest.approx(0.75) for m in masks.values())

    # 1) int8 stored dense: every pruned entry is an int8 zero, in 1x16 blocks of inputs.
    dense_int8 = to_tflite(qp, "tflite_int8")
    weights = _fc_weights(dense_int8)
    assert len(weights) == 2
    for name, mask in masks.items():
        (w,) = [v for k, v in weights.items() if name in k]
        assert w.dtype == np.int8 and w.shape == mask.T.shape
        assert np.all(w[mask.T == 0] == 0)
        blocks = (w.reshape(w.shape[0], -1, 16) == 0).all(axis=2)  # (out, in/16)
        assert np.mean(blocks) == pytest.approx(0.75)

    # 2) int8 with EXPERIMENTAL_SPARSITY: FC v8 with the 1x16 block, loads and runs in LiteRT.
    sparse_int8 = to_tflite(qp, "tflite_sparse_fc_int8")
    report = inspect_sparsity(sparse_int8)
    assert [(w.op_version, w.stored, w.block_size) for w in report.weights] == [
        (8, "block_sparse", (1, 16))
    ] * 2
    codes = [f.code for f in verify(sparse_int8, "tflite_sparse_fc_int8")]
    assert codes.count("block-sparse-ok") == 2 and "int8-sparse-fc-slower" in codes
    a, b = _run(dense_int8, x[:8]), _run(sparse_int8, x[:8])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_float_sparse_fc_export_is_fc_v8_with_block_4_and_runs_in_litert():
    base = dense_model(units=(64, 32), inputs=32)
    pm = compile_(mot.prune(base, "tflite_sparse_fc", schedule=mot.ConstantSparsity(0.8, 0, frequency=4)))
    x, y = data(pm)
    pm.fit(x, y, batch_size=8, epochs=1, callbacks=mot.callbacks(pm), verbose=0)
    tfl = to_tflite(pm, "tflite_sparse_fc")
    report = inspect_sparsity(tfl)
    assert [(w.op, w.op_version, w.stored, w.block_size, w.via_densify) for w in report.weights] == [
        ("FULLY_CONNECTED", 8, "block_sparse", (1, 4), False)
    ] * 2
    assert report.densify_ops == 0
    assert all(f.severity == "info" for f in verify(tfl, "tflite_sparse_fc"))
    np.testing.assert_allclose(_run(tfl, x), pm.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_user_block_1x4_falls_back_to_densify_and_verify_says_why():
    pm = compile_(
        mot.prune(
            dense_model(units=(64, 32), inputs=32),
            "tflite_sparse_fc",
            schedule=mot.ConstantSparsity(0.8, 0),
            pattern=mot.Block(1, 4),
        )
    )
    x, y = data(pm)
    pm.fit(x, y, batch_size=8, epochs=1, callbacks=mot.callbacks(pm), verbose=0)
    findings = verify(to_tflite(pm, "tflite_sparse_fc"), "tflite_sparse_fc")
    fallback = [f for f in findings if f.code == "densify-fallback"]
    assert len(fallback) == 2 and "Block(4, 1)" in fallback[0].fix


def test_generic_target_shrinks_the_gzipped_file():
    import common

    base = dense_model(units=(256, 128), inputs=128)
    dense_size = common.gzip_size(to_tflite(base, "generic"))
    pm = compile_(mot.prune(base, "generic", schedule=mot.ConstantSparsity(0.8, 0)))
    x, y = data(pm, n=16)
    pm.fit(x, y, batch_size=8, epochs=1, callbacks=mot.callbacks(pm), verbose=0)
    pruned_size = common.gzip_size(to_tflite(pm, "generic"))
    assert pruned_size < 0.5 * dense_size, (pruned_size, dense_size)


def test_xnnpack_sparse_model_meets_every_cluster_condition():
    import sparse_protocol

    model = sparse_protocol.build_mobilenet_xnnpack(keras, input_shape=(16, 16, 3))
    pm = compile_(mot.prune(model, "xnnpack_sparse", schedule=mot.ConstantSparsity(0.8, 0)))
    assert sorted(pruned(pm)) == [f"pw{i}" for i in range(5)]  # the 1x1 convs only
    x, y = data(pm, n=8)
    pm.fit(x, y, batch_size=8, epochs=1, callbacks=mot.callbacks(pm), verbose=0)
    tfl = to_tflite(pm, "xnnpack_sparse")
    status = {f.code: f.severity for f in check_cluster(tfl)}
    assert status == {
        "xnn-entry": "info",
        "xnn-exit": "info",
        "xnn-body": "info",
        "xnn-sparsity": "info",
        "xnn-densify": "info",
        "xnn-x86": "info",
    }
    np.testing.assert_allclose(_run(tfl, x), pm.predict(x, verbose=0), rtol=1e-4, atol=1e-4)
