"""`UpdateCompression`: starts staged weight compression (e.g. `Cluster(16, start_step=N)`)."""

import keras

from keras_mot.callbacks.quantization import optimizer_step, wrappers


def staged(model):
    """The wrappers of `model` whose compression starts at a later step (`start_step > 0`)."""
    return [w for w in wrappers(model) if getattr(w, "compression_active", None) is not None]


class UpdateCompression(keras.callbacks.Callback):
    """Activates each staged compression at its `start_step`, before that training step.

    At the first batch whose optimizer step is >= `start_step` it initialises the algorithm's
    state from the current weights (after the pruning mask: put it after `UpdateMasks`, as
    `mot.callbacks(model)` does) and switches the projection on. Keys on
    `model.optimizer.iterations` and a flag saved in the model, so resuming from a checkpoint
    taken before or after `start_step` continues as an uninterrupted run.

    Example:
        >>> model.fit(ds, callbacks=[mot.callbacks.UpdateMasks(), mot.callbacks.UpdateCompression()])
    """

    def on_train_begin(self, logs=None):
        self._layers = staged(self.model)
        for w in self._layers:
            w._compression_updates_attached = True
        self._update()

    def on_train_batch_begin(self, batch, logs=None):
        self._update()

    def _update(self):
        pending = [w for w in self._layers if not w.compression_is_active()]
        if pending:
            step = optimizer_step(self.model)
            for w in pending:
                w.update_compression(step)
