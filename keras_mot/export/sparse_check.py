"""Read a .tflite flatbuffer and report how its weights are stored (dense, block- or
random-sparse, behind DENSIFY), then check that against a sparsity target.

Format facts: tensorflow/lite/schema/schema.fbs (`SparsityParameters`: traversal_order,
block_map, dim_metadata; a block's size is the `dense_size` of the expanded dimension
`rank + i` for `block_map[i]`). Converter behaviour: tflite/converter/transforms/
dense_to_sparse_pass.cc (block format only when the block pattern is nearly exact, else
random-sparse + DENSIFY). Kernels: tflite/kernels/fully_connected.cc (FC v8 = sparse weights;
float 1x4, int8 1x16 blocks).

Example:
    >>> report = inspect_sparsity(open("model.tflite", "rb").read())
    >>> [(w.op, w.stored, w.block_size) for w in report.weights]
    [('FULLY_CONNECTED', 'block_sparse', (1, 4))]
    >>> findings = verify(tflite_bytes, "tflite_sparse_fc")
"""

import dataclasses
from typing import Optional, Tuple

import numpy as np

from keras_mot.errors import KerasMotError, format_error
from keras_mot.export.tflite_model import TfliteModel
from keras_mot.findings import Finding
from keras_mot.layer_kinds import LayerKind
from keras_mot.sparsity import Block, NofM, Unstructured

# Weight-bearing ops: TFLite op -> (layer kind, index of the weight input,
# TFLite weight shape -> Keras weight shape). Storage: FC (out, in); CONV_2D and
# TRANSPOSE_CONV OHWI; DEPTHWISE_CONV_2D (1, H, W, C*M) (schema.fbs / kernels).
WEIGHT_OPS = {
    "FULLY_CONNECTED": (LayerKind.DENSE, 1, lambda s: (s[1], s[0])),
    "CONV_2D": (LayerKind.CONV, 1, lambda s: (s[1], s[2], s[3], s[0])),
    "DEPTHWISE_CONV_2D": (LayerKind.DEPTHWISE, 1, lambda s: (s[1], s[2], s[3], 1)),
    "TRANSPOSE_CONV": (LayerKind.CONV_TRANSPOSE, 1, lambda s: (s[1], s[2], s[0], s[3])),
}


@dataclasses.dataclass(frozen=True)
class WeightInfo:
    """How one constant weight is stored in the flatbuffer.

    Attributes:
        op_index: index of the consuming op in subgraph 0.
        op: consuming op, e.g. "FULLY_CONNECTED"; op_version: its version (FC 8 = sparse).
        tensor: name of the stored weight tensor (usually names the Keras layer).
        shape: dense TFLite shape; dtype: stored element type.
        stored: "dense", "block_sparse" or "random_sparse".
        via_densify: True when a DENSIFY op unpacks it (the consumer computes densely).
        traversal_order, block_map: sparsity parameters (None when dense).
        block_size: block extent per dense dimension, e.g. (1, 4) (None when not blocked).
        zeros_fraction: fraction of zero entries of the dense weight.
    """

    op_index: int
    op: str
    op_version: int
    tensor: str
    shape: Tuple[int, ...]
    dtype: str
    stored: str
    via_densify: bool
    traversal_order: Optional[Tuple[int, ...]]
    block_map: Optional[Tuple[int, ...]]
    block_size: Optional[Tuple[int, ...]]
    zeros_fraction: float
    values: Optional[np.ndarray] = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def kind(self):
        """Keras layer kind of the consuming op."""
        return WEIGHT_OPS[self.op][0]

    def to_dict(self):
        """Plain-dict form (no values)."""
        d = dataclasses.asdict(self)
        d.pop("values")
        d["zeros_fraction"] = round(self.zeros_fraction, 4)
        return d


@dataclasses.dataclass(frozen=True)
class SparsityReport:
    """Result of `inspect_sparsity`.

    Attributes:
        ops: (index, op name, version) of every op in subgraph 0.
        weights: one `WeightInfo` per weight input of FC / CONV / DEPTHWISE / TRANSPOSE_CONV.
        densify_ops: number of DENSIFY ops.
    """

    ops: Tuple[Tuple[int, str, int], ...]
    weights: Tuple[WeightInfo, ...]
    densify_ops: int

    def versions(self, op):
        """Versions of every `op` (e.g. "FULLY_CONNECTED") in the model."""
        return tuple(v for _, name, v in self.ops if name == op)

    def to_dict(self):
        """Plain-dict form (for JSON reports)."""
        return {
            "ops": [list(o) for o in self.ops],
            "densify_ops": self.densify_ops,
            "weights": [w.to_dict() for w in self.weights],
        }


def _weight_info(graph, op_index, weight_input):
    t = graph.ops[op_index].inputs[weight_input]
    via_densify = False
    p = graph.producer.get(t)
    while p is not None and graph.op_name(p) in ("DENSIFY", "DEQUANTIZE"):
        via_densify = via_densify or graph.op_name(p) == "DENSIFY"
        t = graph.ops[p].inputs[0]
        p = graph.producer.get(t)
    values = graph.data(t)
    if values is None:
        return None
    tensor = graph.tensors[t]
    shape = graph.shape(t)
    size = int(np.prod(shape))
    nonzero = (
        int(np.count_nonzero(values.astype(np.int64) != graph.zero_point(t)))
        if values.dtype.kind in "iu"
        else int(np.count_nonzero(values))
    )
    sp = tensor.sparsity
    traversal = block_map = block_size = None
    stored = "dense"
    if sp is not None:
        traversal = tuple(int(x) for x in sp.traversalOrder)
        block_map = tuple(int(x) for x in (sp.blockMap if sp.blockMap is not None else ()))
        stored = "block_sparse" if block_map else "random_sparse"
        if block_map:
            sizes = [1] * len(shape)
            for i, dim in enumerate(block_map):
                sizes[dim] = int(sp.dimMetadata[len(shape) + i].denseSize)
            block_size = tuple(sizes)
    return WeightInfo(
        op_index,
        graph.op_name(op_index),
        graph.op_version(op_index),
        graph.name(t),
        shape,
        graph.dtype(t),
        stored,
        via_densify,
        traversal,
        block_map,
        block_size,
        1.0 - nonzero / max(size, 1),
        values if sp is None else None,
    )


def inspect_sparsity(tflite):
    """Reports every op (with version) and how each weight is stored.

    Args:
        tflite: the flatbuffer (`converter.convert()` output) or a `TfliteModel`.

    Returns:
        `SparsityReport`.
    """
    graph = TfliteModel.of(tflite)
    ops = tuple((i, graph.op_name(i), graph.op_version(i)) for i in range(len(graph.ops)))
    weights = []
    for i, name, _ in ops:
        if name in WEIGHT_OPS:
            info = _weight_info(graph, i, WEIGHT_OPS[name][1])
            if info is not None:
                weights.append(info)
    return SparsityReport(ops, tuple(weights), sum(1 for o in ops if o[1] == "DENSIFY"))


# Block sizes TFLite's FULLY_CONNECTED kernels run sparse, by weight dtype, as (out, in)
# extents: tensorflow/compiler/mlir/lite/ir/tfl_ops.td (FC GetFloatBlockSize {1,4},
# GetQuantizedBlockSize {1,16}); tflite/kernels/fully_connected.cc.
FC_BLOCKS = {"float32": (1, 4), "int8": (1, 16)}
# tflite/converter/transforms/dense_to_sparse_pass.cc: minimum random sparsity to compress.
CONVERTER_MIN_SPARSITY = 0.3


def _check_block(w, pattern, target):
    kernel_block = FC_BLOCKS.get(w.dtype) if w.op == "FULLY_CONNECTED" else None
    if kernel_block is None:
        return Finding(
            w.tensor,
            w.op,
            "warning",
            f"TFLite has no block-sparse {w.op} kernel for {w.dtype} weights; "
            f"{pattern!r} zeros ({w.zeros_fraction:.0%}) only shrink the file.",
            fix="Use Unstructured() here, or exclude the layer from pruning.",
            code="no-block-kernel",
        )
    if w.stored == "block_sparse" and w.block_size == kernel_block and not w.via_densify:
        return Finding(
            w.tensor,
            w.op,
            "info",
            f"stored {kernel_block[0]}x{kernel_block[1]} block-sparse "
            f"({w.zeros_fraction:.0%} zeros), {w.op} v{w.op_version}: the sparse "
            "kernel runs.",
            code="block-sparse-ok",
        )
    rows = kernel_block[1]
    fix = (
        f"Prune this Dense with Block({rows}, 1) (TFLite's 1x{rows} block = {rows} "
        f"consecutive *input* channels; Block(1, {rows}) runs along outputs)."
    )
    if w.via_densify:
        return Finding(
            w.tensor,
            w.op,
            "warning",
            f"weight stored {w.stored.replace('_', '-')} behind DENSIFY "
            f"({w.zeros_fraction:.0%} zeros): the 1x{rows} block pattern is not "
            "exact, so the converter did not write blocks and the op computes "
            "densely.",
            fix=fix,
            code="densify-fallback",
        )
    if w.zeros_fraction < CONVERTER_MIN_SPARSITY:
        return Finding(
            w.tensor,
            w.op,
            "warning",
            f"stored dense: only {w.zeros_fraction:.0%} zeros, the converter "
            f"compresses from {CONVERTER_MIN_SPARSITY:.0%}.",
            fix="Prune to the target sparsity before export (check the schedule "
            "reached final_sparsity and masks were stripped in).",
            code="not-sparse-enough",
        )
    if w.stored == "dense":
        return Finding(
            w.tensor,
            w.op,
            "warning",
            f"stored dense although {w.zeros_fraction:.0%} zeros: "
            "Optimize.EXPERIMENTAL_SPARSITY was not requested.",
            fix="Convert with optimizations including tf.lite.Optimize.EXPERIMENTAL_SPARSITY.",
            code="sparsity-not-requested",
        )
    return Finding(
        w.tensor,
        w.op,
        "warning",
        f"stored with block {w.block_size}, the kernel runs {kernel_block}.",
        fix=fix,
        code="wrong-block",
    )


def _check_nofm(w, pattern, target):
    if w.values is None or w.shape[-1] % pattern.m:
        return Finding(
            w.tensor,
            w.op,
            "warning",
            f"cannot confirm {pattern!r}: weight is stored {w.stored} or its input "
            f"channels ({w.shape[-1]}) are not a multiple of {pattern.m}.",
            code="nofm-unverified",
        )
    groups = np.asarray(w.values).reshape(-1, pattern.m)
    bad = int(np.sum(np.count_nonzero(groups, axis=1) > pattern.n))
    if bad:
        return Finding(
            w.tensor,
            w.op,
            "warning",
            f"{bad} of {len(groups)} groups of {pattern.m} input channels hold more "
            f"than {pattern.n} non-zeros: not a valid {pattern.n}:{pattern.m} "
            "sparse weight.",
            fix="Prune with NofM(2, 4) and strip the masks.",
            code="nofm-violated",
        )
    return Finding(
        w.tensor,
        w.op,
        "info",
        f"valid {pattern.n}:{pattern.m} along input channels ({w.zeros_fraction:.0%} zeros).",
        code="nofm-ok",
    )


def _check_unstructured(w, pattern, target):
    if w.zeros_fraction < target.min_sparsity:
        return Finding(
            w.tensor,
            w.op,
            "warning",
            f"{w.zeros_fraction:.0%} zeros, below the {target.min_sparsity:.0%} the "
            f"'{target.name}' runtime needs to exploit sparsity.",
            fix="Raise final_sparsity in the schedule.",
            code="below-min-sparsity",
        )
    return Finding(
        w.tensor, w.op, "info", f"{w.zeros_fraction:.0%} zeros, stored {w.stored}.", code="zeros-ok"
    )


_PATTERN_CHECKS = {Block: _check_block, NofM: _check_nofm, Unstructured: _check_unstructured}
# Whole-model checks a target asks for by name (`Target.export_checks`): "module:function"
# taking the .tflite bytes (imported lazily: the checkers import this module).
EXPORT_CHECKS = {"xnnpack_nchw_cluster": "keras_mot.export.xnnpack_check:check_cluster"}


def _runtime_findings(report):
    findings = []
    for w in report.weights:
        if w.via_densify and w.dtype == "int8":
            findings.append(
                Finding(
                    w.tensor,
                    w.op,
                    "error",
                    "int8 weight unpacked by DENSIFY: in ai-edge-litert 2.3 the XNNPack delegate "
                    f"fails to prepare this {w.op} and the model does not load (tf.lite.Interpreter "
                    "runs it).",
                    fix="Make the pattern exact (Block(16, 1) for int8 FC) or export without "
                    "EXPERIMENTAL_SPARSITY; load the model in the interpreter you deploy with.",
                    code="int8-densify-load-failure",
                )
            )
        if w.op == "FULLY_CONNECTED" and w.op_version == 8 and w.dtype == "int8":
            findings.append(
                Finding(
                    w.tensor,
                    w.op,
                    "warning",
                    "int8 sparse FC (v8) bypasses XNNPack (xnnpack_delegate.cc refuses FC v8) and "
                    "runs TFLite's own 1x16 kernel; whether that beats XNNPack's dense int8 FC "
                    "depends on CPU, load and sparsity (a 512-2048-2048-512 MLP with 90 % zeros "
                    "on x86 measured both slower, 0.098 vs 0.053 ms, and faster, 0.16 vs 0.25 ms; "
                    "docs/benchmarks.md).",
                    fix="Benchmark the dense and the sparse int8 export on the deployment CPU "
                    "(bench/sparse_fc_latency.py --int8) and ship the faster one.",
                    code="int8-sparse-fc-slower",
                )
            )
    return findings


def verify(tflite, target, report=None):
    """Checks that the flatbuffer holds the sparsity `target` promised, weight by weight.

    Args:
        tflite: the converted model: bytes or a `TfliteModel` (parsed once, shared with the
            whole-model checks).
        target: target name or `Target` (its sparsity table picks the pattern per weight).
        report: a `SparsityReport` already computed for these bytes (optional).

    Returns:
        list of `Finding` (info for what is right, warning/error for what is not).

    Example:
        >>> [f.code for f in verify(tflite_bytes, "tflite_sparse_fc")]
        ['block-sparse-ok', 'block-sparse-ok']
    """
    import importlib

    from keras_mot import targets

    target = targets.get(target)
    parsed = TfliteModel.of(tflite)
    report = report or inspect_sparsity(parsed)
    findings = []
    for w in report.weights:
        keras_shape = WEIGHT_OPS[w.op][2](w.shape)
        pattern = target.pattern_for(w.kind, keras_shape)
        if pattern is not None:
            findings.append(_PATTERN_CHECKS[type(pattern)](w, pattern, target))
    findings.extend(_runtime_findings(report))
    for name in target.export_checks:
        if name not in EXPORT_CHECKS:
            raise KerasMotError(
                format_error(
                    f"Target '{target.name}' names export check '{name}', which is not registered.",
                    received=repr(name),
                    fix=f"Use one of: {', '.join(sorted(EXPORT_CHECKS))}.",
                )
            )
        module, fn = EXPORT_CHECKS[name].split(":")
        findings.extend(getattr(importlib.import_module(module), fn)(parsed))
    return findings
