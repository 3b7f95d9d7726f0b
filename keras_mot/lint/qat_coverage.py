"""What a quantization-aware model leaves float: the honest half of the int8 lint.

For a float model, the int8 rules ask whether each op has an int8 kernel, because post-training
conversion calibrates every tensor. A model prepared by `mot.quantize` converts differently: the
converter quantizes exactly the tensors that carry a fake-quantization range, and every compute
op outside keras_mot's wrappers (a block it could not open, a layer with no adapter, a tensor op
it has no handler for) stays float32 between DEQUANTIZE and QUANTIZE. This module finds those
ops in the lint's trace, so that on a prepared model `full_int8` means the export has no float
compute op, and measures the share of multiply-accumulates the quantized layers cover.

Example:
    >>> coverage = qat_coverage(model, items)
    >>> coverage.mac_share, [f.layer for f in coverage.findings]
"""

import dataclasses

from keras_mot import graph
from keras_mot.export.inspect import COMPUTE_OPS
from keras_mot.findings import Finding
from keras_mot.layers.pooling import is_passthrough
from keras_mot.lint.classify import BUILTIN, is_float_data

# TF ops that multiply-accumulate: MACs = output elements x reduction length.
_MATMULS = frozenset({"MatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum"})
_CONVS = frozenset({"Conv2D", "Conv3D", "Conv2DBackpropInput", "DepthwiseConv2dNative"})


@dataclasses.dataclass
class Coverage:
    """How much of a prepared model is quantized.

    Attributes:
        mac_share: share of multiply-accumulates in quantized layers (1.0 when none at all).
        float_layers: paths of layers whose compute ops stay float, in model order.
        findings: one warning per such layer, naming its float ops.
    """

    mac_share: float
    float_layers: list
    findings: list

    def summary(self):
        """One line: `"QAT covers 97.3 % of MACs; left float: a, b"`."""
        line = f"QAT covers {100 * self.mac_share:.1f} % of MACs"
        if not self.float_layers:
            return line + "; no compute op left float."
        shown = ", ".join(self.float_layers[:4])
        more = len(self.float_layers) - 4
        return f"{line}; left float: {shown}" + (f" (+{more} more)" if more > 0 else "") + "."


def _dims(shape):
    return [1 if d is None else int(d) for d in (shape or ())]


def _prod(values):
    result = 1
    for v in values:
        result *= v
    return result


def macs(op):
    """Multiply-accumulates of one traced op per example (unknown dims count as 1), else 0."""
    if op.graph_op is None or not op.graph_op.outputs or len(op.in_shapes) < 2:
        return 0
    out = _dims(op.graph_op.outputs[0].shape)[1:]
    if op.type in _MATMULS:
        lhs = _dims(op.in_shapes[0])
        return _prod(out) * (lhs[-1] if lhs else 1)
    if op.type in _CONVS:
        kernel = _dims(op.in_shapes[1])
        reduce = kernel[:-2] if op.type == "DepthwiseConv2dNative" else kernel[:-1]
        return _prod(out) * _prod(reduce)
    return 0


def _quantizing_paths(model):
    from keras_mot.wrapper import Wrapper

    wrapped, passthrough = [], set()
    for path, layer in graph.iter_layers(model):
        if isinstance(layer, Wrapper) and layer.quantize:
            wrapped.append(path)
        elif is_passthrough(layer):
            passthrough.add(path)
    return wrapped, passthrough


def is_qat_model(model):
    """True when some keras_mot wrapper of `model` fake-quantizes."""
    return bool(_quantizing_paths(model)[0]) if graph.is_graph_model(model) else False


def qat_coverage(model, items):
    """The float compute ops of a prepared model and its MAC coverage.

    Args:
        model: a model prepared by `mot.quantize` / `mot.apply`.
        items: `(TracedOp, Legal)` pairs of its trace (`classify.legalize_ops`).

    Returns:
        A `Coverage`.
    """
    wrapped, passthrough = _quantizing_paths(model)
    prefixes = tuple(p + "/" for p in wrapped)
    wrapped = set(wrapped)
    total = covered = 0
    left = {}
    for op, legal in items:
        inside = op.layer in wrapped or op.layer.startswith(prefixes)
        n = macs(op)
        total += n
        covered += n if inside else 0
        if inside or op.layer in passthrough or legal.kind != BUILTIN or not is_float_data(op):
            continue
        hit = [b for b in legal.builtins if b in COMPUTE_OPS]
        if hit:
            left.setdefault(op.layer, []).extend(b for b in hit if b not in left.get(op.layer, ()))
    findings = [
        Finding(
            path or model.name,
            ops[0],
            "warning",
            f"'{path or model.name}' is not quantized by keras_mot: its {', '.join(ops)} stay "
            "float32 between DEQUANTIZE and QUANTIZE in the int8 model.",
            "See the rewrite's findings (model.mot_findings) for why; register a LayerAdapter for "
            "the layer (keras_mot.register_adapter), or export the float model post-training if coverage is low.",
            "qat-float",
        )
        for path, ops in left.items()
    ]
    share = covered / total if total else 1.0
    return Coverage(share, list(left), findings)
