"""Pruning schedules: training step -> (update the mask now?, target sparsity).

Semantics follow tensorflow_model_optimization's `pruning_schedule.py` (facts, not code):
the mask is updated only on steps `step` with `begin_step <= step <= end_step` (any step >=
`begin_step` when `end_step == -1`) and `(step - begin_step) % frequency == 0`.
`PolynomialDecay` ramps sparsity from `initial_sparsity` to `final_sparsity` as
`final + (initial - final) * (1 - p) ** power`, `p = clip((step - begin) / (end - begin), 0, 1)`.

Note: the last update happens at the last multiple of `frequency` after `begin_step` that is
<= `end_step`; choose `end_step - begin_step` as a multiple of `frequency` to reach
`final_sparsity` exactly (`last_update_step` tells you).

Example:
    >>> s = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=1000, frequency=100)
    >>> s.sparsity_at(500)
    0.7
"""

from keras import ops

from keras_mot import codec
from keras_mot.errors import KerasMotError, format_error
from keras_mot.sparsity.config_value import ConfigValue


def _check_sparsity(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise KerasMotError(
            format_error(
                f"{owner}: `{name}` must be a fraction of zeros in [0, 1).",
                received=repr(value),
                fix=f"Pass e.g. {name}=0.8 (80 % zeros).",
            )
        )
    return float(value)


def _check_int(value, name, owner, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise KerasMotError(
            format_error(
                f"{owner}: `{name}` must be an integer >= {minimum}.",
                received=repr(value),
                fix=f"Pass an integer step count, e.g. {name}={max(minimum, 100)}.",
            )
        )
    return value


class PruningSchedule(ConfigValue):
    """Base class: `schedule(step)` (keras.ops) and `sparsity_at(step)` (pure python)."""

    begin_step: int
    end_step: int
    frequency: int

    def _validate_steps(self, owner, allow_open_end):
        _check_int(self.begin_step, "begin_step", owner, 0)
        _check_int(self.frequency, "frequency", owner, 1)
        _check_int(self.end_step, "end_step", owner, -1)
        if self.end_step == -1 and not allow_open_end:
            raise KerasMotError(
                format_error(
                    f"{owner}: `end_step` must be given (-1 means 'never ends', which this "
                    "schedule cannot use).",
                    received="end_step=-1",
                    fix="Pass end_step > begin_step.",
                )
            )
        if self.end_step != -1 and self.end_step <= self.begin_step:
            raise KerasMotError(
                format_error(
                    f"{owner}: `end_step` must be greater than `begin_step`.",
                    received=f"begin_step={self.begin_step}, end_step={self.end_step}",
                    fix="Pass end_step > begin_step (or -1 for ConstantSparsity).",
                )
            )

    def should_update_at(self, step):
        """Pure-python: whether the mask is recomputed at integer `step`."""
        in_range = step >= self.begin_step and (self.end_step == -1 or step <= self.end_step)
        return in_range and (step - self.begin_step) % self.frequency == 0

    @property
    def last_update_step(self):
        """The last step at which the mask changes (None for an open-ended schedule)."""
        if self.end_step == -1:
            return None
        return self.end_step - (self.end_step - self.begin_step) % self.frequency

    def _should_update(self, step):
        step = ops.cast(step, "int64")
        in_range = ops.greater_equal(step, self.begin_step)
        if self.end_step != -1:
            in_range = ops.logical_and(in_range, ops.less_equal(step, self.end_step))
        turn = ops.equal(ops.mod(step - self.begin_step, self.frequency), 0)
        return ops.logical_and(in_range, turn)

    def __call__(self, step):
        return self.schedule(step)


@codec.register()
class PolynomialDecay(PruningSchedule):
    """Sparsity rising polynomially from `initial_sparsity` to `final_sparsity`.

    Args:
        initial_sparsity: zeros fraction at `begin_step`, in [0, 1).
        final_sparsity: zeros fraction from `end_step` on, in [0, 1).
        begin_step: first step that updates the mask.
        end_step: step at which `final_sparsity` is reached (> begin_step).
        power: exponent of the decay (3 = fast early pruning, slow at the end).
        frequency: update the mask every `frequency` steps.

    Example:
        >>> PolynomialDecay(0.0, 0.5, 0, 100, power=1, frequency=10).sparsity_at(50)
        0.25
    """

    def __init__(self, initial_sparsity, final_sparsity, begin_step, end_step, power=3, frequency=100):
        owner = "PolynomialDecay"
        self.initial_sparsity = _check_sparsity(initial_sparsity, "initial_sparsity", owner)
        self.final_sparsity = _check_sparsity(final_sparsity, "final_sparsity", owner)
        if isinstance(power, bool) or not isinstance(power, (int, float)) or power <= 0:
            raise KerasMotError(
                format_error(
                    f"{owner}: `power` must be a positive number.",
                    received=repr(power),
                    fix="Pass e.g. power=3.",
                )
            )
        self.power = power
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency
        self._validate_steps(owner, allow_open_end=False)

    def sparsity_at(self, step):
        """Pure-python target sparsity at integer `step`."""
        p = min(1.0, max(0.0, (step - self.begin_step) / (self.end_step - self.begin_step)))
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - p) ** self.power

    def schedule(self, step):
        """(should_update bool tensor, sparsity float32 tensor) at integer tensor `step`."""
        p = (ops.cast(step, "float32") - self.begin_step) / float(self.end_step - self.begin_step)
        p = ops.clip(p, 0.0, 1.0)
        sparsity = self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * ops.power(
            1.0 - p, float(self.power)
        )
        return self._should_update(step), ops.cast(sparsity, "float32")

    def get_config(self):
        return {
            "initial_sparsity": self.initial_sparsity,
            "final_sparsity": self.final_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "power": self.power,
            "frequency": self.frequency,
        }


@codec.register()
class ConstantSparsity(PruningSchedule):
    """The same `target_sparsity` at every update step in [begin_step, end_step].

    Args:
        target_sparsity: zeros fraction, in [0, 1).
        begin_step: first step that updates the mask.
        end_step: last step that may update the mask; -1 = never stop.
        frequency: update the mask every `frequency` steps.

    Example:
        >>> ConstantSparsity(0.5, begin_step=10).should_update_at(110)
        True
    """

    def __init__(self, target_sparsity, begin_step, end_step=-1, frequency=100):
        owner = "ConstantSparsity"
        self.target_sparsity = _check_sparsity(target_sparsity, "target_sparsity", owner)
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency
        self._validate_steps(owner, allow_open_end=True)

    def sparsity_at(self, step):
        """Pure-python target sparsity (constant)."""
        return self.target_sparsity

    def schedule(self, step):
        """(should_update bool tensor, sparsity float32 tensor) at integer tensor `step`."""
        return self._should_update(step), ops.convert_to_tensor(self.target_sparsity, "float32")

    def get_config(self):
        return {
            "target_sparsity": self.target_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
        }
