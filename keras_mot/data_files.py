"""Reading the example arrays the command line takes (`--data DATA.npz` or `DATA.npy`).

Example:
    >>> x, y = load_arrays("val.npz")   # saved with np.savez("val.npz", x=inputs, y=labels)
"""

import os


def load_arrays(path):
    """The inputs (and labels) in a `.npz` (arrays `x`, optional `y`) or a `.npy` (inputs) file.

    Args:
        path: the file; `None` gives `None`.

    Returns:
        `x`, or `(x, y)` when the `.npz` holds `y`.

    Raises:
        FileNotFoundError: no such file. ValueError: a `.npz` without an array `x`.

    Example:
        >>> x, y = load_arrays("val.npz")
    """
    import numpy as np

    if path is None:
        return None
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path!r}")
    if path.endswith(".npy"):
        return np.load(path)
    with np.load(path) as data:
        if "x" not in data:
            raise ValueError(
                f"{path!r} has no array 'x' (found: {', '.join(data.files)}); "
                "save it with np.savez(path, x=inputs, y=labels)"
            )
        return (data["x"], data["y"]) if "y" in data else data["x"]
