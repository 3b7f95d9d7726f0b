"""The TFLite conversion engine: a keras_mot model (or any Keras model) to `.tflite` bytes.

For integer targets the model is first stripped (see `keras_mot.strip`), then traced with a
dynamic batch, its variables frozen to constants, and converted. Freezing matters: the converter
consumes `FakeQuant*` ops only when their inputs and ranges are constants; with resource
variables it keeps them as unsupported TF ops.

TF 2.21 note (tensorflow/lite/python/lite.py, `_save_conversion_params_metric`): setting
`supported_ops=[TFLITE_BUILTINS_INT8]` without a representative dataset raises "representative_
dataset must be specified" even for a quantization-aware model, because that check runs before the
graph is inspected. The QAT path therefore keeps `TFLITE_BUILTINS` and relies on the FakeQuant
ops; `keras_mot.export.inspect.float_compute_ops` verifies the result is fully integer.
"""

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

from keras_mot import graph
from keras_mot.errors import ExportError, format_error
from keras_mot.export.int16x8 import convert_int16x8
from keras_mot.export.plan import export_plan
from keras_mot.finite import check_finite, check_finite_ranges
from keras_mot.strip import strip

# dtype names of ExportPlan.input_type / output_type -> TensorFlow dtypes.
TF_TYPES = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16}


def frozen_concrete_function(model, batch_size=None):
    """`model(x, training=False)` traced on a (dynamic) batch with variables frozen."""
    specs = [tf.TensorSpec((batch_size,) + tuple(t.shape[1:]), t.dtype) for t in model.inputs]

    @tf.function
    def serve(*args):
        return model(graph.pack_inputs(model, list(args)), training=False)

    concrete = serve.get_concrete_function(*specs)
    return convert_variables_to_constants_v2(concrete)


def _representative(data, model):
    """A converter `representative_dataset`: one sample at a time, each input in its own dtype
    (float images, int32 token ids, ...)."""
    if data is None:
        return None
    dtypes = [np.dtype(getattr(t.dtype, "name", t.dtype)) for t in model.inputs]

    def gen():
        seen = 0
        for batch in data:
            if isinstance(batch, tuple) and len(batch) in (2, 3):
                batch = batch[0]  # (x, y[, sample_weight])
            xs = batch if isinstance(batch, list) else [batch]
            xs = [np.asarray(x, dt) for x, dt in zip(xs, dtypes)]
            check_finite(xs, "representative_data", start=seen, error=ExportError)
            seen += xs[0].shape[0]
            for i in range(xs[0].shape[0]):
                yield [x[i : i + 1] for x in xs]

    return gen


def to_tflite(
    model,
    target="tflite_int8",
    input_type="float32",
    output_type="float32",
    representative_data=None,
    batch_size=None,
):
    """Converts a Keras model to TFLite flatbuffer bytes for `target`.

    The same three steps `mot.export` runs: `export_plan`, `prepare` (strip once), `convert`.

    Args:
        model: a Keras model; keras_mot wrappers are stripped first.
        target: target name or `Target` (decides ops sets, optimizations and quantization).
        input_type: `"float32"`, `"int8"`, `"uint8"` (integer targets) or `"int16"`
            (int16x8).
        output_type: the same choices for the output.
        representative_data: iterable of input batches; required for `int16x8` and for an
            `int8` target when the model has no quantization-aware training.
        batch_size: fixed batch size, or `None` for a dynamic batch.

    Returns:
        The `.tflite` model as bytes.

    Example:
        >>> tflite_bytes = to_tflite(qat_model, "tflite_int8", input_type="int8")
    """
    plan = export_plan(model, target, input_type, output_type)
    _require_calibration(plan, representative_data)
    return convert(prepare(model, plan), plan, representative_data, batch_size)


def prepare(model, plan):
    """The model the converter sees: `mot.strip` run once when the plan says so.

    A quantization-aware model's ranges are checked before and after stripping: the converter
    is never handed a NaN / inf range (the interpreter would crash on its scale).

    Example:
        >>> inference = prepare(qat_model, export_plan(qat_model, "tflite_int8"))
    """
    if not plan.strip:
        return model
    if plan.keep_quantization:
        check_finite_ranges(model, "before conversion", error=ExportError)
    stripped = strip(model, keep_quantization=plan.keep_quantization)
    if plan.keep_quantization:
        check_finite_ranges(
            stripped, "before conversion (mot.strip computed it from the layer's weights)", error=ExportError
        )
    return stripped


def _require_calibration(plan, representative_data):
    if plan.calibrate and representative_data is None:
        raise ExportError(
            format_error(
                f"Target '{plan.target.name}' calibrates on data, but no representative_data was given.",
                fix="Pass representative_data= (an iterable of input batches), or quantize "
                "the model with mot.quantize() first (int8).",
            )
        )


def convert(inference, plan, representative_data=None, batch_size=None):
    """Runs the TFLite converter on an already prepared model, configured by `plan`.

    Args:
        inference: the model from `prepare(model, plan)`.
        plan: the `ExportPlan`.
        representative_data: iterable of input batches (needed when `plan.calibrate`).
        batch_size: fixed batch size, or `None` for a dynamic batch.

    Returns:
        The `.tflite` model as bytes.

    Example:
        >>> plan = export_plan(qat_model, "tflite_int8")
        >>> tflite_bytes = convert(prepare(qat_model, plan), plan)
    """
    _require_calibration(plan, representative_data)
    frozen = frozen_concrete_function(inference, batch_size)
    representative = _representative(representative_data, inference) if plan.calibrate else None
    try:
        if plan.mode == "int16x8":
            return convert_int16x8(
                frozen,
                representative,
                TF_TYPES[plan.input_type],
                TF_TYPES[plan.output_type],
                allow_float="TFLITE_BUILTINS" in plan.supported_ops,
            )
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
        converter.optimizations = [getattr(tf.lite.Optimize, o) for o in plan.optimizations]
        converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, o) for o in plan.supported_ops]
        converter.target_spec.supported_types = [getattr(tf, t) for t in plan.supported_types]
        if representative is not None:
            converter.representative_dataset = representative
        if plan.target.is_integer:
            converter.inference_input_type = TF_TYPES[plan.input_type]
            converter.inference_output_type = TF_TYPES[plan.output_type]
        return converter.convert()
    except ExportError:
        raise
    except Exception as e:  # the converter raises many types; re-raise with context
        raise ExportError(
            format_error(
                f"The TFLite converter failed for target '{plan.target.name}'.",
                received=f"{type(e).__name__}: {str(e)[:2000]}",
                fix="Run mot.lint(model, target=...) to see which layer needs a change.",
            )
        ) from e


def convert_keeping_float(model, plan, representative_data, choose):
    """Post-training int8 conversion of a float `model` that keeps the ops `choose` picks float.

    `choose(calibrated_bytes)` gets the calibrated float `.tflite` model and returns the location
    names of the ops to keep float; those run float between DEQUANTIZE and QUANTIZE even between
    two quantized neighbours (`keras_mot.export.converter_private`).

    Example:
        >>> convert_keeping_float(float_model, plan, batches, lambda b: ["model/dw/depthwise"])
    """
    from keras_mot.export import converter_private

    _require_calibration(plan, representative_data)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen_concrete_function(model)])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
        tf.lite.OpsSet.TFLITE_BUILTINS,
    ]
    converter.representative_dataset = _representative(representative_data, model)
    calibrated = converter_private.calibrate_only(converter)
    return converter_private.quantize_calibrated(
        calibrated, TF_TYPES[plan.input_type], TF_TYPES[plan.output_type], choose(calibrated)
    )
