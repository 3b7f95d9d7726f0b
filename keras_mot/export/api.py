"""`mot.export`: convert, verify against the Keras model, and write a report, atomically.

Example:
    >>> result = mot.export(qat_model, "out/", representative_data=(x_val, y_val))
    >>> result.ok, result.parity.agreement, result.sizes["tflite"]
    (True, 1.0, {'raw': 642424, 'gzip': 503117})
"""

import json
import os
import time

import keras

from keras_mot import graph, targets
from keras_mot.errors import ExportError, KerasMotError, format_error
from keras_mot.export import report as _report
from keras_mot.export.atomic import AtomicDirectory
from keras_mot.export.data import check_max_examples, collect
from keras_mot.export.inspect import float_compute_ops
from keras_mot.export.layer_stats import layer_stats, overall_sparsity
from keras_mot.export.plan import export_plan
from keras_mot.export.plot import plot_layers
from keras_mot.export.result import ExportResult
from keras_mot.export.runtime import Runner
from keras_mot.export.saved_model import write_saved_model
from keras_mot.export.tflite_model import TfliteModel
from keras_mot.export.verify import check_parity
from keras_mot.findings import Finding
from keras_mot.log import verbose_logger

FORMATS = ("saved_model", "tflite")
FILES = {
    "saved_model": "saved_model",
    "tflite": "model.tflite",
    "report_json": "report.json",
    "report_md": "report.md",
    "plot": "report.png",
    "debug_plot": "debug.png",
}
CALIBRATION_EXAMPLES = 128


def _fail(what, received=None, fix=None):
    return ExportError(format_error(what, received=received, fix=fix))


def _failure_hint(error, stage):
    """What to do about an export failure, by its cause and the stage it hit."""
    import errno

    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "Free disk space where the export is written (or pass another directory)."
    if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "Pass a directory you can write to."
    if isinstance(error, MemoryError):
        return "Export a smaller batch (max_examples=...) or free memory."
    if "convert" in stage or "SavedModel" in stage:
        return "See the cause above; mot.lint(model, target=...) names layers that cannot convert."
    if "parity" in stage:
        return (
            "See the cause above: the converted model could not run on the examples "
            "(check their shapes and dtypes against model.inputs)."
        )
    return "See the cause above."


def _check_exportable(model):
    """mot.export converts Keras models with a known input signature (Functional/Sequential)."""
    if not isinstance(model, keras.Model):
        raise _fail(
            "mot.export exports Keras models.",
            f"{type(model).__name__} {repr(model)[:80]}",
            "Pass a keras.Model; load a saved one with keras.saving.load_model(path) "
            "(or use `keras-mot export MODEL.keras OUT`).",
        )
    if not graph.is_graph_model(model) or not model.inputs:
        raise _fail(
            f"Model '{model.name}' is a subclassed {type(model).__name__} without a symbolic "
            "input signature, which mot.export needs for conversion and the parity check.",
            type(model).__name__,
            "Wrap it in a Functional model first: inputs = keras.Input(shape=...); "
            "wrapped = keras.Model(inputs, model(inputs)); mot.export(wrapped, ...).",
        )


def _check_args(model, target, formats, max_examples):
    _check_exportable(model)
    check_max_examples(max_examples)
    try:
        target = targets.get(target or getattr(model, "mot_target", None) or "tflite")
    except KerasMotError as e:
        raise ExportError(f"Bad export target. {e}") from None
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise _fail(
            "Unknown or empty export formats.",
            repr(formats),
            f"Use a non-empty subset of: {', '.join(FORMATS)}.",
        )
    return target, formats


def _serving_target(name):
    """The target when it is exported as a TensorFlow-serving SavedModel, else `None`."""
    try:
        target = targets.get(name) if name is not None else None
    except KerasMotError:
        return None  # _check_args raises the clear error
    return target if getattr(target, "export_format", "tflite") == "tf_serving" else None


def _sparse_checks(parsed, target, model):
    from keras_mot.export import sparse_check

    pruned = any(getattr(layer, "prune", None) is not None for layer in _walk(model))
    if not (target.converter.sparsity or (target.sparsity and pruned)):
        return [], None
    storage = sparse_check.inspect_sparsity(parsed)
    return list(sparse_check.verify(parsed, target, storage)), storage.to_dict()


def _walk(model):
    from keras_mot import graph

    return [layer for _, layer in graph.iter_layers(model)]


class _Stages:
    """Remembers which stage is running, for the error message."""

    def __init__(self):
        self.name = "checking arguments"
        self.times = {}
        self._start = time.perf_counter()

    def __call__(self, name):
        now = time.perf_counter()
        self.times[self.name] = round(now - self._start, 3)
        self.name, self._start = name, now


def export(
    model,
    directory,
    target=None,
    representative_data=None,
    formats=FORMATS,
    input_type="float32",
    output_type="float32",
    *,
    calibration_data=None,
    max_examples=512,
    min_agreement=None,
    overwrite=True,
    plot=True,
    verbose=False,
    recipe=None,
    exclude=None,
    parity_reference=None,
):
    """Converts `model` for `target`, verifies it against Keras, and writes files plus a report.

    Writes into a hidden temporary sibling of `directory` and renames it at the end; any failure
    removes it and raises `ExportError` naming the stage that failed.

    Args:
        model: a Keras model, typically prepared by `mot.quantize` / `mot.prune` (training
            machinery is stripped for the files; the parity reference is the model itself).
        directory: output directory: `saved_model/`, `model.tflite`, `report.json`,
            `report.md`, `report.png` (when matplotlib is installed).
        target: target name (default: the model's `mot_target`, else `"tflite"`); see
            `keras_mot.targets.names()` (`tflite`, `tflite_float16`, `tflite_dynamic`,
            `tflite_int8`, `tflite_int16x8`, sparse targets, ...).
        representative_data: examples for calibration (PTQ int8, int16x8) and the parity
            check: an array, `(x, y)` (labels give accuracies) or batches / a `tf.data.Dataset`.
        formats: subset of `("saved_model", "tflite")`.
        input_type: TFLite input dtype for integer targets (`"int8"`, ...).
        output_type: TFLite output dtype for integer targets.
        calibration_data: examples for converter calibration when they should differ from
            the parity examples (e.g. training data; default: `representative_data`).
        max_examples: examples used for the parity check (>= 1, or `None` for all).
        min_agreement: override the parity threshold (`keras_mot.export.verify.TOLERANCES`).
        overwrite: replace a previous keras_mot export at `directory`.
        plot: write `report.png` when matplotlib is available.
        verbose: show one summary line (`ExportResult.summary()`) through the
            `"keras_mot.export.api"` logger (stdout by default; see `keras_mot.log`).
        recipe: a `Recipe` (e.g. from `QuantizationReport.suggest`) for a selective int8
            export of a float model: its float layers stay float (`keras_mot.debug.selective`).
        exclude: selectors of layers a float model's int8 export keeps float.
        parity_reference: what the parity check compares the TFLite model with (default: `model`;
            anything with `predict`). On a JAX or PyTorch backend `export` converts a
            TensorFlow-backend copy in a subprocess (`keras_mot.tf_bridge`) and passes `model`'s
            own predictions here.

    Returns:
        `ExportResult`.

    Raises:
        ExportError: bad target / formats / I/O types / `max_examples`, empty representative
            data or data holding NaN / inf, a quantization range that is NaN / inf, a
            conversion failure (unconvertible op), or any other failure; nothing is left on
            disk.

    Example:
        >>> result = mot.export(qat_model, "out/", representative_data=(x_val, y_val))
        >>> print(result.summary())
    """
    chosen = _serving_target(target or getattr(model, "mot_target", None))
    if chosen is not None:  # a quantized SavedModel instead of a TFLite conversion
        from keras_mot.export.tf_serving_export import export_tf_serving

        _check_exportable(model)
        return export_tf_serving(
            model, directory, chosen, representative_data, max_examples, overwrite, verbose
        )
    from keras_mot import tf_bridge

    if not tf_bridge.is_tensorflow_backend():  # convert a TensorFlow-backend copy
        if recipe is not None or exclude is not None:
            raise KerasMotError(
                format_error(
                    "mot.export(recipe=/exclude=) prepares a float model on the TensorFlow backend only.",
                    received=f"KERAS_BACKEND={keras.backend.backend()}",
                    fix="Prepare it yourself first: qmodel = mot.quantize(model, recipe=recipe, "
                    "calibration_data=x), then mot.export(qmodel, ...).",
                )
            )
        return tf_bridge.export_on_tensorflow(
            model,
            directory,
            representative_data,
            calibration_data,
            max_examples,
            CALIBRATION_EXAMPLES,
            target=target,
            formats=formats,
            input_type=input_type,
            output_type=output_type,
            min_agreement=min_agreement,
            overwrite=overwrite,
            plot=plot,
            verbose=verbose,
        )
    stages = _Stages()
    target, formats = _check_args(model, target, formats, max_examples)
    kept = None
    if recipe is not None or exclude is not None:
        from keras_mot.debug import selective

        stages("quantizing with the recipe (selective post-training quantization)")
        model, kept = selective.prepare(
            model,
            target,
            recipe,
            exclude,
            calibration_data if calibration_data is not None else representative_data,
        )
    plan = export_plan(model, target, input_type, output_type)
    out = AtomicDirectory(directory, overwrite=overwrite)
    try:
        with out as tmp:
            result = _export_into(
                tmp,
                out.path,
                model,
                plan,
                representative_data,
                calibration_data,
                formats,
                max_examples,
                min_agreement,
                plot,
                stages,
                kept,
                parity_reference,
            )
    except ExportError:
        raise
    except Exception as e:  # anything else: name the stage, keep the cause
        raise ExportError(
            format_error(
                f"Export to '{out.path}' failed while {stages.name}; nothing was written.",
                received=f"{type(e).__name__}: {str(e)[:1500]}",
                fix=_failure_hint(e, stages.name),
            )
        ) from e
    if verbose:
        verbose_logger().info(result.summary())
    return result


def _export_into(
    tmp,
    final,
    model,
    plan,
    data,
    calibration_data,
    formats,
    max_examples,
    min_agreement,
    plot,
    stages,
    kept=None,
    parity_reference=None,
):
    from keras_mot.export.convert import convert, prepare  # imports TensorFlow

    notes, paths, sizes = [], {}, {}
    target = plan.target
    stages("collecting representative data")
    examples = collect(data, model, max_examples) if data is not None else None
    stages("stripping training machinery")
    inference = prepare(model, plan)  # the one strip: SavedModel, converter, float reference
    if "saved_model" in formats:
        stages("writing the SavedModel")
        sizes["saved_model"] = {"raw": write_saved_model(inference, os.path.join(tmp, FILES["saved_model"]))}
        paths["saved_model"] = FILES["saved_model"]
    stages(f"converting to TFLite for target '{target.name}'")
    calibrate = (
        examples
        if calibration_data is None
        else collect(calibration_data, model, CALIBRATION_EXAMPLES, what="calibration_data")
    )
    calibration = (
        None if calibrate is None else list(calibrate.batches(32))[: max(1, CALIBRATION_EXAMPLES // 32)]
    )
    tflite_bytes = kept.convert(plan) if kept else convert(inference, plan, calibration)
    if "tflite" in formats:
        with open(os.path.join(tmp, FILES["tflite"]), "wb") as f:
            f.write(tflite_bytes)
        paths["tflite"] = FILES["tflite"]
        sizes["tflite"] = {"raw": len(tflite_bytes), "gzip": _report.gzip_size(tflite_bytes)}
    stages("inspecting the converted ops")
    from keras_mot.lint.tflite_check import lint_tflite

    parsed = TfliteModel(tflite_bytes)  # the one parse: lint, sparsity, parity, report
    floats = float_compute_ops(parsed) if target.is_integer else None
    if kept:  # selective quantization: the kept layers' float ops are intended
        from keras_mot.debug.selective import intended, not_kept_findings, output_layers

        all_floats = floats or []
        mine = intended(all_floats, kept, output_layers(model))
        floats = [op for op in floats if op not in mine]
        notes.append(f"Kept float by the recipe: {', '.join(kept)} ({len(mine)} float ops).")
    lint_report = lint_tflite(parsed, target, model=model)
    findings = list(lint_report.findings)
    if kept:
        findings += not_kept_findings(all_floats, kept, output_layers(model))
    stages("checking sparsity")
    sparse_findings, storage = _sparse_checks(parsed, target, model)
    findings += sparse_findings
    from keras_mot.compression.export_check import check_compression

    compression_findings, compression = check_compression(parsed, model)
    findings += compression_findings
    stages("checking parity")
    parity = runtime = None
    if examples is None:
        notes.append("Parity not checked: no representative_data was given, so no interpreter ran.")
    else:
        reference = model if parity_reference is None else parity_reference
        if plan.float_reference:
            reference = inference
            notes.append(
                "Parity reference: the float (stripped) form of the quantization-aware "
                f"model, because target '{target.name}' does not keep its quantization."
            )
        runner = Runner(parsed)  # the one interpreter of the export
        runtime = runner.runtime
        parity = check_parity(reference, runner, examples, plan.mode, min_agreement)
        if not parity.ok:
            findings.append(
                Finding(
                    "",
                    None,
                    "error",
                    "Keras and TFLite disagree: " + parity.summary(),
                    "Check the findings above; re-run mot.lint(model, target=...).",
                    "parity-failed",
                )
            )
    stages("computing per-layer statistics")
    stats = layer_stats(model)
    if plot:
        stages("plotting")
        note = plot_layers(stats, os.path.join(tmp, FILES["plot"]), f"{model.name} -> {target.name}")
        if note:
            notes.append(note)
        else:
            paths["plot"] = FILES["plot"]
    if plot and kept and examples is not None:  # selective quantization: where the error is
        from keras_mot.debug.selective import debug_chart

        note = debug_chart(model, examples, target.name, os.path.join(tmp, FILES["debug_plot"]))
        if note:
            notes.append(note)
        else:
            paths["debug_plot"] = FILES["debug_plot"]
    stages("writing the report")
    paths.update(report_json=FILES["report_json"], report_md=FILES["report_md"])
    ok = not any(f.severity == "error" for f in findings) and (parity is None or parity.ok) and not floats
    report = {
        "keras_mot_export": _report.REPORT_VERSION,
        "ok": ok,
        "target": target.name,
        "target_kind": target.kind,
        "mode": plan.mode,
        "verdict": lint_report.verdict,
        "runtime": runtime,
        "plan": plan.to_dict(),
        "input_type": plan.input_type,
        "output_type": plan.output_type,
        "model": {"name": model.name, "params": int(model.count_params())},
        "files": dict(paths),
        "sizes": sizes,
        "parity": parity.to_dict() if parity else None,
        "ops": _report.op_dtype_table(parsed.op_rows()),
        "float_compute_ops": floats,
        "kept_float": kept or [],
        "overall_sparsity": round(overall_sparsity(stats), 4),
        "layers": [s.to_dict() for s in stats],
        "sparse_storage": storage,
        "compression": compression,
        "findings": [f.to_dict() for f in findings],
        "notes": notes,
        "seconds": stages.times,
    }
    report = json.loads(json.dumps(report, default=str))  # the same plain data as the file
    _report.write_json(report, os.path.join(tmp, FILES["report_json"]))
    _report.write_markdown(report, os.path.join(tmp, FILES["report_md"]))
    stages("done")
    report["seconds"] = stages.times
    return ExportResult(
        directory=final,
        target=target.name,
        paths={k: os.path.join(final, v) for k, v in paths.items()},
        parity=parity,
        findings=tuple(findings),
        sizes=sizes,
        float_compute_ops=floats,
        verdict=lint_report.verdict,
        report=report,
    )
