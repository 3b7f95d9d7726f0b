"""QAT and pruning under `tf.distribute.MirroredStrategy` (2 logical CPUs) and JAX's
`keras.distribution.DataParallel` (2 host devices) equal the one-device run.

Ranges and batch statistics are frozen from step 0 in the QAT run (and BatchNormalization runs in
inference mode in the pruning run): live ones are computed per replica, on half the batch, as
BatchNormalization's are under MirroredStrategy, so they would legitimately differ.
"""

import os
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


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["quantize", "prune"])
def test_jax_data_parallel_matches_one_device(mode):
    _require("jax")
    env = dict(_env("jax"), XLA_FLAGS="--xla_force_host_platform_device_count=2")
    single, parallel = _run_pair("run_data_parallel.py", mode, env, ("single", "parallel"))
    assert parallel["devices"] == 2
    _assert_same(single, parallel, mode)


def _assert_same(single, mirrored, mode):
    assert set(single["trained"]) == set(mirrored["trained"])
    for path, value in single["trained"].items():
        other = np.asarray(mirrored["trained"][path])
        if path.endswith("_mask"):
            np.testing.assert_array_equal(other, value, err_msg=path)
        else:
            np.testing.assert_allclose(other, value, rtol=1e-5, atol=1e-6, err_msg=path)
    if mode == "prune":
        assert any(
            np.mean(np.asarray(v) == 0) > 0.4
            for k, v in mirrored["trained"].items()
            if k.endswith("kernel_mask")
        )
