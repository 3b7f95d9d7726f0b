"""Callbacks for pruning: `UpdateMasks` (required for pruned models)."""

import keras

from keras_mot.callbacks.quantization import _step, wrappers


class UpdateMasks(keras.callbacks.Callback):
    """Recomputes pruning masks per each layer's schedule before every training step.

    Keys on `model.optimizer.iterations` (saved by checkpoints), so resuming `fit` gives the
    masks an uninterrupted run would have; a second call at the same step does nothing.

    Example:
        >>> model.fit(ds, callbacks=[mot.callbacks.UpdateMasks()])
    """

    def on_train_batch_begin(self, batch, logs=None):
        step = _step(self.model)
        for w in wrappers(self.model):
            w.update_mask(step)
