"""`StopOnNonFinite`: stop training at the first NaN / inf loss or quantization range.

A diverging quantization-aware fit otherwise trains to the end, saves weights full of NaN and
fails much later in the converter (or crashes the interpreter). The check reads the batch's
loss and the wrappers' range variables (a loss can stay finite while an activation range has
already gone NaN: TensorFlow's fake-quant op turns a NaN range into finite values). NumPy and
`keras.ops` only: it runs on every backend.
"""

import math
import numbers
import warnings

import keras

from keras_mot.errors import KerasMotError, format_error
from keras_mot.finite import nonfinite_range, range_entries


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops `fit` at the first batch whose loss or a quantization range is NaN / inf.

    It names what went bad (the loss, and the first `Wrapper` layer whose range did) in a
    `RuntimeWarning` and in `self.message`; `self.stopped_step` is the optimizer step.
    `mot.callbacks(model)` includes it. Reading the ranges costs ~40 us a range variable on
    TensorFlow (~10 ms a step for a quantized MobileNetV2); `check_ranges_every=N` reads them
    every N steps instead (and at the end of each epoch), the loss is checked every step.

    Args:
        check_ranges_every: read the ranges every this many batches (`0`: only the loss).
        raise_error: raise `KerasMotError` instead of stopping with a warning.

    Example:
        >>> stop = mot.callbacks.StopOnNonFinite()
        >>> model.fit(x, y, callbacks=[stop])
        >>> stop.message  # None when training stayed finite
    """

    def __init__(self, check_ranges_every=1, raise_error=False):
        super().__init__()
        if (
            isinstance(check_ranges_every, bool)
            or not isinstance(check_ranges_every, numbers.Integral)
            or check_ranges_every < 0
        ):
            raise KerasMotError(
                format_error(
                    "StopOnNonFinite: check_ranges_every must be an int >= 0.",
                    received=repr(check_ranges_every),
                    fix="Pass 1 (every batch, the default), N (every N batches) or 0 (loss only).",
                )
            )
        self.check_ranges_every = int(check_ranges_every)
        self.raise_error = bool(raise_error)
        self.message = None
        self.stopped_step = None
        self._entries = []

    def on_train_begin(self, logs=None):
        self.message = None
        self.stopped_step = None
        self._entries = range_entries(self.model)  # the layers do not change during fit

    def on_train_batch_end(self, batch, logs=None):
        every = self.check_ranges_every
        self._check((logs or {}).get("loss"), batch, every and (batch + 1) % every == 0)

    def on_epoch_end(self, epoch, logs=None):
        if self.check_ranges_every > 1 and self.message is None:
            self._check(None, "end of epoch", True)

    def _check(self, loss, batch, ranges):
        bad_loss = loss is not None and not math.isfinite(float(loss))
        found = nonfinite_range(self.model, self._entries) if ranges or bad_loss else None
        if not bad_loss and found is None:
            return
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        what = f"the loss is {float(loss)}" if bad_loss else "the loss is still finite"
        if found is not None:
            path, name, _, _ = found
            what += f"; the first layer with a non-finite range is '{path}' (range '{name}')"
        where = f"batch {batch}" if isinstance(batch, int) else batch
        self.message = format_error(
            f"Training stopped at step {step} ({where}): {what}.",
            received=f"loss={loss}",
            fix="Lower the learning rate, check the data for NaN / inf, or freeze ranges "
            "earlier (mot.callbacks(model, freeze_ranges_at=...)); resume from a checkpoint "
            "saved before this step: the current weights or ranges are not usable.",
        )
        self.stopped_step = step
        self.model.stop_training = True
        if self.raise_error:
            raise KerasMotError(self.message)
        warnings.warn(self.message, RuntimeWarning, stacklevel=2)

    def get_config(self):
        return {"check_ranges_every": self.check_ranges_every, "raise_error": self.raise_error}
