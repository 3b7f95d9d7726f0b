"""Per-layer statistics for the export report: weight sparsity and weight quantization error.

Read from the Keras model before stripping: for a keras_mot `Wrapper` the weights the op
really reads (BatchNormalization folded, pruning mask applied) and, when it quantizes, their
fake-quantized form; for other layers their own weight matrices (every own trainable variable
with two or more dimensions: kernels, embedding and position tables). Layers inside subclassed
blocks that were not opened (a float KerasHub model, a custom layer) are visited too, so
`overall_sparsity` counts every weight of the model, not only those keras_mot wrapped.
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
    if "kernel" not in weights:  # several matrices (attention): counted together, no error
        matrices = [np.asarray(w) for w in weights.values() if len(w.shape) >= 2]
        if not matrices:
            return None
        params = sum(m.size for m in matrices)
        pattern = repr(layer.prune.pattern) if layer.prune is not None else None
        return LayerStat(
            path,
            type(layer.layer).__name__,
            int(params),
            sum(int(np.sum(m == 0)) for m in matrices) / params,
            None,
            pattern,
        )
    kernel = np.asarray(weights["kernel"])
    error = None
    if layer.quantize:
        quantized, _ = layer.quantized_weights()
        error = _rel_rms(np.asarray(quantized["kernel"]), kernel)
    pattern = repr(layer.prune.pattern) if layer.prune is not None else None
    return LayerStat(
        path, type(layer.layer).__name__, int(kernel.size), float(np.mean(kernel == 0)), error, pattern
    )


def _own_matrices(layer):
    """The layer's own trainable variables with >= 2 dimensions (not its sublayers')."""
    own = getattr(layer, "_trainable_variables", None)
    if own is None:  # not a Keras 3 layer: fall back to the usual kernel attributes
        own = [getattr(layer, a, None) for a in KERNEL_ATTRS]
    return [v for v in own if v is not None and hasattr(v, "shape") and len(v.shape) >= 2]


def _plain_stat(path, layer):
    matrices = [np.asarray(v) for v in _own_matrices(layer)]
    if not matrices:
        return None
    params = sum(m.size for m in matrices)
    zeros = sum(int(np.sum(m == 0)) for m in matrices)
    return LayerStat(path, type(layer).__name__, int(params), zeros / params)


def _sublayers(layer):
    """Direct sublayers of a non-graph layer (a subclassed block)."""
    try:
        return list(layer._flatten_layers(include_self=False, recursive=False))  # noqa: SLF001
    except (AttributeError, TypeError):
        return []


def _walk(path, layer, stats):
    if isinstance(layer, Wrapper):
        stat = _wrapper_stat(path, layer)
        if stat is not None:
            stats.append(stat)
        return
    stat = _plain_stat(path, layer)
    if stat is not None:
        stats.append(stat)
    for sub in _sublayers(layer):
        _walk(f"{path}/{sub.name}", sub, stats)


def layer_stats(model):
    """`LayerStat` of every weight-bearing layer, in graph order.

    Example:
        >>> [(s.layer, round(s.sparsity, 2)) for s in layer_stats(pruned_model)]
        [('conv', 0.5), ('dense', 0.8)]
    """
    stats = []
    for path, layer in graph.iter_layers(model):
        if not graph.is_graph_model(layer):
            _walk(path, layer, stats)
    return stats


def overall_sparsity(stats):
    """Fraction of zeros over all weight matrices of the model (weighted by size)."""
    total = sum(s.params for s in stats)
    return sum(s.sparsity * s.params for s in stats) / total if total else 0.0
