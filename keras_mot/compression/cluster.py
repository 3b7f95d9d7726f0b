"""`Cluster`: weight clustering (weight sharing) that trains, preserves sparsity and survives int8.

Each weight is replaced by the nearest of `n_clusters` values: a fixed zero (pruned weights and
weights snapped to zero stay exactly zero) and `n_clusters - 1` trainable centroids. In training
the assignment is recomputed each step; the centroids receive the gradient of the weights they
replace and the weights receive their own gradient straight through, so assignments can move.

Int8: with `per_channel=False` the wrapper quantizes every output channel on one grid
(`shared_magnitude`), so a tensor stores at most `n_clusters` distinct int8 values; with
`per_channel=True` each channel has its own centroids and its own grid (at most `n_clusters` per
channel). TFLite has no clustered kernel: the gain is the size of the compressed file only.

Example:
    >>> rule = mot.Rule("class:Conv2D", compress=mot.Cluster(16), quantize="int8")
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from keras_mot.compression.base import WeightCompression, register, validate_start_step
from keras_mot.errors import KerasMotError, format_error
from keras_mot.quantization import ranges

INITS = ("kmeans++", "linear", "density")
_KMEANS_SAMPLE = 20000  # weights used to seed and refine k-means (random subset beyond it)
_KMEANS_STEPS = 12


def _rows(weight, channel_axis, per_channel):
    """The weight as a (groups, elements) matrix: one row per output channel, or one row."""
    flat, axis = ranges.flatten_channel_axes(weight, channel_axis)
    if not per_channel:
        return ops.reshape(flat, (1, -1))
    return ops.reshape(ops.moveaxis(flat, axis, 0), (flat.shape[axis], -1))


def _unrows(rows, weight, channel_axis, per_channel):
    if not per_channel:
        return ops.reshape(rows, weight.shape)
    flat, axis = ranges.flatten_channel_axes(weight, channel_axis)
    moved = ops.moveaxis(flat, axis, 0)
    return ops.reshape(ops.moveaxis(ops.reshape(rows, moved.shape), 0, axis), weight.shape)


def _kmeans(data, k, rng):
    if data.size > _KMEANS_SAMPLE:
        data = rng.choice(data, _KMEANS_SAMPLE, replace=False)
    centers = [data[rng.integers(data.size)]]
    for _ in range(1, k):  # k-means++ seeding: far points are likelier
        d2 = np.min((data[:, None] - np.asarray(centers)[None, :]) ** 2, axis=1)
        total = d2.sum()
        centers.append(
            data[rng.integers(data.size)] if total <= 0 else data[rng.choice(data.size, p=d2 / total)]
        )
    centers = np.asarray(centers, np.float64)
    for _ in range(_KMEANS_STEPS):  # Lloyd refinement
        nearest = np.argmin(np.abs(data[:, None] - centers[None, :]), axis=1)
        for j in range(k):
            members = data[nearest == j]
            if members.size:
                centers[j] = members.mean()
    return np.sort(centers)


def initial_centroids(values, k, init, seed=0):
    """`k` centroids (sorted, numpy) of the nonzero entries of `values` by method `init`.

    Example:
        >>> initial_centroids(np.array([-1.0, 0.0, 1.0, 2.0]), 3, "linear")
        array([-1. ,  0.5,  2. ], dtype=float32)
    """
    data = np.asarray(values, np.float64).ravel()
    data = data[data != 0]
    if data.size == 0:
        return np.zeros(k, np.float32)
    if init == "linear":
        out = np.linspace(data.min(), data.max(), k)
    elif init == "density":  # equally spaced on the cumulative distribution
        out = np.quantile(data, (np.arange(k) + 0.5) / k)
    else:
        out = _kmeans(data, k, np.random.default_rng(seed))
    return np.asarray(out, np.float32)


@register()
@dataclasses.dataclass(frozen=True)
class Cluster(WeightCompression):
    """Weight clustering: every weight takes one of `n_clusters` values (zero included).

    Args:
        n_clusters: number of distinct values per tensor (per channel when `per_channel`),
            the fixed zero included; at least 2.
        init: centroid initialisation: `"kmeans++"` (seeded k-means), `"linear"` (evenly spaced
            between min and max) or `"density"` (evenly spaced on the weights' distribution).
        per_channel: one set of centroids per output channel.
        seed: seed of the k-means++ initialisation.
        start_step: training step from which the clustering is active. Before it the weights
            train freely (under the pruning mask); at it the centroids are initialised by `init`
            from the current (pruned) weights. 0: initialised when the model is prepared.
            Needs the `UpdateCompression` callback (`mot.callbacks(model)` includes it).

    Example:
        >>> qmodel = mot.apply(model, mot.Recipe("tflite_int8", rules=(
        ...     mot.Rule("class:Conv2D", compress=mot.Cluster(16)), mot.Rule("_default"))))
        >>> staged = mot.Cluster(16, start_step=600)   # prune until step 600, then cluster
    """

    n_clusters: int = 16
    init: str = "kmeans++"
    per_channel: bool = False
    seed: int = 0
    start_step: int = 0

    def __post_init__(self):
        if isinstance(self.n_clusters, bool) or not isinstance(self.n_clusters, int) or self.n_clusters < 2:
            raise KerasMotError(
                format_error(
                    "Cluster needs an integer n_clusters >= 2 (the zero cluster is one of them).",
                    received=repr(self.n_clusters),
                    fix="e.g. mot.Cluster(16).",
                )
            )
        if self.init not in INITS:
            raise KerasMotError(
                format_error(
                    "Unknown Cluster init.", received=repr(self.init), fix=f"Use one of {', '.join(INITS)}."
                )
            )
        validate_start_step(self)

    def build(self, layer, weight_name, weight, channel_axis=None):
        """Creates the trainable centroids (`(groups, n_clusters - 1)`), initialised by `init`."""
        per_channel = self._per_channel(layer, channel_axis)
        init = self._initial(weight, channel_axis, per_channel)
        centroids = layer.add_weight(
            name=f"{weight_name}_centroids",
            shape=init.shape,
            initializer=keras.initializers.Constant(init),
            trainable=True,
        )
        return {"centroids": centroids, "channel_axis": channel_axis, "per_channel": per_channel}

    def _initial(self, weight, channel_axis, per_channel):
        rows = np.asarray(ops.convert_to_numpy(_rows(weight, channel_axis, per_channel)))
        return np.stack([initial_centroids(r, self.n_clusters - 1, self.init, self.seed) for r in rows])

    def initialize(self, state, weight):
        """Re-initialises the centroids by `init` from `weight` (the current masked weight)."""
        state["centroids"].assign(self._initial(weight, state["channel_axis"], state["per_channel"]))

    def _per_channel(self, layer, channel_axis):
        if self.per_channel and channel_axis is None:
            raise KerasMotError(
                format_error(
                    "Cluster(per_channel=True) needs a weight with an output-channel axis.",
                    layer=getattr(layer, "name", None),
                    fix="Use per_channel=False for this layer.",
                )
            )
        return self.per_channel

    @staticmethod
    def values(state):
        """`(groups, n_clusters)`: the zero cluster followed by the centroids."""
        c = ops.convert_to_tensor(state["centroids"])
        return ops.concatenate([ops.zeros((c.shape[0], 1), c.dtype), c], axis=1)

    def assignments(self, weight, state):
        """Cluster index of every weight, as a `(groups, elements)` int tensor (0 = zero)."""
        rows = _rows(weight, state["channel_axis"], state["per_channel"])
        values = self.values(state)
        return ops.argmin(ops.abs(rows[:, :, None] - values[:, None, :]), axis=-1)

    def project(self, weight, state, training=None):
        """Each weight replaced by its cluster's value; straight-through gradient to `weight`,
        the gathered gradient to the centroids; exact zeros stay zero."""
        weight = ops.convert_to_tensor(weight)
        index = self.assignments(ops.stop_gradient(weight), state)
        shared = ops.take_along_axis(self.values(state), index, axis=1)
        rows = _rows(weight, state["channel_axis"], state["per_channel"])
        rows = shared + (rows - ops.stop_gradient(rows))
        out = _unrows(rows, weight, state["channel_axis"], state["per_channel"])
        return out * ops.cast(ops.not_equal(weight, 0), out.dtype)

    def stored(self, weight, state):
        """`{"values": (groups, n_clusters), "indices": uint8/int32 assignments}`."""
        index = np.asarray(ops.convert_to_numpy(self.assignments(weight, state)))
        dtype = np.uint8 if self.n_clusters <= 256 else np.int32
        return {
            "values": np.asarray(ops.convert_to_numpy(self.values(state))),
            "indices": index.astype(dtype),
            "shape": np.asarray(weight.shape),
        }

    def reconstruct(self, stored):
        """The dense clustered weight (numpy) for `per_channel=False`; for per-channel clusters,
        the `(channels, elements)` rows with the output channel first."""
        rows = np.take_along_axis(stored["values"], stored["indices"].astype(np.int64), axis=1)
        return rows.reshape(tuple(stored["shape"])) if stored["values"].shape[0] == 1 else rows

    def shared_magnitude(self, state):
        """Per-tensor clustering: the largest |centroid|, so all channels share one int8 grid."""
        if state["per_channel"]:
            return None
        return ops.max(ops.abs(ops.convert_to_tensor(state["centroids"])))
