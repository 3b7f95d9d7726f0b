"""Callbacks for pruning: `UpdateMasks` (required for pruned models) and `require_update_masks`."""

import keras

from keras_mot.callbacks.quantization import optimizer_step, wrappers
from keras_mot.errors import KerasMotError, format_error


def _pruned(model):
    return [w for w in wrappers(model) if w.prune is not None]


class UpdateMasks(keras.callbacks.Callback):
    """Recomputes pruning masks per each layer's schedule before every training step.

    Keys on `model.optimizer.iterations` (saved by checkpoints), so resuming `fit` gives the
    masks an uninterrupted run would have; a second call at the same step does nothing, and a
    step skipped (e.g. `steps_per_execution > 1`) is caught up at the next call. Its presence is
    what lets a pruned `Wrapper` train: without it the training step raises `KerasMotError`.

    Example:
        >>> model.fit(ds, callbacks=[mot.callbacks.UpdateMasks()])
    """

    def on_train_begin(self, logs=None):
        for w in _pruned(self.model):
            w._mask_updates_attached = True
        self._update()

    def on_train_batch_begin(self, batch, logs=None):
        self._update()

    def _update(self):
        step = optimizer_step(self.model)
        for w in _pruned(self.model):
            w.update_mask(step)


def require_update_masks(model, callbacks):
    """Raises a clear error when `model` has pruned layers and `callbacks` lacks `UpdateMasks`.

    Meant for `fit()` wrappers (e.g. `PreparedModel.fit`) to fail before any step is traced.

    Args:
        model: a Keras model, possibly holding pruned keras_mot `Wrapper`s.
        callbacks: the list (or `keras.callbacks.CallbackList`, or None) passed to `fit`.

    Example:
        >>> require_update_masks(model, [mot.callbacks.UpdateMasks()])   # passes
    """
    pruned = _pruned(model)
    if not pruned:
        return
    if isinstance(callbacks, keras.callbacks.CallbackList):
        callbacks = callbacks.callbacks
    if any(isinstance(c, UpdateMasks) for c in (callbacks or ())):
        return
    raise KerasMotError(
        format_error(
            f"Model '{model.name}' has {len(pruned)} pruned layer(s) (e.g. '{pruned[0].name}') but "
            "fit() got no UpdateMasks callback, so the pruning masks would never be updated.",
            received=f"callbacks={[type(c).__name__ for c in (callbacks or ())]}",
            fix="Pass callbacks=mot.callbacks(model) (or add mot.callbacks.UpdateMasks()).",
        )
    )
