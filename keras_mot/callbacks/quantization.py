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


def optimizer_step(model):
    """The optimizer's step counter of `model` as an int (what the callbacks key on).

    Example:
        >>> optimizer_step(model)   # 0 before the first training step
    """
    sync_state(model)
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def sync_state(model):
    """Writes the JAX trainer's state back to `model`'s variables (no-op on other backends).

    Keras' JAX `fit` carries the variables through the step functions and attaches them to the
    model only at epoch ends; a callback that reads the step counter or assigns a variable
    between steps must sync first, and the next step then reads what it assigned.

    Example:
        >>> sync_state(model)   # inside a callback, before reading or assigning variables
    """
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()


class _FreezeAtStep(keras.callbacks.Callback):
    flag = None

    def __init__(self, step):
        super().__init__()
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise KerasMotError(
                format_error(
                    f"{type(self).__name__}: step must be an int >= 0.",
                    received=repr(step),
                    fix="Pass e.g. step=1000.",
                )
            )
        self.step = step

    def _apply(self):
        frozen = 1.0 if optimizer_step(self.model) >= self.step else 0.0
        for w in wrappers(self.model):
            getattr(w, self.flag).assign(frozen)

    def on_train_begin(self, logs=None):
        self._pending = optimizer_step(self.model) < self.step
        self._apply()

    def on_train_batch_begin(self, batch, logs=None):
        # `>=`, not `==`: with `steps_per_execution=k` the step counter moves k at a time.
        if self._pending and optimizer_step(self.model) >= self.step:
            self._pending = False
            self._apply()
            self._frozen_now()

    def _frozen_now(self):
        """Hook: runs once, at the first batch from `step` on."""

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

    Until then (and without this callback, for the whole fit: the default) a folded layer
    trains as BatchNormalization does in float training: it normalizes with the batch's
    statistics (the weight quantizer keeps the moving-statistics fold; the output is corrected
    by sigma_moving / sigma_batch, with BatchNormalization's exact gradients) and the moving
    statistics follow the batch's. Evaluation and export always use the moving statistics.
    From `step` on, training computes exactly what is exported, and the training step is
    retraced without the batch-statistics branch: live, a step costs ~1.3x a frozen one
    (bench/qat.py's MobileNetV2: 102 ms vs 79 ms). Freezing early is faster but loses
    BatchNormalization's scale invariance, so a learning rate that suits float training can
    be too high for the folded layers (bench/qat.py, 5 seeds of 60 QAT steps: int8 90.7 % live,
    89.5 % frozen from step 0, 88.3 % from step 40; use a lower rate with it). With
    `steps_per_execution=k` the freeze lands on the first execution that starts at or after
    `step`.

    Example:
        >>> model.fit(ds, callbacks=[mot.callbacks.FreezeBatchNorm(step=1000)])
    """

    flag = "bn_frozen"

    def on_train_begin(self, logs=None):
        self._trace_batch_statistics(optimizer_step(self.model) < self.step)
        super().on_train_begin(logs)

    def _frozen_now(self):
        self._trace_batch_statistics(False)

    def _trace_batch_statistics(self, live):
        """Retraces the training step with (`live`) or without the batch-statistics branch of
        every folded BatchNormalization, where that changes the traced graph.

        The branch costs ~30 % of the step's tracing time and, even frozen (where it computes
        the fold bit for bit), its passes over the activations (the class docstring's step
        cost). So it is traced only while the statistics are live, and dropped at the freeze
        step (`fit` calls `model.train_function` afresh every step).
        """
        changed = [w for w in wrappers(self.model) if w.bn is not None and w._bn_statistics_live != live]
        for w in changed:
            w._bn_statistics_live = live
        if changed:
            self.model.make_train_function(force=True)
