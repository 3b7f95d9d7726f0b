"""`Palettize`: a uniform k-bit palette with a trainable step (weights on `{-L..L} * step`).

Every weight is rounded to the nearest of `2**bits - 1` evenly spaced values symmetric around
zero (zero included, so pruned weights stay zero). The step trains with the weights (the rounding
passes gradients straight through; the step gets the gradient of the scaled grid), per tensor or
per output channel. Per tensor, all channels share one int8 grid, so an exported int8 tensor holds
at most `2**bits - 1` distinct values: a `bits`-bit tensor inside an int8 file.

Example:
    >>> rule = mot.Rule("class:Dense", compress=mot.compression.Palettize(4))
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from keras_mot.compression.base import WeightCompression, register, validate_start_step
from keras_mot.errors import KerasMotError, format_error
from keras_mot.quantization import ranges


@register()
@dataclasses.dataclass(frozen=True)
class Palettize(WeightCompression):
    """Uniform palette of `2**bits - 1` values with a trainable step.

    Args:
        bits: palette bits, 2 to 8 (`2**bits - 1` values, zero included).
        per_channel: one step per output channel.
        start_step: training step from which the palette is active; at it the step is
            initialised from the current (pruned) weights (`Cluster` has the same field).

    Example:
        >>> algo = Palettize(4)
        >>> algo.levels
        7
    """

    bits: int = 4
    per_channel: bool = False
    start_step: int = 0

    def __post_init__(self):
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 2 <= self.bits <= 8:
            raise KerasMotError(
                format_error(
                    "Palettize needs an integer bits in 2..8.",
                    received=repr(self.bits),
                    fix="e.g. Palettize(4).",
                )
            )
        validate_start_step(self)

    @property
    def levels(self):
        """Largest palette index L (values are `{-L..L} * step`)."""
        return 2 ** (self.bits - 1) - 1

    def _flat(self, weight, channel_axis):
        flat, axis = ranges.flatten_channel_axes(weight, channel_axis)
        return flat, axis

    def build(self, layer, weight_name, weight, channel_axis=None):
        """Creates the step (scalar, or one per output channel), `max |w| / L` initially."""
        if self.per_channel and channel_axis is None:
            raise KerasMotError(
                format_error(
                    "Palettize(per_channel=True) needs a weight with an output-channel axis.",
                    layer=getattr(layer, "name", None),
                    fix="Use per_channel=False for this layer.",
                )
            )
        step = self._initial_step(weight, channel_axis)
        var = layer.add_weight(
            name=f"{weight_name}_step",
            shape=step.shape,
            trainable=True,
            initializer=keras.initializers.Constant(step),
        )
        return {"step": var, "channel_axis": channel_axis}

    def _initial_step(self, weight, channel_axis):
        flat, axis = self._flat(np.asarray(weight), channel_axis)
        flat = np.asarray(flat)
        if self.per_channel:
            m = np.abs(np.moveaxis(flat, axis, 0).reshape(flat.shape[axis], -1)).max(axis=1)
        else:
            m = np.asarray(np.abs(flat).max())
        return np.maximum(m / self.levels, 1e-6).astype("float32")

    def initialize(self, state, weight):
        """Re-initialises the step to `max |w| / L` of `weight` (the current masked weight)."""
        state["step"].assign(self._initial_step(weight, state["channel_axis"]))

    def _step(self, weight, state):
        step = ops.abs(ops.convert_to_tensor(state["step"])) + 1e-12
        if not self.per_channel:
            return step, None
        flat, axis = self._flat(weight, state["channel_axis"])
        shape = [1] * len(flat.shape)
        shape[axis % len(flat.shape)] = -1
        return ops.reshape(step, shape), flat

    def project(self, weight, state, training=None):
        """`round(w / step)` clipped to `[-L, L]`, times the step (straight-through rounding)."""
        weight = ops.convert_to_tensor(weight)
        step, flat = self._step(weight, state)
        x = weight if flat is None else flat
        z = x / step
        z = z + ops.stop_gradient(ops.clip(ops.round(z), -self.levels, self.levels) - z)
        return ops.reshape(z * step, weight.shape)

    def stored(self, weight, state):
        """`{"indices": int8 palette indices, "step": step(s)}`."""
        weight = ops.convert_to_tensor(weight)
        step, flat = self._step(weight, state)
        x = weight if flat is None else flat
        index = ops.clip(ops.round(x / step), -self.levels, self.levels)
        return {
            "indices": np.asarray(ops.convert_to_numpy(index)).astype(np.int8),
            "step": np.asarray(ops.convert_to_numpy(step)),
            "shape": np.asarray(weight.shape),
        }

    def reconstruct(self, stored):
        """The dense palettized weight (numpy)."""
        return (stored["indices"] * stored["step"]).reshape(tuple(stored["shape"]))

    def shared_magnitude(self, state):
        """Per tensor: `L * step`, so all channels share one int8 grid."""
        if self.per_channel:
            return None
        return ops.abs(ops.convert_to_tensor(state["step"])) * self.levels
