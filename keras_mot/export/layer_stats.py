"""Per-layer statistics for the export report: weight sparsity and weight quantization error.

Read from the Keras model before stripping: for a keras_mot `Wrapper` the weights the op
really reads (BatchNormalization folded, pruning mask applied) and, when it quantizes, their
fake-quantized form; for other layers their own kernel.
"""

import dataclasses
from typing import Optional

import numpy as np

from keras_mot import graph
from keras_mot.wrapper import Wrapper

# Attributes holding the main weight of stock Keras layers (first present wins).
KERNEL_ATTRS = ("kernel", "depthwise_kernel", "embeddings")


@dataclasses.dataclass(frozen=True)
class LayerStat:
    """One weight-bearing layer.

    Attributes:
        layer: layer path; cls: class of the (wrapped) layer.
        params: number of kernel entries.
        sparsity: fraction of exact zeros in the kernel.
        quant_error: relative RMS error of the fake-quantized kernel (`None` if not quantized).
        pattern: the pruning pattern (`None` if not pruned).
    """

    layer: str
    cls: str
    params: int
    sparsity: float
    quant_error: Optional[float] = None
    pattern: Optional[str] = None

    def to_dict(self):
        """Plain-dict form (rounded)."""
        d = dataclasses.asdict(self)
        d["sparsity"] = round(self.sparsity, 4)
        if self.quant_error is not None:
            d["quant_error"] = round(self.quant_error, 6)
        return d


def _rel_rms(q, w):
    denom = float(np.sqrt(np.mean(np.square(w)))) if w.size else 0.0
    return float(np.sqrt(np.mean(np.square(q - w)))) / denom if denom > 0 else 0.0


def _wrapper_stat(path, layer):
    weights, _ = layer.folded_weights()
    if "kernel" not in weights:
        return None
    kernel = np.asarray(weights["kernel"])
    error = None
    if layer.quantize:
        quantized, _ = layer._weights(training=False)  # noqa: SLF001  (read-only, no updates)
        error = _rel_rms(np.asarray(quantized["kernel"]), kernel)
    pattern = repr(layer.prune.pattern) if layer.prune is not None else None
    return LayerStat(path, type(layer.layer).__name__, int(kernel.size),
                     float(np.mean(kernel == 0)), error, pattern)


def _plain_stat(path, layer):
    for attr in KERNEL_ATTRS:
        var = getattr(layer, attr, None)
        if var is not None and hasattr(var, "shape") and len(var.shape) >= 2:
            kernel = np.asarray(var)
            return LayerStat(path, type(layer).__name__, int(kernel.size),
                             float(np.mean(kernel == 0)))
    return None


def layer_stats(model):
    """`LayerStat` of every weight-bearing layer, in graph order.

    Example:
        >>> [(s.layer, round(s.sparsity, 2)) for s in layer_stats(pruned_model)]
        [('conv', 0.5), ('dense', 0.8)]
    """
    stats = []
    for path, layer in graph.iter_layers(model):
        if graph.is_graph_model(layer):
            continue
        stat = (_wrapper_stat if isinstance(layer, Wrapper) else _plain_stat)(path, layer)
        if stat is not None:
            stats.append(stat)
    return stats


def overall_sparsity(stats):
    """Fraction of zeros over all kernels (weighted by size)."""
    total = sum(s.params for s in stats)
    return sum(s.sparsity * s.params for s in stats) / total if total else 0.0
