"""SavedModel export: the inference (stripped) Keras model with a `serving_default` signature.

Uses Keras 3's `Model.export(format="tf_saved_model")` (keras/src/export/saved_model.py), which
traces `model(x, training=False)` with a dynamic batch and writes the `serve` and
`serving_default` endpoints.
"""

import os


def write_saved_model(model, path):
    """Writes `model` as a TF SavedModel directory at `path`; returns its size in bytes.

    Example:
        >>> write_saved_model(mot.strip(qat_model), "out/saved_model")
        1843122
    """
    model.export(path, format="tf_saved_model", verbose=False)
    return directory_size(path)


def directory_size(path):
    """Total size in bytes of the files under `path`."""
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total
