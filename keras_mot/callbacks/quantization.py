"""Callbacks for quantization-aware training: `FreezeRanges`, `FreezeBatchNorm`.

Both key on the optimizer's step counter (`model.optimizer.iterations`), which checkpoints save,
so resuming `fit` continues exactly where it stopped. The frozen state lives in each wrapper's
variables (`ranges_frozen`, `bn_frozen`), so it is saved with the model too.
"""

import keras

from keras_mot.errors import KerasMotError, format_error


def wrappers(model):
    """All keras_mot `Wrapper` layers of `model`, nested models included."""
    from keras_mot import graph
    from keras_mot.wrapper import Wrapper

    return [layer for _, layer in graph.iter_layers(model) if isinstance(layer, Wrapper)]


def _step(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class _FreezeAtStep(keras.callbacks.Callback):
    flag = None

    def __init__(self, step):
        super().__init__()
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise KerasMotError(format_error(f"{type(self).__name__}: step must be an int >= 0.",
                                             received=repr(step), fix="Pass e.g. step=1000."))
        self.step = step

    def _apply(self):
        frozen = 1.0 if _step(self.model) >= self.step else 0.0
        for w in wrappers(self.model):
            getattr(w, self.flag).assign(frozen)

    def on_train_begin(self, logs=None):
        self._apply()

    def on_train_batch_begin(self, batch, logs=None):
        if _step(self.model) == self.step:
            self._apply()

    def get_config(self):
        return {"step": self.step}


class FreezeRanges(_FreezeAtStep):
    """Stops updating activation ranges from training step `step` on.

    Example:
        >>> model.fit(ds, callbacks=[mot.callbacks.FreezeRanges(step=2000)])
    """

    flag = "ranges_frozen"


class FreezeBatchNorm(_FreezeAtStep):
    """Freezes folded BatchNormalization statistics from training step `step` on.

    Until then a folded layer trains as BatchNormalization does in float training: it
    normalizes with the batch's statistics (the weight quantizer keeps the moving-statistics
    fold; the output is corrected by sigma_moving / sigma_batch) and the moving statistics follow
    the batch's. From `step` on it computes exactly what is exported. Without this callback the
    statistics stay live for the whole fine-tuning (the default; evaluation and export always
    use the moving statistics). Freezing early keeps the folded weights fixed but loses
    BatchNormalization's scale invariance: at a learning rate that suits float training the
    channels' scales drift (bench/qat.py, frozen from step 0: int8 accuracy 0.7 points below live
    statistics over 5 seeds, lower on every seed).

    Example:
        >>> model.fit(ds, callbacks=[mot.callbacks.FreezeBatchNorm(step=1000)])
    """

    flag = "bn_frozen"
