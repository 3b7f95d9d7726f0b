"""`ExportOnTrainEnd`: run `mot.export` when `fit` finishes."""

import keras


class ExportOnTrainEnd(keras.callbacks.Callback):
    """Exports the model (`mot.export`) at the end of `fit`; the result is kept in `.result`.

    Args:
        directory: export directory (replaced atomically by each export).
        **export_kwargs: passed to `mot.export` (`target`, `representative_data`, `formats`,
            `input_type`, `output_type`, ...).

    Example:
        >>> cb = mot.callbacks.ExportOnTrainEnd("out/", representative_data=(x_val, y_val))
        >>> model.fit(x, y, callbacks=mot.callbacks(model) + [cb])
        >>> cb.result.ok
        True
    """

    def __init__(self, directory, **export_kwargs):
        super().__init__()
        self.directory = directory
        self.export_kwargs = export_kwargs
        self.result = None

    def on_train_end(self, logs=None):
        from keras_mot.export.api import export

        self.result = export(self.model, self.directory, **self.export_kwargs)
