"""`lint_tflite(tflite, target)`: findings from a converted model's ops and tensor dtypes.

Used after conversion (by export): the converter reports success even when, in a full-integer
model, some compute ops stayed float (docs/converter_facts.md §2), so this reads the result itself,
from the parsed flatbuffer (`keras_mot.export.tflite_model.TfliteModel`, no interpreter).
Layers are named from TFLite tensor names, which keep the TF op names (`model/layer_1/Op`).
"""

import re

from keras_mot import targets as _targets
from keras_mot.export.tflite_model import TfliteModel
from keras_mot.findings import SEVERITIES, Finding, LintReport
from keras_mot.lint.tables.legalize import EXPERIMENTAL_BUILTINS
from keras_mot.lint.tables.quant import has_integer_kernel
from keras_mot.lint.tables.xnnpack import XNNPACK_BUILTINS

# Ops that sit on the float boundary of an integer model, or only read shapes.
_BOUNDARY = frozenset({"QUANTIZE", "DEQUANTIZE", "SHAPE", "RANK"})
_FLOATS = ("float32", "float16", "float64", "bfloat16")
_UNIQUIFIED = re.compile(r"_\d+$")


def _layer_paths(model):
    paths = set()
    stack = [("", model)] if model is not None else []
    while stack:
        prefix, layer = stack.pop()
        for sub in getattr(layer, "layers", []) or []:
            paths.add(prefix + sub.name)
            stack.append((prefix + sub.name + "/", sub))
    return paths


def layer_from_tensor_name(name, layer_paths=()):
    """Best-effort Keras layer path from a TFLite tensor name.

    With `layer_paths` (paths of the model's layers) the longest known path is returned;
    without, the first scope after the model's is returned with TF's `_N` suffix removed.

    Example:
        >>> layer_from_tensor_name("functional_1/ln_1/Neg;functional_1/ln_1/Mul", {"ln"})
        'ln'
    """
    first = name.split(";")[0]
    parts = first.split("/")[1:-1] if "/" in first else []
    if not layer_paths:
        return _UNIQUIFIED.sub("", parts[0]) if parts else ""
    path, best = [], ""
    for part in parts:
        candidate = part
        joined = "/".join(path + [candidate])
        while joined not in layer_paths and _UNIQUIFIED.search(candidate):
            candidate = _UNIQUIFIED.sub("", candidate)
            joined = "/".join(path + [candidate])
        if joined not in layer_paths:
            break
        path.append(candidate)
        best = joined
    return best


def _op_rows(model):
    for op in model.ops:
        ins = [model.tensors[i] for i in op.inputs if i >= 0]
        outs = [model.tensors[i] for i in op.outputs if i >= 0]
        yield op, ins, outs


def lint_tflite(tflite, target="tflite", *, model=None):
    """Checks a converted `.tflite` flatbuffer against `target`.

    Args:
        tflite: the converted model: `converter.convert()` bytes or a `TfliteModel`.
        target: target name or `Target`.
        model: the Keras model it came from (optional), to name layers exactly.

    Returns:
        A `LintReport` with the same verdict vocabulary as `lint`.

    Example:
        >>> report = lint_tflite(converter.convert(), "tflite_int8", model=model)
        >>> [f.op for f in report.findings if f.code == "float-fallback"]
        ['NEG']
    """
    target = _targets.get(target)
    names = _layer_paths(model)
    findings, flex, fallback = [], False, False
    for op, ins, outs in _op_rows(TfliteModel.of(tflite)):
        op_name, builtin = op.name, not op.custom
        where = next((layer_from_tensor_name(t.name, names) for t in outs), "")
        is_float = any(t.dtype in _FLOATS for t in ins + outs)
        if op.custom:  # FlexXxx, or a custom op's code
            flex = True
            allowed = target.op_table == "tflite_select"
            findings.append(
                Finding(
                    where,
                    op_name,
                    "warning" if allowed else "error",
                    f"The converted model contains TF op {op_name} (Select TF ops / custom).",
                    None if allowed else "replace the op (see mot.lint) or target 'tflite_select'",
                    "select-tf-op" if allowed else "needs-select-tf-ops",
                )
            )
        elif op_name in EXPERIMENTAL_BUILTINS:
            findings.append(
                Finding(
                    where,
                    op_name,
                    "warning",
                    f"{op_name} is an experimental builtin.",
                    None,
                    "experimental-op",
                )
            )
        if target.is_integer and is_float and op_name not in _BOUNDARY and builtin:
            fallback = True
            kernel = "has no" if not has_integer_kernel(op_name, target.kind) else "did not get"
            findings.append(
                Finding(
                    where,
                    op_name,
                    "warning",
                    f"{op_name} computes in float in this {target.kind} model ({kernel} integer "
                    "kernel; DEQUANTIZE/QUANTIZE around it).",
                    "see mot.lint(model, target) for the layer's fix",
                    "float-fallback",
                )
            )
        if target.op_table == "xnnpack" and is_float and op_name not in XNNPACK_BUILTINS and builtin:
            findings.append(
                Finding(
                    where,
                    op_name,
                    "warning",
                    f"{op_name} is not taken by the XNNPack delegate.",
                    None,
                    "not-delegated",
                )
            )
    if target.is_integer:
        verdict = "fails" if flex else "float_fallback" if fallback else "full_int8"
    else:
        verdict = "select_tf_ops" if flex else "builtins"
    findings.sort(key=lambda f: SEVERITIES.index(f.severity))
    return LintReport(target.name, verdict, tuple(findings))
