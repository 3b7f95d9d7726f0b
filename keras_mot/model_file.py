"""Loading a `.keras` file with an error that says what is wrong with it.

Keras reports a missing, corrupt and truncated archive alike as "File not found"; the CLI and
`mot.lint(path)` load through `load_model_file`, which tells these apart.
"""

import os
import zipfile

from keras_mot.errors import KerasMotError, format_error

_REQUIRED = ("config.json", "metadata.json")


def _diagnose(path):
    """The reason `path` cannot be a `.keras` archive, or `None` when it looks like one."""
    if not os.path.exists(path):
        return "No such file.", "Check the path (and the current directory)."
    if os.path.isdir(path):
        return (
            "It is a directory; a .keras model is one zip file (a directory may be a SavedModel export)."
        ), "Pass the .keras file saved by model.save('m.keras')."
    if not os.access(path, os.R_OK):
        return "The file is not readable.", "Fix its permissions (chmod +r) or copy it."
    if path.endswith((".h5", ".hdf5")):
        return None  # legacy HDF5: Keras' own loader reports its problems
    if not path.endswith(".keras"):
        return (
            "A model file ends in .keras (or the legacy .h5); this one does not.",
            "Save the model with model.save('model.keras').",
        )
    size = os.path.getsize(path)
    if not zipfile.is_zipfile(path):
        return (
            f"It is not a zip archive ({size} bytes): the file is corrupt or truncated "
            "(an interrupted copy or download).",
            "Copy or save the model again.",
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return (f"The zip archive is damaged ({error}).", "Copy or save the model again.")
    if bad is not None:
        return (
            f"The archive member {bad!r} fails its CRC check: the file is corrupt.",
            "Copy or save the model again.",
        )
    missing = [n for n in _REQUIRED if n not in names]
    if missing:
        return (
            f"The zip archive is not a Keras model: it has no {', '.join(missing)}.",
            "Pass a file written by model.save('model.keras').",
        )
    return None


def load_model_file(path, what="model"):
    """Loads a `.keras` file with `safe_mode=True`; raises `KerasMotError` naming the problem.

    Args:
        path: path to a `.keras` archive.
        what: the argument's name for messages.

    Returns:
        The loaded Keras model (keras_mot layers registered).

    Example:
        >>> model = load_model_file("runs/mnist/checkpoints/qat.keras")
    """
    import keras

    # keras_mot's serializable classes are registered: importing this module ran the package's
    # __init__, which imports them all.

    path = os.fspath(path)
    problem = _diagnose(path)
    if problem is not None:
        message, fix = problem
        raise KerasMotError(
            format_error(f"Cannot load {what} {path!r}: {message}", received=repr(path), fix=fix)
        )
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001  (any failure of Keras' loader, named below)
        text = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        fix = (
            "The file holds a Lambda layer or other code that safe_mode refuses to run: "
            "load it yourself with keras.saving.load_model(path, safe_mode=False) only if "
            "you trust its source."
            if "safe_mode" in str(error)
            else "If it uses custom layers, import the module that registers them "
            "(keras.saving.register_keras_serializable) before loading."
        )
        raise KerasMotError(
            format_error(
                f"Cannot load {what} {path!r}: Keras' loader failed ({type(error).__name__}: {text[:300]}).",
                received=repr(path),
                fix=fix,
            )
        ) from error
