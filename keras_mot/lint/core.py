"""`lint(model, target)`: predict, without converting, what a model becomes on a target.

One `tf.function` trace attributes each TF op to its Keras layer (`trace.py`), the tables
classify each op (`classify.py`), and the target's rule set (`rules.py`) turns that into
findings and a verdict. Extra checks (e.g. a pruning target's) plug in with `register_check`.
"""

import os

from keras_mot import targets as _targets
from keras_mot.errors import KerasMotError, format_error
from keras_mot.findings import SEVERITIES, Finding, LintReport
from keras_mot.lint.classify import legalize_ops
from keras_mot.lint.qat_coverage import is_qat_model, qat_coverage
from keras_mot.lint.rules import Context, ruleset_for

_CHECKS = []


def register_check(check):
    """Adds `check(model, target) -> iterable of Finding` to every lint run; returns `check`.

    Example:
        >>> @register_check
        ... def sparse_blocks(model, target):
        ...     return []
    """
    if not callable(check):
        raise KerasMotError(
            format_error(
                "register_check() takes a callable.",
                received=repr(check),
                fix="Pass a function (model, target) -> findings.",
            )
        )
    if check not in _CHECKS:
        _CHECKS.append(check)
    return check


def _dedupe(findings):
    """One finding per (layer, op, code, severity), with a count when repeated."""
    merged, counts = {}, {}
    for f in findings:
        key = (f.layer, f.op, f.code, f.severity)
        counts[key] = counts.get(key, 0) + 1
        merged.setdefault(key, f)
    out = []
    for key, f in merged.items():
        out.append(
            f
            if counts[key] == 1
            else Finding(f.layer, f.op, f.severity, f"{f.message} (x{counts[key]})", f.fix, f.code)
        )
    return sorted(out, key=lambda f: SEVERITIES.index(f.severity))


def _shape_findings(trace, target):
    findings = []
    for spec in trace.input_specs:
        dims = list(spec.shape)[1:]
        if any(d is None for d in dims):
            findings.append(
                Finding(
                    "",
                    None,
                    "warning",
                    f"Input '{spec.name}' has dynamic dimensions {tuple(spec.shape)}: the TFLite "
                    "model resizes at run time; integer calibration and delegates plan for the "
                    "representative shapes.",
                    "give keras.Input a fully defined shape (except the batch)",
                    "dynamic-shape",
                )
            )
    return findings


def _check_model(model):
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise KerasMotError(
            format_error(
                "lint() needs a built model with symbolic inputs.",
                received=f"{type(model).__name__} with inputs={inputs!r}",
                fix="Build a Functional model (keras.Input(...)) or call the model once / "
                "pass input_shape to the first layer of a Sequential.",
            )
        )


def _untraceable(model, target, exc, strict):
    """The report for a model the converter cannot trace: nothing converts."""
    layer = exc.layer.split("/", 1)[1] if exc.layer.startswith(model.name + "/") else exc.layer
    finding = Finding(
        layer,
        None,
        "error",
        f"{exc.layer_class} '{layer}' cannot be traced as a graph on the model's input signature "
        f"(the converter traces it the same way, so the conversion fails): {exc}",
        "give keras.Input the static shape the layer needs (e.g. no None spatial/sequence "
        "dimension), or move the layer out of the exported model",
        "trace-failed",
    )
    verdict = "fails" if target.is_integer else "unconvertible"
    report = LintReport(target.name, verdict, (finding,))
    if strict:
        raise KerasMotError(
            format_error(
                f"Model '{model.name}' cannot be traced for target '{target.name}'.",
                layer=layer,
                fix=finding.fix,
            )
        ) from exc
    return report


def lint(model, target="tflite", *, batch_size=None, strict=False):
    """Checks a Keras model against a deployment target without converting it.

    Args:
        model: a built Keras 3 model, or the path of a `.keras` file (loaded with
            `safe_mode=True`).
        target: a target name (`"tflite"`, `"tflite_select"`, `"tflite_int8"`,
            `"tflite_int16x8"`, `"xnnpack"`, ...) or a `Target`.
        batch_size: trace with this fixed batch size (default: the batch dimension of
            `model.inputs`, dynamic unless fixed, as the converter's `from_keras_model` does).
        strict: raise `KerasMotError` (with the findings table) when there is an error.

    On the JAX or PyTorch backend the model is traced as a TensorFlow-backend copy in a
    subprocess (`keras_mot.tf_bridge`); TensorFlow must be installed.

    Returns:
        A `LintReport`; `verdict` is `"builtins"`/`"select_tf_ops"`/`"unconvertible"` for
        float targets and `"full_int8"`/`"float_fallback"`/`"fails"` for integer targets.

    Example:
        >>> report = lint(keras.applications.MobileNetV2(weights=None), "tflite_int8")
        >>> report.verdict
        'full_int8'
    """
    target = _targets.get(target)
    if isinstance(model, (str, os.PathLike)):
        from keras_mot.model_file import load_model_file

        model = load_model_file(model)
    _check_model(model)
    from keras_mot import tf_bridge

    if not tf_bridge.is_tensorflow_backend():  # trace a TensorFlow-backend copy
        return tf_bridge.lint_on_tensorflow(model, target, batch_size=batch_size, strict=strict)
    from keras_mot.lint.trace import TraceError, trace_model  # imports TensorFlow

    try:
        trace = trace_model(model, batch_size=batch_size)
    except TraceError as exc:
        return _untraceable(model, target, exc, strict)
    items = legalize_ops(trace)
    ctx = Context(target.name, model.name, trace.layer_classes)
    verdict, findings = ruleset_for(target)(items, ctx)
    findings = findings + _shape_findings(trace, target)
    coverage = None
    if target.is_integer and is_qat_model(model):
        coverage = qat_coverage(model, items)
        findings += coverage.findings
        if coverage.findings and verdict == "full_int8":
            verdict = "float_fallback"
    for check in _CHECKS:
        findings.extend(check(model, target) or ())
    report = LintReport(
        target.name,
        verdict,
        tuple(_dedupe(findings)),
        coverage=None if coverage is None else coverage.mac_share,
        coverage_line="" if coverage is None else coverage.summary(),
    )
    if strict and report.errors:
        raise KerasMotError(
            format_error(
                f"Model '{model.name}' does not pass the lint for target '{target.name}' "
                f"(verdict: {report.verdict}).",
                layer=report.errors[0].layer or None,
                fix="Apply the fixes below, or lint with strict=False.\n" + report.format_table("warning"),
            )
        )
    return report
