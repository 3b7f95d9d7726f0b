"""`StopOnNonFinite`: stop training at the first NaN / inf loss or quantization range.

A diverging quantization-aware fit otherwise trains to the end, saves weights full of NaN and
fails much later in the converter (or crashes the interpreter). The check reads the batch's
loss and, with one reduction over every range variable, the ranges (a loss can stay finite while
an activation range has already gone NaN). `keras.ops` only: it runs on every backend.
"""

import math
import warnings

import keras

from keras_mot.errors import KerasMotError, format_error
from keras_mot.finite import nonfinite_range


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops `fit` at the first batch whose loss or a quantization range is NaN / inf.

    It names what went bad (the loss, or the first `Wrapper` layer whose range did) in a
    `RuntimeWarning` and in `self.message`; `self.stopped_step` is the optimizer step.
    `mot.callbacks(model)` includes it.

    Args:
        check_ranges: also check every wrapper's ranges after each batch (one reduction).
        raise_error: raise `KerasMotError` instead of stopping with a warning.

    Example:
        >>> stop = mot.callbacks.StopOnNonFinite()
        >>> model.fit(x, y, callbacks=[stop])
        >>> stop.message  # None when training stayed finite
    """

    def __init__(self, check_ranges=True, raise_error=False):
        super().__init__()
        self.check_ranges = bool(check_ranges)
        self.raise_error = bool(raise_error)
        self.message = None
        self.stopped_step = None

    def on_train_begin(self, logs=None):
        self.message = None
        self.stopped_step = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        bad_loss = loss is not None and not math.isfinite(float(loss))
        found = nonfinite_range(self.model) if self.check_ranges or bad_loss else None
        if not bad_loss and found is None:
            return
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        what = f"the loss is {float(loss)}" if bad_loss else "the loss is still finite"
        if found is not None:
            path, name, _, _ = found
            what += f"; the first layer with a non-finite range is '{path}' (range '{name}')"
        self.message = format_error(
            f"Training stopped at step {step} (batch {batch}): {what}.",
            received=f"loss={loss}",
            fix="Lower the learning rate, check the data for NaN / inf, or freeze ranges "
                "earlier (mot.callbacks(model, freeze_ranges_at=...)); resume from a checkpoint "
                "saved before this step: the current weights or ranges are not usable.")
        self.stopped_step = step
        self.model.stop_training = True
        if self.raise_error:
            raise KerasMotError(self.message)
        warnings.warn(self.message, RuntimeWarning, stacklevel=2)

    def get_config(self):
        return {"check_ranges": self.check_ranges, "raise_error": self.raise_error}
