"""Rule sets: turn classified ops into findings and a verdict, one rule set per op table.

`RULESETS[target.op_table]` is a function `(items, ctx) -> (verdict, [Finding])` where `items`
are `(TracedOp, Legal)` pairs from `classify.legalize_ops` and `ctx` is a `Context`. A target
whose `op_table` is not registered falls back to the rule set of its `kind`.
"""

import dataclasses

from keras_mot.findings import Finding
from keras_mot.lint.classify import BUILTIN, FLEX, FOLDED_KIND, FUSED_KIND, UNCONVERTIBLE, is_float_data
from keras_mot.lint.tables.hints import FLOAT_FALLBACK_FIXES, HINTS
from keras_mot.lint.tables.legalize import EXPERIMENTAL_BUILTINS
from keras_mot.lint.tables.quant import has_integer_kernel, integer_fails
from keras_mot.lint.tables.xnnpack import XNNPACK_BUILTINS

# Folded ops too common to mention.
_SILENT = frozenset(
    {
        "Const",
        "Placeholder",
        "ReadVariableOp",
        "VarHandleOp",
        "Identity",
        "IdentityN",
        "NoOp",
        "StopGradient",
        "static TensorList",
    }
)


# Builtins that read only a tensor's shape: never a compute island or a delegate split.
_SHAPE_ONLY = frozenset({"SHAPE", "RANK"})


@dataclasses.dataclass
class Context:
    """What rules know besides the ops: target name, model name, layer classes."""

    target: str
    model_name: str
    layer_classes: dict

    def where(self, layer):
        """`"LSTM 'encoder/lstm'"`, or the model when the op belongs to no layer."""
        path = layer or self.model_name
        cls = self.layer_classes.get(layer, "Model" if not layer else "")
        return f"{cls} '{path}'" if cls else f"'{path}'"

    def path(self, layer):
        """The layer path a finding names (the model's name for model-level ops)."""
        return layer or self.model_name


def _flex_finding(op, legal, ctx, *, allowed):
    code, why, fix = HINTS.get(op.type, (None, None, None))
    reason = why or legal.reason or f"'{op.type}' has no TFLite builtin"
    if allowed:
        return Finding(
            ctx.path(op.layer),
            op.type,
            "warning",
            f"{ctx.where(op.layer)} emits TF op '{op.type}' ({reason}); it runs as "
            f"Select TF op Flex{op.type} (Flex delegate: bigger binary, not in the "
            "Play-services runtime).",
            fix,
            code or "select-tf-op",
        )
    return Finding(
        ctx.path(op.layer),
        op.type,
        "error",
        f"{ctx.where(op.layer)} emits TF op '{op.type}' ({reason}); it needs Select "
        "TF ops, which this target does not allow.",
        fix or f"replace the op, or use target 'tflite_select' to ship Flex{op.type}",
        code or "needs-select-tf-ops",
    )


def _unconvertible_finding(op, legal, ctx):
    code, why, fix = HINTS.get(op.type, (None, None, None))
    return Finding(
        ctx.path(op.layer),
        op.type,
        "error",
        f"{ctx.where(op.layer)} emits TF op '{op.type}' ({why or legal.reason}); "
        "the converter cannot convert it, even with Select TF ops.",
        fix or "replace the op with keras.ops that have TFLite builtins",
        code or "unconvertible",
    )


def _info(op, legal, ctx):
    if op.type in _SILENT or legal.reason in _SILENT or legal.reason.startswith("static"):
        return None
    return Finding(
        ctx.path(op.layer),
        op.type,
        "info",
        f"{ctx.where(op.layer)}: '{op.type}' is {legal.reason}.",
        None,
        "fused" if legal.kind == FUSED_KIND else "folded",
    )


def _experimental(op, legal, ctx):
    hit = [b for b in legal.builtins if b in EXPERIMENTAL_BUILTINS]
    if not hit:
        return None
    return Finding(
        ctx.path(op.layer),
        op.type,
        "warning",
        f"{ctx.where(op.layer)}: '{op.type}' becomes experimental builtin {hit[0]} "
        "(not ready for custom models, ops_compatibility.md).",
        "avoid the op in the deployed graph",
        "experimental-op",
    )


def _float_core(items, ctx, *, allow_flex):
    findings, kinds = [], set()
    for op, legal in items:
        kinds.add(legal.kind)
        if legal.kind == FLEX:
            findings.append(_flex_finding(op, legal, ctx, allowed=allow_flex))
        elif legal.kind == UNCONVERTIBLE:
            findings.append(_unconvertible_finding(op, legal, ctx))
        elif legal.kind in (FOLDED_KIND, FUSED_KIND):
            findings.append(_info(op, legal, ctx))
        else:
            findings.append(_experimental(op, legal, ctx))
    verdict = "unconvertible" if UNCONVERTIBLE in kinds else "select_tf_ops" if FLEX in kinds else "builtins"
    return verdict, [f for f in findings if f is not None]


def tflite_builtins(items, ctx):
    """Float TFLite, builtins only: Flex ops are errors."""
    return _float_core(items, ctx, allow_flex=False)


def tflite_select(items, ctx):
    """Float TFLite with Select TF ops: Flex ops are reported as warnings, naming each op."""
    return _float_core(items, ctx, allow_flex=True)


KERNEL_NAMES = {"int8": "int8", "int16x8": "16x8"}


def _integer(kind):
    def rules(items, ctx):
        verdict, findings = _float_core(items, ctx, allow_flex=False)
        failed = verdict != "builtins"
        findings = [
            dataclasses.replace(
                f,
                message=f.message + f" A full-integer ({kind}) conversion fails: "
                "TFLITE_BUILTINS_INT8 rejects TF ops and the pip calibrator cannot run Flex ops.",
            )
            if f.severity == "error"
            else f
            for f in findings
        ]
        fallback = False
        # Layers whose loop / branch bodies compute on float data (the calibrator runs them).
        float_bodies = {op.layer for op, _ in items if op.nested and is_float_data(op)}
        for op, legal in items:
            if legal.kind != BUILTIN:
                continue
            for builtin in legal.builtins:
                why = integer_fails(builtin, op.in_dtypes, op.layer in float_bodies)
                if why:
                    failed = True
                    findings.append(
                        Finding(
                            ctx.path(op.layer),
                            op.type,
                            "error",
                            f"{ctx.where(op.layer)} becomes {builtin}: {why}.",
                            FLOAT_FALLBACK_FIXES.get(
                                builtin,
                                "keep the layer out of the integer "
                                "model (exclude it, or run it before/after)",
                            ),
                            "integer-fails",
                        )
                    )
                    continue
                if not is_float_data(op):
                    continue
                if not has_integer_kernel(builtin, kind):
                    fix = FLOAT_FALLBACK_FIXES.get(builtin, "replace the op or accept it")
                    fallback = True
                    findings.append(
                        Finding(
                            ctx.path(op.layer),
                            op.type,
                            "warning",
                            f"{ctx.where(op.layer)} becomes {builtin}, which has no {KERNEL_NAMES[kind]}"
                            " kernel: it stays float32 between DEQUANTIZE/QUANTIZE.",
                            fix,
                            "float-fallback",
                        )
                    )
        verdict = "fails" if failed else "float_fallback" if fallback else "full_int8"
        return verdict, findings

    rules.__doc__ = f"Full-integer {kind}: ops without an integer kernel are float-fallback warnings."
    return rules


def xnnpack(items, ctx):
    """Float TFLite on the XNNPack delegate: ops it does not take are warnings."""
    verdict, findings = _float_core(items, ctx, allow_flex=False)
    for op, legal in items:
        if legal.kind != BUILTIN or not is_float_data(op):
            continue
        for builtin in legal.builtins:
            if builtin not in XNNPACK_BUILTINS and builtin not in _SHAPE_ONLY:
                findings.append(
                    Finding(
                        ctx.path(op.layer),
                        op.type,
                        "warning",
                        f"{ctx.where(op.layer)} becomes {builtin}, which the XNNPack delegate does "
                        "not take: it runs on the default TFLite kernel and splits the delegated "
                        "graph.",
                        "use ops XNNPack supports (xnnpack_delegate.cc) where it matters",
                        "not-delegated",
                    )
                )
    return verdict, findings


RULESETS = {
    "tflite_builtins": tflite_builtins,
    "tflite_select": tflite_select,
    "tflite_int8": _integer("int8"),
    "tflite_int16x8": _integer("int16x8"),
    "xnnpack": xnnpack,
}

# Fallback rule set by `Target.kind` for targets with an unregistered `op_table`.
BY_KIND = {"float": "tflite_builtins", "int8": "tflite_int8", "int16x8": "tflite_int16x8"}


def ruleset_for(target):
    """The rule function for a `Target` (by `op_table`, else by `kind`)."""
    return RULESETS.get(target.op_table) or RULESETS[BY_KIND.get(target.kind, "tflite_builtins")]
