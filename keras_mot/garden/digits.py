"""The embedded UCI digits data set, split and shaped for small vision models.

`load_digits("train")` gives float32 images in [0, 1] with shape (N, H, W, C) and int32 labels.
Splits are stratified and deterministic (70 % train, 15 % validation, 15 % test per class).
"""

import importlib.resources

import numpy as np

from keras_mot.errors import KerasMotError, format_error

SPLITS = ("train", "validation", "test", "all")
_FRACTIONS = (0.70, 0.15)  # train, validation; the rest is test


def _raw():
    with importlib.resources.files("keras_mot.data").joinpath("digits.npz").open("rb") as f:
        data = np.load(f)
        return data["images"].astype(np.float32) / 16.0, data["labels"].astype(np.int32)


def _split_indices(labels, split, seed):
    rng = np.random.default_rng(seed)
    parts = {"train": [], "validation": [], "test": []}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_train = int(round(len(idx) * _FRACTIONS[0]))
        n_val = int(round(len(idx) * _FRACTIONS[1]))
        parts["train"].append(idx[:n_train])
        parts["validation"].append(idx[n_train : n_train + n_val])
        parts["test"].append(idx[n_train + n_val :])
    if split == "all":
        return np.arange(len(labels))
    return np.sort(np.concatenate(parts[split]))


def load_digits(split="train", image_size=None, channels=1, seed=0):
    """Loads a split of the embedded digits set.

    Args:
        split: one of `"train"`, `"validation"`, `"test"`, `"all"`.
        image_size: `(height, width)` to resize to (bilinear), or `None` for the native 8x8.
        channels: 1 (grayscale) or 3 (gray repeated, for ImageNet-style architectures).
        seed: seed of the stratified split (the default split is the project's reference).

    Returns:
        `(images, labels)`: float32 `(N, H, W, channels)` in [0, 1], int32 `(N,)`.

    Example:
        >>> x, y = load_digits("test", image_size=(32, 32), channels=3)
        >>> x.shape
        (270, 32, 32, 3)
    """
    if split not in SPLITS:
        raise KerasMotError(
            format_error(
                "Unknown digits split.", received=repr(split), fix=f"Use one of: {', '.join(SPLITS)}."
            )
        )
    if channels not in (1, 3):
        raise KerasMotError(
            format_error(
                "Digits images have 1 or 3 channels.", received=repr(channels), fix="Pass channels=1 or 3."
            )
        )
    images, labels = _raw()
    idx = _split_indices(labels, split, seed)
    x = images[idx][..., None]
    if image_size is not None and tuple(image_size) != (8, 8):
        import keras

        x = np.asarray(keras.ops.image.resize(x, tuple(image_size), interpolation="bilinear"))
        x = np.clip(x, 0.0, 1.0).astype(np.float32)
    if channels == 3:
        x = np.repeat(x, 3, axis=-1)
    return x.astype(np.float32), labels[idx]
