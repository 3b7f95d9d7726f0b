"""Lint and export a model trained on the JAX or PyTorch backend: through a TensorFlow-backend copy.

Tracing (`mot.lint`) and conversion (`mot.export`) need TensorFlow graphs, which Keras builds
only on the TensorFlow backend, and Keras picks its backend once per process. On another backend
the model is saved as a `.keras` file (backend-neutral: the same variables and config), loaded
again by a Python subprocess running with `KERAS_BACKEND=tensorflow`, and linted or exported
there. For export, the parity reference stays the model the user trained: its predictions on the
representative examples are computed here, in the user's process and backend, and the
subprocess compares the TFLite model against them.

Example:
    >>> import os; os.environ["KERAS_BACKEND"] = "jax"
    >>> import keras_mot as mot
    >>> qmodel = mot.quantize(model, calibration_data=x[:256]); qmodel.fit(x, y)
    >>> mot.export(qmodel, "out/", representative_data=(x_val, y_val))   # converts in a subprocess
"""

import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np

from keras_mot.errors import ExportError, KerasMotError, format_error

_WORKER = "keras_mot.tf_worker"


def backend_name():
    """The Keras backend of this process (`"tensorflow"`, `"jax"`, `"torch"`, ...).

    Example:
        >>> backend_name()
        'tensorflow'
    """
    import keras

    return keras.backend.backend()


def is_tensorflow_backend():
    """True when Keras runs on TensorFlow here, so lint and export can trace in process.

    Example:
        >>> is_tensorflow_backend()
        True
    """
    return backend_name() == "tensorflow"


def _run_worker(task, work_dir, error_cls, what):
    """Runs `python -m keras_mot.tf_worker task work_dir` on the TensorFlow backend; returns the
    unpickled `result.pkl` it writes."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", _WORKER, task, work_dir], env=env, capture_output=True, text=True, check=False
    )
    result_path = os.path.join(work_dir, "result.pkl")
    if proc.returncode != 0 or not os.path.exists(result_path):
        raise error_cls(
            format_error(
                f"{what} on the TensorFlow backend (a subprocess, because this process runs Keras on "
                f"'{backend_name()}') failed.",
                received=f"exit code {proc.returncode}; stderr tail: {proc.stderr[-1500:]}",
                fix="Install TensorFlow (pip install tensorflow) in this environment, or run "
                "lint/export in a process started with KERAS_BACKEND=tensorflow on the saved "
                ".keras file.",
            )
        )
    with open(result_path, "rb") as f:
        outcome = pickle.load(f)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _save(model, work_dir, error_cls):
    path = os.path.join(work_dir, "model.keras")
    try:
        model.save(path)
    except Exception as e:
        raise error_cls(
            format_error(
                f"Model '{model.name}' could not be saved as .keras for the TensorFlow-backend copy.",
                received=f"{type(e).__name__}: {e}",
                fix="Use a Functional or Sequential model of serializable layers.",
            )
        ) from e
    return path


def lint_on_tensorflow(model, target, batch_size=None, strict=False):
    """`mot.lint` of `model` traced on a TensorFlow-backend copy (in a subprocess).

    Example:
        >>> lint_on_tensorflow(qmodel, "tflite_int8").verdict
        'full_int8'
    """
    with tempfile.TemporaryDirectory(prefix="keras_mot_lint_") as work_dir:
        _save(model, work_dir, KerasMotError)
        with open(os.path.join(work_dir, "args.pkl"), "wb") as f:
            pickle.dump({"target": target, "batch_size": batch_size, "strict": strict}, f)
        return _run_worker("lint", work_dir, KerasMotError, f"Linting '{model.name}'")


def export_on_tensorflow(
    model,
    directory,
    representative_data=None,
    calibration_data=None,
    max_examples=512,
    calibration_examples=128,
    **kwargs,
):
    """`mot.export` of `model` converted from a TensorFlow-backend copy (in a subprocess); the
    parity reference is `model`'s own predictions, computed in this process.

    Example:
        >>> export_on_tensorflow(jax_qmodel, "out/", representative_data=(x, y)).ok
        True
    """
    from keras_mot.export.data import check_max_examples, collect

    check_max_examples(max_examples)
    with tempfile.TemporaryDirectory(prefix="keras_mot_export_") as work_dir:
        _save(model, work_dir, ExportError)
        args = dict(kwargs, directory=os.fspath(directory), max_examples=None)
        if representative_data is not None:
            examples = collect(representative_data, model, max_examples)
            outputs = model.predict(examples.model_inputs(model), batch_size=64, verbose=0)
            args["examples"] = (examples.inputs, examples.labels)
            args["reference_outputs"] = _plain(outputs)
        if calibration_data is not None:
            calibration = collect(calibration_data, model, calibration_examples, what="calibration_data")
            args["calibration"] = calibration.inputs
        with open(os.path.join(work_dir, "args.pkl"), "wb") as f:
            pickle.dump(args, f)
        return _run_worker("export", work_dir, ExportError, f"Exporting '{model.name}'")


def _plain(outputs):
    """Model outputs as numpy arrays (same nesting: array, list or dict)."""
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(v) for v in outputs]
    return np.asarray(outputs)
