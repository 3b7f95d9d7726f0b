"""Smoke tests of the benchmark helpers (bench/common.py, bench/sparse_protocol.py, bench/qat.py).

They run the real converter and interpreter on tiny models; tfmot is never imported here.
"""

import os
import sys

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench")
sys.path.insert(0, BENCH)

import backends_acceptance  # noqa: E402
import common  # noqa: E402
import qat  # noqa: E402
import sparse_protocol  # noqa: E402

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


def test_digits_match_keras_mot_loader_exactly():
    from keras_mot.garden.digits import load_digits

    for split in ("train", "test"):
        x, y = common.load_digits(split, (32, 32), channels=3)
        x_ref, y_ref = load_digits(split, image_size=(32, 32), channels=3)
        np.testing.assert_array_equal(x, x_ref)
        np.testing.assert_array_equal(y, y_ref)


def test_mobilenetv2_rebuilt_with_bn_momentum():
    model = common.build_mobilenetv2(keras, (32, 32, 3), classes=10, bn_momentum=0.9)
    bns = [lay for lay in model.layers if isinstance(lay, keras.layers.BatchNormalization)]
    assert len(bns) == 52
    assert {b.momentum for b in bns} == {0.9}
    assert model.output.shape == (None, 10)


def _tiny_cnn():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3)(x))


def test_float_ops_counted_and_ptq_removes_them():
    model = _tiny_cnn()
    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    float_bytes = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    left = common.float_compute_ops(float_bytes)
    assert {"CONV_2D", "MEAN", "FULLY_CONNECTED"} <= set(left)
    np.testing.assert_allclose(
        common.run_tflite(float_bytes, x, batch_size=5), model.predict(x, verbose=0), atol=1e-5
    )
    int8_bytes, secs = common.ptq_int8(tf, model, x)
    assert common.float_compute_ops(int8_bytes) == [] and secs > 0
    assert common.run_tflite(int8_bytes, x).shape == (16, 3)


def test_flatbuffer_block_orientation():
    """Keras (4, 1) blocks are TFLite's 1x4 FC blocks; (1, 4) blocks fall back to DENSIFY."""
    rng = np.random.default_rng(0)
    found = {}
    for block in ((4, 1), (1, 4)):
        inp = keras.Input((64,))
        dense = keras.layers.Dense(128)
        model = keras.Model(inp, dense(inp))
        r, c = block
        keep = rng.random((64 // r, 128 // c)) > 0.9
        mask = np.repeat(np.repeat(keep, r, 0), c, 1)
        dense.kernel.assign(np.asarray(dense.kernel) * mask)
        assert sparse_protocol.block_exact(dense.kernel, block) == 1.0
        assert sparse_protocol.block_exact(dense.kernel, (c, r)) < 1.0
        data, _ = sparse_protocol.convert_float(tf, model)
        found[block] = sparse_protocol.flatbuffer_sparsity(data)
    assert found[(4, 1)]["sparse_tensors"][0]["block"] == [1, 4]
    assert found[(4, 1)]["densify_ops"] == 0
    assert found[(1, 4)]["sparse_tensors"][0]["block"] is None
    assert found[(1, 4)]["densify_ops"] == 1


def _backend_row(backend, int8_acc, agreement=1.0, float_ops=()):
    return dict(
        backend=backend,
        float_acc=0.9,
        qat_keras_acc=int8_acc,
        int8_acc=int8_acc,
        agreement=agreement,
        max_logit_diff=0.01,
        float_ops=list(float_ops),
    )


def test_backends_acceptance_verdict():
    good = [_backend_row("tensorflow", 0.950), _backend_row("jax", 0.955), _backend_row("torch", 0.948)]
    table, passed = backends_acceptance.format_table(good)
    assert passed and "| jax | 90.00% | 95.50% | 95.50% | 100.00% | 0 | 0.0100 |" in table
    assert "spread across backends: 0.70 pt" in table and table.endswith("PASS")
    for bad in (
        [_backend_row("tensorflow", 0.95), _backend_row("jax", 0.935)],  # 1.5 pt apart
        [_backend_row("tensorflow", 0.95), _backend_row("jax", 0.95, agreement=0.99)],
        [_backend_row("tensorflow", 0.95, float_ops=["FULLY_CONNECTED"])],
    ):
        table, passed = backends_acceptance.format_table(bad)
        assert not passed and table.endswith("FAIL")
    epochs = backends_acceptance._epochs(np.arange(5), np.arange(5), 2, seed=0)[1]
    assert sorted(epochs[:5]) == sorted(epochs[5:]) == list(range(5))


def test_qat_table_verdicts_and_unavailable_side():
    ours = {"side": "keras_mot", "step_time_ratio": 1.1, "agreement": 1.0, "float_ops_left": 0}
    peer = {"side": "tfmot", "step_time_ratio": 1.3, "agreement": 0.989, "float_ops_left": 0}
    rows = {
        line.split("|")[1].strip(): line
        for line in qat.format_table(ours, peer).splitlines()
        if line.startswith("| ")
    }
    assert rows["QAT/float step-time ratio"].rstrip(" |").endswith("/ keras_mot")
    assert rows["TFLite-vs-Keras top-1 agreement"].rstrip(" |").endswith("/ keras_mot")
    assert rows["float compute ops left"].rstrip(" |").endswith("/ tie")
    table = qat.format_table({"side": "keras_mot", "unavailable": "no API"}, peer)
    assert "keras_mot side unavailable: no API" in table
    assert "| QAT/float step-time ratio | n/a | 1.30x |  |" in table


def test_parse_last_json():
    assert common.parse_last_json('noise\n{"a": 1}\n\n') == {"a": 1}
    assert common.parse_last_json("no json here") is None


def test_sparse_tables_speedup_and_storage():
    import sparse

    fb_block = {
        "sparse_tensors": [{"name": "w", "shape": [8, 8], "block": [1, 4]}],
        "densify_ops": 0,
        "ops": {},
    }
    peer = {
        "side": "tfmot",
        "mlp": {
            "dense": {"latency_ms": 1.0, "gzip_bytes": 4096},
            "b41": {
                "latency_ms": 0.25,
                "gzip_bytes": 1024,
                "sparsity": {"a": 0.9, "b": 0.8},
                "flatbuffer": fb_block,
            },
        },
    }
    text = sparse.format_tables(None, peer)
    mlp = text.split("###")[1]
    assert "| speed-up vs dense | n/a | 1.00x | 4.00x |" in mlp
    assert "| stored sparse as (TFLite block) | n/a | n/a | 1x4 |" in mlp
    assert "| pruned-kernel sparsity (mean) | n/a | n/a | 85.0% |" in mlp
    assert "keras_mot side unavailable: did not run" in text


def test_qat_seeds_aggregate_and_noise_verdict():
    def side(name, accs, ratios):
        return [
            {
                "side": name,
                "seed": i,
                "int8_acc": a,
                "step_time_ratio": t,
                "float_ops_left": i,
                "float_ops_left_names": [f"OP{i}"],
                "wall_s": 10.0,
            }
            for i, (a, t) in enumerate(zip(accs, ratios))
        ]

    ours = qat.aggregate(side("keras_mot", [0.80, 0.84, 0.82], [1.10, 1.12, 1.14]))
    assert ours["n_seeds"] == 3 and ours["seed"] == [0, 1, 2]
    assert abs(ours["int8_acc"] - 0.82) < 1e-12 and abs(ours["int8_acc_sd"] - 0.02) < 1e-12
    assert ours["float_ops_left"] == 2 and ours["float_ops_left_names"] == ["OP0", "OP1", "OP2"]
    assert ours["wall_s"] == 30.0
    peer = qat.aggregate(side("tfmot", [0.81, 0.85, 0.83], [1.38, 1.40, 1.42]))
    rows = {
        line.split("|")[1].strip(): line
        for line in qat.format_table(ours, peer).splitlines()
        if line.startswith("| ")
    }
    # 1 point apart with a 2-point spread: not a win for either side.
    assert rows["int8 TFLite accuracy"].rstrip(" |").endswith("/ within noise")
    assert "82.0% ± 2.0" in rows["int8 TFLite accuracy"]
    # 0.28x apart with a 0.02x spread: a real difference.
    assert rows["QAT/float step-time ratio"].rstrip(" |").endswith("/ keras_mot")
    assert qat.aggregate([{"side": "tfmot", "unavailable": "no venv"}, None])["unavailable"]


def test_qat_paired_difference_needs_a_shared_float_model():
    def side(accs, made):
        return [{"seed": i, "int8_acc": a, "float_model": made} for i, a in enumerate(accs)]

    # Same 1-point lead in every seed: a real difference although both spreads are wide.
    paired = qat.paired_difference(side([0.80, 0.90, 0.85], "trained"), side([0.79, 0.89, 0.84], "loaded"))
    assert paired["n"] == 3 and abs(paired["mean"] - 0.01) < 1e-12
    assert paired["verdict"] == "keras_mot"
    noisy = qat.paired_difference(side([0.80, 0.90, 0.85], "trained"), side([0.82, 0.88, 0.85], "loaded"))
    assert noisy["verdict"] == "within noise"
    # Each side trained its own float model: nothing to pair.
    assert qat.paired_difference(side([0.8, 0.9], "trained"), side([0.7, 0.8], "trained")) is None


def test_qat_float_weights_shared_between_sides(tmp_path):
    import qat_protocol

    def model(units=3):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])

    args = qat_protocol.parse_args(["--seed", "2", "--epochs", "5"])
    path = str(tmp_path / "float.npz")
    trained = model()
    qat_protocol.save_float_weights(path, trained, args)
    loaded = model()
    qat_protocol.load_float_weights(path, loaded, args)
    x = np.arange(8, dtype="float32").reshape(2, 4)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), trained.predict(x, verbose=0))
    other_seed = qat_protocol.parse_args(["--seed", "3", "--epochs", "5"])
    with pytest.raises(ValueError, match="seed 2, 5 epochs; this run is seed 3"):
        qat_protocol.load_float_weights(path, model(), other_seed)
    with pytest.raises(ValueError, match="first differ at index 0"):
        qat_protocol.load_float_weights(path, model(units=5), args)


def test_qat_difference_rows_have_no_ratio():
    ours = {"int8_minus_ptq": -0.006, "int8_acc": 0.895}
    peer = {"int8_minus_ptq": 1e-17, "int8_acc": 0.901}
    rows = {
        line.split("|")[1].strip(): line
        for line in qat.format_table(ours, peer).splitlines()
        if line.startswith("| ")
    }
    assert rows["int8 minus own PTQ int8"].rstrip(" |").endswith("- / tfmot")
    assert "0.99x / tfmot" in rows["int8 TFLite accuracy"]


def test_qat_rows_take_the_paired_verdict_on_a_shared_float_model():
    def side(accs, ptq, made):
        return [
            {"seed": i, "int8_acc": a, "ptq_int8_acc": p, "float_model": made, "side": made}
            for i, (a, p) in enumerate(zip(accs, ptq))
        ]

    ours = side([0.80, 0.90, 0.85], [0.81, 0.91, 0.86], "trained")
    peer = side([0.82, 0.88, 0.86], [0.81, 0.91, 0.86], "loaded")
    # int8 minus PTQ is derived per seed before pairing (same PTQ model on both sides here).
    d = qat.paired_difference(ours, peer, "int8_minus_ptq")
    assert d["n"] == 3 and abs(d["mean"] - (-0.01 / 3)) < 1e-12
    paired = {
        "int8_acc": qat.paired_difference(ours, peer),
        "int8_minus_ptq": {"mean": -0.01, "sd": 0.001, "n": 3, "verdict": "tfmot"},
    }
    rows = {
        line.split("|")[1].strip(): line
        for line in qat.format_table(qat.aggregate(ours), qat.aggregate(peer), paired).splitlines()
        if line.startswith("| ")
    }
    assert "within noise (paired)" in rows["int8 TFLite accuracy"]
    assert rows["int8 minus own PTQ int8"].rstrip(" |").endswith("- / tfmot (paired)")
    # Rows without a paired result keep the two-means comparison.
    assert "(paired)" not in rows["PTQ int8 accuracy (reference)"]


def test_qat_docstring_examples_run():
    import doctest

    assert doctest.testmod(qat).failed == 0


def _bench_compression():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_compression", os.path.join(BENCH, "compression.py"))
    compression = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compression)
    return compression


def test_compression_table_ratios_and_unavailable_side():
    compression = _bench_compression()
    arm = {"int8_acc": 0.9, "gzip": 1000, "max_distinct": None, "zeros_kept": True, "latency_ms": 2.0}
    cascade = {**arm, "int8_acc": 0.89, "gzip": 350, "max_distinct": 16, "latency_ms": 2.2, "sparsity": 0.5}
    text = compression.table(
        {
            "mobilenetv2": {
                "keras_mot": {"float_gzip": 3500, "int8_qat": arm, "cascade": cascade},
                "tfmot": {"unavailable": "no"},
            },
            "mlp": {"keras_mot": {"int8_qat": arm}, "tfmot": None},
        }
    )
    assert (
        "| mobilenetv2 | keras_mot | cascade | 89.0% | 350 | 0.350x | 0.100x | 2.200 (1.10x) | 50.0% | 16 | True |"
        in text
    )
    assert (
        "| mlp | keras_mot | int8_qat | 90.0% | 1,000 | 1.000x |  | 2.000 (1.00x) |" in text
    )  # no float file
    assert "| mobilenetv2 | tfmot 0.8.1 | unavailable |" in text
    assert "| mlp | tfmot 0.8.1 | not run |" in text


def test_compression_bench_has_an_arm_per_registered_algorithm():
    import dataclasses
    import types

    import keras_mot as mot

    compression = _bench_compression()

    @dataclasses.dataclass(frozen=True)
    class Halve(mot.compression.WeightCompression):  # a third-party algorithm: defaults only
        start_step: int = 0

    registry = types.SimpleNamespace(registered=lambda: {**mot.compression.registered(), "lib.Halve": Halve})
    arms = compression.algorithm_arms(registry, start_step=7)
    assert arms["cluster"] == mot.Cluster(16, start_step=7)
    assert arms["palettize"] == mot.compression.Palettize(4, start_step=7)
    assert arms["lib_halve"] == Halve(start_step=7)


def test_compression_gzip_breakdown_groups_add_up_to_the_file():
    import keras
    import numpy as np
    import tensorflow as tf

    compression = _bench_compression()
    inputs = keras.Input((8, 8, 3), batch_size=1)
    h = keras.layers.Conv2D(6, 3, name="c")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    model = keras.Model(
        inputs, keras.layers.Dense(4, bias_initializer="ones", name="d")(keras.layers.Flatten()(h))
    )
    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.random((1, 8, 8, 3), np.float32)] for _ in range(4))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    tflite = converter.convert()
    parts = compression.gzip_breakdown(tflite)
    assert set(parts) == {"int8 weights", "int32 biases", "per-channel scales", "rest"}
    assert sum(raw for raw, _ in parts.values()) == len(tflite)
    assert parts["int8 weights"][0] == 3 * 3 * 3 * 6 + 6 * 6 * 6 * 4  # the conv and dense kernels
    assert parts["int32 biases"][0] == 4 * (6 + 4)
    # per channel: conv weights and bias (6 channels each), dense weights and bias (4 each)
    assert parts["per-channel scales"][0] == 12 * (6 + 6 + 4 + 4)
    assert all(g > 0 for _, g in parts.values())
