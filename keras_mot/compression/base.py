"""`WeightCompression`: the public API of a weight transform that trains and exports.

A compression algorithm (weight clustering, palettization, ...) is a small frozen config object
with four methods the `Wrapper` calls on each compressed weight:

    weight -> [* pruning mask] -> project(weight, state, training) -> [fold BN] -> fake-quant

- `build(layer, weight_name, weight, channel_axis)` creates the training state once, as Keras
  weights made with `layer.add_weight` (saved in `.keras` files and checkpoints, so training
  resumes exactly), initialised from the current weight;
- `project(weight, state, training)` is the weight the op computes with, every step (keras.ops,
  differentiable; zeros of the pruning mask must stay exactly zero);
- `stored(weight, state)` is the compact stored form (numpy), `reconstruct(stored)` the dense
  weight again;
- `shared_magnitude(state)` (optional) asks per-channel int8 quantization to use one grid for the
  whole tensor, so values shared across channels stay shared after quantization;
- `initialize(state, weight)` (optional, for staged algorithms): an algorithm with a field
  `start_step > 0` is inactive before that training step (the weight trains freely, under the
  pruning mask); at `start_step` the `UpdateCompression` callback (part of `mot.callbacks(model)`)
  calls `initialize` with the current masked weight and the projection takes over. So a cascade
  can prune first and cluster the pruned weights.

Register the class with `keras_mot.compression.register(name)`: it is then allowed in `.keras`
files and recipe YAML (through `keras_mot.codec`) and usable in `mot.Rule(compress=...)` and
`mot.annotate(layer, compress=...)`.

Example:
    >>> @register("mylib.Sign")
    ... @dataclasses.dataclass(frozen=True)
    ... class Sign(WeightCompression):
    ...     def build(self, layer, weight_name, weight, channel_axis=None):
    ...         return {"alpha": layer.add_weight(name=f"{weight_name}_alpha", shape=(),
    ...                 initializer=keras.initializers.Constant(float(np.abs(weight).mean())))}
    ...     def project(self, weight, state, training=None):
    ...         return ops.sign(weight) * state["alpha"]
"""

import dataclasses

import numpy as np
from keras import ops

from keras_mot import codec
from keras_mot.errors import KerasMotError, format_error

_REGISTRY = {}


class WeightCompression:
    """Base class of a weight compression algorithm (see the module docstring).

    Subclasses are usually frozen dataclasses: `get_config` / `from_config` then need no code.

    Example:
        >>> algo = keras_mot.compression.get("Cluster")
        >>> isinstance(algo, WeightCompression)
        True
    """

    def build(self, layer, weight_name, weight, channel_axis=None):
        """Creates the training state of `weight` (a numpy array of the layer's current weight).

        Args:
            layer: the `Wrapper`; create variables with `layer.add_weight(name=f"{weight_name}_...")`.
            weight_name: the weight's name in the layer (e.g. `"kernel"`).
            weight: its current value (numpy), after the pruning mask.
            channel_axis: output-channel axis (an int, or a tuple of trailing axes), or `None`.

        Returns:
            `{name: variable}`: the state handed to `project` and `stored`.
        """
        return {}

    def project(self, weight, state, training=None):
        """The weight the op computes with (keras.ops; gradients reach `weight` and the state)."""
        raise NotImplementedError(f"{type(self).__name__}.project")

    def stored(self, weight, state):
        """`{name: numpy array}`: the compact stored form of `weight` (default: the projection)."""
        return {"weight": np.asarray(ops.convert_to_numpy(self.project(weight, state, False)))}

    def reconstruct(self, stored):
        """The dense weight (numpy) from `stored(...)`'s output."""
        return stored["weight"]

    start_step = 0  # staged algorithms declare it as a field (see the module docstring)

    def initialize(self, state, weight):
        """Re-initialises `state` from `weight` (numpy, after the pruning mask) when a staged
        algorithm becomes active at its `start_step`; assign into the variables `build` made.
        Default: nothing (the state `build` made is kept)."""

    def shared_magnitude(self, state):
        """Largest magnitude of the values shared across output channels (a scalar tensor), to
        quantize every channel on the same int8 grid; `None` (default): per-channel grids."""
        return None

    def get_config(self):
        """Plain data (the dataclass fields)."""
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}

    @classmethod
    def from_config(cls, config):
        """Inverse of `get_config`."""
        return cls(**config)


def register(name=None, *, version=1, upgrades=None):
    """Class decorator: registers a `WeightCompression` (codec type + algorithm registry).

    Args:
        name: the type name written to files; third-party algorithms use a prefixed name
            (e.g. `"mylib.Palette"`).
        version: the config version (as `keras_mot.codec.register`).
        upgrades: `{old_version: function}` config upgrades (as `keras_mot.codec.register`).

    Example:
        >>> @register("mylib.Palette")
        ... @dataclasses.dataclass(frozen=True)
        ... class Palette(WeightCompression): ...
    """

    def decorator(cls):
        if not (isinstance(cls, type) and issubclass(cls, WeightCompression)):
            raise TypeError(f"compression.register: {cls!r} must subclass WeightCompression.")
        codec.register(name, version=version, upgrades=upgrades)(cls)
        _REGISTRY[name or cls.__name__] = cls
        return cls

    return decorator


def registered():
    """`{name: class}` of the registered compression algorithms.

    Example:
        >>> "Cluster" in registered()
        True
    """
    return dict(_REGISTRY)


def get(value):
    """A `WeightCompression` from an instance, a registered name (default settings) or its codec
    encoding; `None` stays `None`.

    Raises:
        KerasMotError: an unknown name or a value of another type.

    Example:
        >>> get({"type": "Cluster", "config": {"n_clusters": 8}}).n_clusters
        8
    """
    if value is None or isinstance(value, WeightCompression):
        return value
    if isinstance(value, dict):
        return codec.decode(value, expect=WeightCompression)
    if isinstance(value, str) and value in _REGISTRY:
        return _REGISTRY[value]()
    raise KerasMotError(
        format_error(
            "Unknown weight compression.",
            received=repr(value),
            fix=f"Pass an instance such as mot.Cluster(16), or one of: {', '.join(sorted(_REGISTRY))}.",
        )
    )


def validate_start_step(algorithm):
    """Raises a clear error unless `algorithm.start_step` is an int >= 0.

    Example:
        >>> validate_start_step(mot.Cluster(16, start_step=200))   # passes
    """
    step = getattr(algorithm, "start_step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise KerasMotError(
            format_error(
                f"{type(algorithm).__name__}: start_step must be an int >= 0 (the training step at "
                "which the compression is initialised from the current weights and takes over).",
                received=repr(step),
                fix="e.g. start_step=500, or 0 to compress from the first step.",
            )
        )
