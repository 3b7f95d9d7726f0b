"""Classify traced TF ops with the tables: what each becomes in a TFLite model.

`legalize_ops(trace)` gives every `TracedOp` a `Legal` record: folded, fused, builtin(s), Flex,
or unconvertible, with the reason and the source of the fact. Results are cached per
(op type, dtypes); graph-pattern cases (GELU chains, TensorLists) are decided per op.
"""

import dataclasses
import functools
from typing import Tuple

from keras_mot.lint.tables import dtypes as dtype_table
from keras_mot.lint.tables.flex import is_flex
from keras_mot.lint.tables.legalize import (
    FOLDED,
    FUSED,
    HASHTABLE_TYPES,
    INTEGER_FORMS,
    LEGALIZE,
    TENSOR_LIST_OPS,
)

FLOAT_DTYPES = frozenset({"float32", "float16", "bfloat16", "float64"})
_LOW_FLOATS = frozenset({"float16", "bfloat16"})

FOLDED_KIND, FUSED_KIND, BUILTIN, FLEX, UNCONVERTIBLE = (
    "folded",
    "fused",
    "builtin",
    "flex",
    "unconvertible",
)


@dataclasses.dataclass(frozen=True)
class Legal:
    """What one TF op becomes.

    Attributes:
        kind: `"folded"`, `"fused"`, `"builtin"`, `"flex"` or `"unconvertible"`.
        builtins: TFLite builtins produced (for `"builtin"` and `"fused"`).
        reason: why (e.g. `"float16 compute is not legalized"`), `""` when plain.
        source: key of `tables.SOURCES` the fact comes from.
    """

    kind: str
    builtins: Tuple[str, ...] = ()
    reason: str = ""
    source: str = ""


def data_dtype(op):
    """The dtype that decides legality: the first input's (outputs' when there is no input)."""
    dtypes = op.in_dtypes or op.out_dtypes
    return dtypes[0] if dtypes else ""


def is_float_data(op):
    """True when the op computes on floating-point tensors (not shape arithmetic)."""
    return any(d in FLOAT_DTYPES for d in op.in_dtypes + op.out_dtypes)


def _leftover(tf_op, reason, source):
    if is_flex(tf_op):
        return Legal(FLEX, (), reason, "flex_allowlist")
    return Legal(
        UNCONVERTIBLE, (), reason or "no builtin and not on the Flex allowlist", source or "flex_allowlist"
    )


@functools.lru_cache(maxsize=4096)
def legalize_type(tf_op, in_dtypes, out_dtypes):
    """Classifies one TF op type with its dtypes (cached; no graph context).

    Example:
        >>> legalize_type("Conv2D", ("float32", "float32"), ("float32",)).builtins
        ('CONV_2D',)
    """
    if tf_op in FOLDED:
        reason, source = FOLDED[tf_op]
        return Legal(FOLDED_KIND, (), reason, source)
    low = sorted(set(in_dtypes + out_dtypes) & _LOW_FLOATS)
    if low and tf_op not in dtype_table.FLOAT16_COMPUTE_LEGAL:
        return _leftover(tf_op, f"{low[0]} compute is not legalized to builtins", "corpus")
    first = (in_dtypes or out_dtypes or ("",))[0]
    if tf_op == "Bitcast" and in_dtypes[:1] == out_dtypes[:1]:
        return Legal(FOLDED_KIND, (), "bitcast to its own dtype, removed", "corpus")
    if tf_op == "LookupTableFindV2" and tuple(in_dtypes[1:3]) not in HASHTABLE_TYPES:
        return _leftover(
            tf_op,
            f"a {'->'.join(in_dtypes[1:3])} hash table is not legalized "
            "(string->int64 and int64->string are)",
            "hashtables",
        )
    if tf_op in INTEGER_FORMS and first.startswith(("int", "uint")):
        builtins, source = INTEGER_FORMS[tf_op]
        return Legal(BUILTIN, builtins, "", source)
    if tf_op in LEGALIZE:
        builtins, source = LEGALIZE[tf_op]
        if first and not dtype_table.accepts(builtins[0], first):
            return _leftover(tf_op, f"{builtins[0]} does not take {first}", "tfl_ops")
        return Legal(BUILTIN, builtins, "", source)
    return _leftover(tf_op, "", "")


def _consumers(graph_op):
    return [c for out in graph_op.outputs for c in out.consumers()]


def _match_down(graph_op, sequence):
    """Ops along a consumer path whose types follow `sequence`, or None."""
    path, frontier = [], [graph_op]
    for wanted in sequence:
        nxt = [c for op in frontier for c in _consumers(op) if c.type == wanted]
        if not nxt:
            return None
        path.append(nxt[0])
        frontier = nxt
    return path


def fused_ops(trace):
    """Names of ops absorbed into fused builtins (GELU chains), mapped to the builtin."""
    fused = {}
    for op in trace.ops:
        rule = FUSED.get(op.type)
        if rule is None or op.graph_op is None:
            continue
        builtin, sequence, absorb_up, _ = rule
        path = _match_down(op.graph_op, sequence)
        if path is None:
            continue
        members = [op.graph_op] + path
        for inp in op.graph_op.inputs:
            producer = inp.op
            members += [p.op for p in producer.inputs if p.op.type in absorb_up]
            if producer.type in absorb_up:
                members.append(producer)
        for member in members:
            fused[member.name] = builtin
    return fused


# Which input of each TensorList constructor is its element shape (tensorflow/core/ops/list_ops.cc).
_ELEMENT_SHAPE_INPUT = {"TensorListReserve": 0, "EmptyTensorList": 0, "TensorListFromTensor": 1}


def _static_element_shape(graph_op):
    """False when a TensorList's element shape is not a constant with known dimensions
    (lower_static_tensor_list.cc requires a static 1-D element_shape)."""
    index = _ELEMENT_SHAPE_INPUT.get(graph_op.type)
    if index is None or index >= len(graph_op.inputs):
        return True
    import tensorflow as tf

    value = tf.get_static_value(graph_op.inputs[index])
    if value is None or value.ndim != 1:
        return False
    return not (value < 0).any()


def dynamic_tensorlist_layers(trace):
    """Layers whose TensorList ops have dynamic element shapes (they need Select TF ops)."""
    layers = set()
    for op in trace.ops:
        if (
            op.type in ("TensorListReserve", "TensorListFromTensor", "EmptyTensorList")
            and op.graph_op is not None
            and not _static_element_shape(op.graph_op)
        ):
            layers.add(op.layer)
    return layers


# Ops never constant-folded even on constant inputs (stateful or resource ops).
_NOT_FOLDABLE = frozenset(
    {
        "Placeholder",
        "VarHandleOp",
        "ReadVariableOp",
        "While",
        "StatelessWhile",
        "If",
        "StatelessIf",
        "RandomUniform",
        "RandomStandardNormal",
        "StatefulPartitionedCall",
        "PartitionedCall",
    }
)


# Selects with a constant condition fold to one branch (TF canonicalization before legalization).
_CONST_CONDITION = frozenset({"Select", "SelectV2"})


def _constant_folded(op):
    """True for an op the converter folds: all inputs constant (or a constant select condition)."""
    if op.type in _NOT_FOLDABLE or op.type in FOLDED or op.type in TENSOR_LIST_OPS:
        return False
    if op.type in _CONST_CONDITION and op.const_inputs[:1] == (True,):
        return True
    return bool(op.const_inputs) and all(op.const_inputs)


def legalize_ops(trace):
    """`[(TracedOp, Legal)]` for every op of `trace`, in trace order."""
    fused = fused_ops(trace)
    dynamic_lists = dynamic_tensorlist_layers(trace)
    result = []
    for op in trace.ops:
        if op.name in fused and op.graph_op is not None and not op.nested:
            legal = Legal(
                FUSED_KIND,
                (fused[op.name],),
                f"fused into {fused[op.name]}",
                FUSED[op.type][3] if op.type in FUSED else "optimize_patterns",
            )
        elif _constant_folded(op):
            legal = Legal(FOLDED_KIND, (), "constant-folded (all inputs are constants)", "optimize_patterns")
        elif op.type in TENSOR_LIST_OPS:
            if op.layer in dynamic_lists:
                legal = Legal(FLEX, (), "TensorList with a dynamic element shape", "tensorlist")
            else:
                legal = Legal(FOLDED_KIND, (), "static TensorList lowered to tensors", "tensorlist")
        else:
            legal = legalize_type(op.type, op.in_dtypes, op.out_dtypes)
        result.append((op, legal))
    return result
