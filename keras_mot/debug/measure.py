"""Streaming per-layer error statistics: quantized (simulated int8 kernels) against float.

For every quantizing `Wrapper` the tapped quantized model's output is compared with the same
path of the float reference (the prepared model with quantization off: BatchNormalization
folded, activations fused, so the tensors line up one to one). Statistics are summed batch by
batch, so memory does not grow with the data.
"""

import keras
import numpy as np
from keras import ops

from keras_mot.quantization import ranges
from keras_mot.wrapper import Wrapper

SAMPLE = 20000  # values per layer kept for the percentiles of range utilisation


def output_range(wrapper):
    """`(lo, hi, scale, spec)` of the wrapper's quantized output grid, or `None`.

    Example:
        >>> lo, hi, scale, spec = output_range(wrapper)
    """
    rs = wrapper.activation_ranges()
    name = "output" if "output" in rs else ("pre_activation" if "pre_activation" in rs else None)
    if name is None or not wrapper.quantize_output:
        return None
    spec = wrapper.scheme.activation_spec()
    lo, hi = ranges.zero_exact_range(*rs[name], spec)
    lo, hi = float(ops.convert_to_numpy(lo)), float(ops.convert_to_numpy(hi))
    scale = float(ops.convert_to_numpy(ranges.grid_scale(lo, hi, spec)))
    return lo, hi, scale, spec


def weight_channel_error(wrapper):
    """`(worst relative RMS error over output channels, its channel)` of the kernel, or `None`.

    The error of channel c is `rms(w_q[c] - w[c]) / rms(w[c])`: a channel whose weights are
    small next to the others' (one per-tensor scale) loses most of them.

    Example:
        >>> error, channel = weight_channel_error(wrapper)
    """
    refs = wrapper._weight_refs()
    if "kernel" not in refs or not wrapper.quantize:
        return None
    w = np.asarray(wrapper.folded_weights()[0]["kernel"])
    q = np.asarray(wrapper.quantized_weights()[0]["kernel"])
    axis = refs["kernel"].channel_axis
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    axes = tuple(a % w.ndim for a in axes)
    w = np.moveaxis(w, axes, range(w.ndim - len(axes), w.ndim)).reshape(
        -1, int(np.prod([w.shape[a] for a in axes]))
    )
    q = np.moveaxis(q, axes, range(q.ndim - len(axes), q.ndim)).reshape(w.shape)
    signal = np.sqrt(np.mean(w**2, axis=0))
    err = np.sqrt(np.mean((q - w) ** 2, axis=0))
    rel = np.where(signal > 0, err / np.maximum(signal, 1e-30), 0.0)
    worst = int(np.argmax(rel))
    return float(rel[worst]), worst


class LayerStats:
    """Sums for one layer: accumulated error (whole quantized model up to it) and own error
    (the quantized layer on its float inputs).

    Example:
        >>> stats = LayerStats(wrapper, output_range(wrapper))
        >>> stats.add(float_out, quantized_out, own_out)
        >>> stats.row()["rmse_over_scale"]
    """

    def __init__(self, wrapper, grid):
        self.wrapper, self.grid = wrapper, grid
        self.n = 0
        self.sum_err = self.sum_sq_err = self.sum_sq_ref = self.max_abs = 0.0
        self.own_sum_sq = self.own_max = 0.0
        self.clipped = 0
        self.codes = None
        self.sample = []
        self.peak = 0.0
        self._rng = np.random.default_rng(0)

    def add(self, ref, quant, own, own_ref=None):
        """Adds a batch: float output `ref`, quantized `quant`, and the layer alone quantized
        (`own`) against float (`own_ref`, default `ref`) on the same inputs."""
        own_ref = ref if own_ref is None else own_ref
        ref = np.asarray(ref, "float32").ravel()
        err = np.asarray(quant, "float32").ravel() - ref
        self.n += ref.size
        self.sum_err += float(err.sum(dtype="float64"))
        self.sum_sq_err += float(np.dot(err, err))
        self.sum_sq_ref += float(np.dot(ref, ref))
        if ref.size:
            self.max_abs = max(self.max_abs, float(err.max()), -float(err.min()))
            self.peak = max(self.peak, float(ref.max()), -float(ref.min()))
        if own is not None:
            own_err = np.asarray(own, "float32").ravel() - np.asarray(own_ref, "float32").ravel()
            self.own_sum_sq += float(np.dot(own_err, own_err))
            if own_err.size:
                self.own_max = max(self.own_max, float(own_err.max()), -float(own_err.min()))
        if self.grid is not None:
            lo, hi, scale, spec = self.grid
            self.clipped += int(
                np.count_nonzero(ref < lo - scale / 2) + np.count_nonzero(ref > hi + scale / 2)
            )
            if spec.bits == 8 and scale > 0:
                codes = np.rint((np.clip(ref, lo, hi) - lo) * (1.0 / scale)).astype(np.int32)
                hit = np.bincount(codes, minlength=spec.levels + 1) > 0
                self.codes = hit if self.codes is None else self.codes | hit[: len(self.codes)]
        take = min(ref.size, max(0, SAMPLE - sum(s.size for s in self.sample)))
        if take:
            self.sample.append(ref[self._rng.integers(0, ref.size, take)])

    def row(self):
        """The statistics as a dict (keys of `LayerError`)."""
        rmse = np.sqrt(self.sum_sq_err / max(self.n, 1))
        own_rmse = np.sqrt(self.own_sum_sq / max(self.n, 1))
        rms = np.sqrt(self.sum_sq_ref / max(self.n, 1))
        out = dict(
            elements=self.n,
            rmse=float(rmse),
            mean_error=self.sum_err / max(self.n, 1),
            max_abs_error=self.max_abs,
            own_rmse=float(own_rmse),
            own_max_abs_error=self.own_max,
            snr_db=_db(rms, rmse),
            own_snr_db=_db(rms, own_rmse),
            peak=self.peak,
        )
        if self.grid is not None:
            lo, hi, scale, spec = self.grid
            out.update(
                scale=scale,
                range=(lo, hi),
                rmse_over_scale=float(rmse / scale) if scale else None,
                own_rmse_over_scale=float(own_rmse / scale) if scale else None,
                clipped=self.clipped / max(self.n, 1),
            )
            if spec.bits == 8:
                out["grid_used"] = (
                    float(self.codes.sum()) / float(spec.levels + 1) if self.codes is not None else None
                )
            if self.sample and hi > lo:
                values = np.concatenate(self.sample)
                p_lo, p_hi = np.percentile(values, [0.1, 99.9])
                out["range_utilisation"] = float((p_hi - p_lo) / (hi - lo))
        weight = None if self.wrapper is None else weight_channel_error(self.wrapper)
        if weight is not None:
            out["weight_error"], out["weight_error_channel"] = weight
        return out


def _db(signal, noise):
    if noise <= 0:
        return float("inf")
    if signal <= 0:
        return float("-inf")
    return float(20.0 * np.log10(signal / noise))


def quantizing_wrappers(calls):
    """`[(index, call)]` of the tapped calls whose layer is a quantizing `Wrapper`.

    Example:
        >>> [c.path for _, c in quantizing_wrappers(tap(qmodel).calls)]
    """
    return [
        (i, c)
        for i, c in enumerate(calls)
        if isinstance(c.layer, Wrapper) and c.layer.quantize and len(c.output_keys) == 1
    ]


def on_producer_grids(wrapper, arguments):
    """`arguments` with each input the wrapper does not quantize itself rounded to its
    producer's int8 grid: the layer's own error then leaves out the rounding its producer owns.

    Example:
        >>> args, kwargs = on_producer_grids(call.layer, taps.arguments(call, values))
    """
    args, kwargs = arguments
    if not args:
        return arguments
    flat = keras.tree.flatten(args[0])
    rounded = []
    for i, x in enumerate(flat):
        ref = wrapper.input_range(i)
        if ref is not None and f"input_{i}" not in wrapper._range_vars:
            x = ops.convert_to_numpy(
                ranges.fake_quant(ops.convert_to_tensor(x, "float32"), ref.min, ref.max, ref.spec)
            )
        rounded.append(x)
    return (keras.tree.pack_sequence_as(args[0], rounded),) + tuple(args[1:]), kwargs
