"""QAT and pruning under `tf.distribute.MirroredStrategy` (2 logical CPUs) equal the one-device run.

Ranges and batch statistics are frozen from step 0 in the QAT run (and BatchNormalization runs in
inference mode in the pruning run): live ones are computed per replica, on half the batch, as
BatchNormalization's are under MirroredStrategy, so they would legitimately differ.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from test_backend_matrix import HERE, _env, _result


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["quantize", "prune"])
def test_mirrored_strategy_matches_one_device(mode):
    procs = {d: subprocess.Popen([sys.executable, os.path.join(HERE, "run_mirrored.py"), mode, d],
                                 env=_env("tensorflow"), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
             for d in ("single", "mirrored")}
    single, mirrored = _result(procs["single"]), _result(procs["mirrored"])
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    assert set(single["trained"]) == set(mirrored["trained"])
    for path, value in single["trained"].items():
        other = np.asarray(mirrored["trained"][path])
        if path.endswith("_mask"):
            np.testing.assert_array_equal(other, value, err_msg=path)
        else:
            np.testing.assert_allclose(other, value, rtol=1e-5, atol=1e-6, err_msg=path)
    if mode == "prune":
        assert any(np.mean(np.asarray(v) == 0) > 0.4 for k, v in mirrored["trained"].items()
                   if k.endswith("kernel_mask"))
