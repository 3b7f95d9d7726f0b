"""`QuantizationDebug`: per-layer quantization error of a prepared model while it trains.

Every `every_n_steps` optimizer steps (and at the end of each epoch when `every_n_steps` is
`None`) the callback runs `mot.debug` on a fixed batch of `data` and writes, as TensorBoard
scalars, `quant_error/<layer path>` (own RMSE / scale), `quant_snr_db/<layer path>` (accumulated
SNR) and `quant_agreement` (top-1 agreement with the float computation). The last report is
kept in `callback.report`.

Example:
    >>> cb = mot.callbacks.QuantizationDebug(x_val[:64], every_n_steps=200, log_dir="logs/qdebug")
    >>> qmodel.fit(ds, epochs=3, callbacks=mot.callbacks(qmodel) + [cb])
"""

import math

from keras import callbacks as keras_callbacks

from keras_mot.callbacks.quantization import optimizer_step
from keras_mot.errors import KerasMotError, format_error


class QuantizationDebug(keras_callbacks.Callback):
    """Writes per-layer quantization error to TensorBoard during training.

    Args:
        data: a few example inputs (array, dict or list of arrays; 32-256 examples).
        every_n_steps: measure every this many optimizer steps; `None`: at each epoch end.
        log_dir: TensorBoard log directory (`None`: keep the reports only, `history`).
        max_examples: examples used per measurement.

    Example:
        >>> cb = QuantizationDebug(x_val[:64], every_n_steps=100, log_dir="logs")
    """

    def __init__(self, data, every_n_steps=None, log_dir=None, max_examples=64):
        super().__init__()
        if every_n_steps is not None and (not isinstance(every_n_steps, int) or every_n_steps < 1):
            raise KerasMotError(
                format_error(
                    "every_n_steps must be an int >= 1 (or None for each epoch end).",
                    received=repr(every_n_steps),
                    fix="Pass every_n_steps=200.",
                )
            )
        self.data, self.every_n_steps, self.log_dir = data, every_n_steps, log_dir
        self.max_examples = max_examples
        self.report, self.history, self._writer, self._last = None, [], None, None

    def _measure(self, step):
        from keras_mot.debug.api import debug

        self.report = debug(
            self.model,
            self.data,
            target=getattr(self.model, "mot_target", None) or "tflite_int8",
            max_examples=self.max_examples,
        )
        self.history.append((step, {r.path: r.own_rmse_over_scale for r in self.report.layers}))
        if self.log_dir is not None:
            self._write(step)
        self._last = step

    def _write(self, step):
        import tensorflow as tf

        from keras_mot.callbacks.summaries import write_scalar

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            for r in self.report.layers:
                if r.own_rmse_over_scale is not None:
                    write_scalar(tf, f"quant_error/{r.path}", r.own_rmse_over_scale, step)
                if math.isfinite(r.snr_db):
                    write_scalar(tf, f"quant_snr_db/{r.path}", r.snr_db, step)
            write_scalar(tf, "quant_agreement", self.report.agreement, step)
        self._writer.flush()

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_steps is None:
            return
        step = optimizer_step(self.model)
        if step % self.every_n_steps == 0 and step != self._last:
            self._measure(step)

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_steps is None:
            self._measure(optimizer_step(self.model))

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
