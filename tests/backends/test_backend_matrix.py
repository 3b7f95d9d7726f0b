"""The training-time core on every installed Keras backend: same ranges, masks and weights.

Each backend runs in its own subprocess (Keras picks its backend once per process) from the same
weights and data; TensorFlow is the reference. Backends that are not installed are skipped.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def _env(backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def _require(backend):
    if importlib.util.find_spec(BACKEND_MODULES[backend]) is None:
        pytest.skip(f"the {backend} backend is not installed ({BACKEND_MODULES[backend]} missing)")


def _start(script, backend, *args):
    return subprocess.Popen(
        [sys.executable, os.path.join(HERE, script), *map(str, args)],
        env=_env(backend),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_import_needs_no_tensorflow():
    _require("jax")
    code = (
        "import sys, keras_mot as mot; mot.quantize; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env("jax"), capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("mode", ["quantize", "prune"])
def test_core_matches_tensorflow(tmp_path, backend, mode):
    _require(backend)
    procs = {b: _start("run_core.py", b, mode, tmp_path) for b in ("tensorflow", backend)}
    ref, got = _result(procs["tensorflow"]), _result(procs[backend])
    assert got["backend"] == backend
    for part in ("initial", "trained"):
        assert set(ref[part]) == set(got[part])
        for path, value in ref[part].items():
            value, other = np.asarray(value), np.asarray(got[part][path])
            if path.endswith("_mask"):
                np.testing.assert_array_equal(other, value, err_msg=path)
            else:  # ranges: the same float math in another order
                np.testing.assert_allclose(other, value, rtol=1e-4, atol=5e-5, err_msg=path)
    if mode == "prune":
        masks = [np.asarray(v) for k, v in got["trained"].items() if k.endswith("kernel_mask")]
        assert masks and all(abs((m == 0).mean() - 0.5) < 0.05 for m in masks)
    np.testing.assert_allclose(got["reloaded_logits"], ref["reloaded_logits"], atol=1e-4)


@pytest.mark.slow
def test_tensorflow_loads_the_jax_trained_file(tmp_path):
    _require("jax")
    got = _result(_start("run_core.py", "jax", "quantize", tmp_path))
    code = (
        "import sys, json, numpy as np, keras, keras_mot; "
        f"m = keras.saving.load_model({got['path']!r}); "
        "x = np.random.default_rng(0).uniform(0, 1, (64, 8, 8, 1)).astype('float32'); "
        "print(json.dumps(np.asarray(m.predict(x[:16], verbose=0)).tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env("tensorflow"), capture_output=True, text=True, check=True
    ).stdout
    np.testing.assert_allclose(json.loads(out.strip().splitlines()[-1]), got["reloaded_logits"], atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_export_of_a_model_trained_on_another_backend(tmp_path, backend):
    _require(backend)
    got = _result(_start("run_export.py", backend, tmp_path / "export"))
    assert got["backend"] == backend
    assert got["ok"], got["summary"]
    assert got["verdict"] == "full_int8" and got["float_compute_ops"] == []
    assert got["agreement"] >= 0.995, got["summary"]
    assert (tmp_path / "export" / "model.tflite").exists()


@pytest.mark.slow
def test_lint_on_jax_traces_a_tensorflow_copy():
    _require("jax")
    code = (
        "import sys, numpy as np, keras, keras_mot as mot; sys.path.insert(0, %r); "
        "import run_core; x, _ = run_core._data(); "
        "q = mot.quantize(run_core._model(keras), calibration_data=x[:32]); "
        "r = mot.lint(q, 'tflite_int8'); print(r.verdict, type(r).__name__)"
    ) % HERE
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env("jax"), capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "full_int8 LintReport", out
