"""QAT and pruning under `tf.distribute.MirroredStrategy` (2 logical CPUs),
`MultiWorkerMirroredStrategy` (2 local worker processes over loopback) and JAX's
`keras.distribution.DataParallel` (2 host devices) equal the one-device run.

Ranges and batch statistics are frozen from step 0 in the QAT run (and BatchNormalization runs in
inference mode in the pruning run): live ones are computed per replica, on half the batch, as
BatchNormalization's are under MirroredStrategy, so they would legitimately differ.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from test_backend_matrix import HERE, _env, _require, _result


def _run_pair(script, mode, env, runs):
    procs = {
        d: subprocess.Popen(
            [sys.executable, os.path.join(HERE, script), mode, d],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in runs
    }
    return [_result(procs[d]) for d in runs]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["quantize", "prune"])
def test_mirrored_strategy_matches_one_device(mode):
    single, mirrored = _run_pair("run_mirrored.py", mode, _env("tensorflow"), ("single", "mirrored"))
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    _assert_same(single, mirrored, mode)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _run_two_workers(mode):
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    procs = []
    for index in range(2):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = dict(_env("tensorflow"), TF_CONFIG=json.dumps(config))
        procs.append(
            subprocess.Popen(
                [sys.executable, os.path.join(HERE, "run_multiworker.py"), mode],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    chief = _result(procs[0])
    out, err = procs[1].communicate(timeout=600)
    assert procs[1].returncode == 0, err[-3000:]
    return chief


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["quantize", "prune", "float"])
def test_multi_worker_mirrored_strategy_matches_one_device(mode):
    single = _run_pair("run_mirrored.py", mode, _env("tensorflow"), ("single",))[0]
    workers = _run_two_workers(mode)
    assert (single["replicas"], workers["replicas"]) == (1, 2)
    _assert_same(single, workers, mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["quantize", "prune"])
def test_jax_data_parallel_matches_one_device(mode):
    _require("jax")
    env = dict(_env("jax"), XLA_FLAGS="--xla_force_host_platform_device_count=2")
    single, parallel = _run_pair("run_data_parallel.py", mode, env, ("single", "parallel"))
    assert parallel["devices"] == 2
    _assert_same(single, parallel, mode)


@pytest.mark.slow
def test_keras_mot_train_jax_data_parallel_matches_one_device(tmp_path):
    """`runtime.distribution_strategy: jax_data_parallel` in the trainer: 2 host devices vs one.

    Live ranges and BatchNormalization statistics: JAX runs one SPMD program over the global
    batch, so they are the one-device values (unlike tf.distribute's per-replica ones).
    """
    _require("jax")
    env = dict(_env("jax"), XLA_FLAGS="--xla_force_host_platform_device_count=2")
    procs = {
        d: subprocess.Popen(
            [sys.executable, os.path.join(HERE, "run_train_data_parallel.py"), d, str(tmp_path / d)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in ("single", "parallel")
    }
    single, parallel = (_result(procs[d]) for d in ("single", "parallel"))
    assert (single["devices"], parallel["devices"]) == (1, 2)
    for run in (single, parallel):
        assert run["export_ok"] and run["float_ops"] == [] and run["agreement"] >= 0.995, run["agreement"]
    message = parallel["refused"]
    assert "jax_data_parallel" in message and "global_batch_size=7" in message and "multiple of 2" in message
    _assert_same(single, parallel, "quantize", rtol=1e-4, atol=1e-5)


def _assert_same(single, mirrored, mode, rtol=1e-5, atol=1e-6):
    assert set(single["trained"]) == set(mirrored["trained"])
    for path, value in single["trained"].items():
        other = np.asarray(mirrored["trained"][path])
        if path.endswith("_mask"):
            np.testing.assert_array_equal(other, value, err_msg=path)
        else:
            np.testing.assert_allclose(other, value, rtol=rtol, atol=atol, err_msg=path)
    if mode == "prune":
        assert any(
            np.mean(np.asarray(v) == 0) > 0.4
            for k, v in mirrored["trained"].items()
            if k.endswith("kernel_mask")
        )
