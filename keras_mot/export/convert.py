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
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from keras_mot import graph, targets
from keras_mot.errors import ExportError, format_error
from keras_mot.export.int16x8 import convert_int16x8
from keras_mot.finite import check_finite, check_finite_ranges
from keras_mot.strip import strip
from keras_mot.wrapper import Wrapper

IO_TYPES = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16}


def has_wrappers(model):
    """True when the model contains keras_mot `Wrapper` (or `WeightOnlyWrapper`) layers, at any
    nesting depth: `strip` removes both (weight-only weights are baked onto their grid, which
    TFLite's dynamic-range quantization then stores per channel)."""
    from keras_mot.weight_only_wrapper import WeightOnlyWrapper

    return any(isinstance(layer, (Wrapper, WeightOnlyWrapper))
               for _, layer in graph.iter_layers(model))


def is_quantized(model):
    """True when some wrapper of the model fake-quantizes."""
    return any(isinstance(layer, Wrapper) and layer.quantize
               for _, layer in graph.iter_layers(model))


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
                yield [x[i:i + 1] for x in xs]
    return gen


def to_tflite(model, target="tflite_int8", input_type="float32", output_type="float32",
              representative_data=None, batch_size=None):
    """Converts a Keras model to TFLite flatbuffer bytes for `target`.

    Args:
        model: a Keras model; keras_mot wrappers are stripped first.
        target: target name or `Target` (decides ops sets, optimizations and quantization).
        input_type, output_type: `"float32"`, `"int8"`, `"uint8"` (integer targets) or
            `"int16"` (int16x8).
        representative_data: iterable of input batches; required for `int16x8` and for an
            `int8` target when the model has no quantization-aware training.
        batch_size: fixed batch size, or `None` for a dynamic batch.

    Returns:
        The `.tflite` model as bytes.

    Example:
        >>> tflite_bytes = to_tflite(qat_model, "tflite_int8", input_type="int8")
    """
    target = targets.get(target)
    settings = target.converter
    for name, value in (("input_type", input_type), ("output_type", output_type)):
        if value not in IO_TYPES:
            raise ExportError(format_error(f"Unknown {name}.", received=repr(value),
                                           fix=f"Use one of: {', '.join(IO_TYPES)}."))
    quantized = is_quantized(model)
    qat_int8 = settings.quantize == "int8" and quantized
    if has_wrappers(model):
        # Never hand the converter a NaN / inf range: the interpreter crashes on its scale.
        if qat_int8:
            check_finite_ranges(model, "before conversion", error=ExportError)
        model = strip(model, keep_quantization=qat_int8)
        if qat_int8:
            check_finite_ranges(model, "before conversion (mot.strip computed it from the "
                                "layer's weights)", error=ExportError)
    if settings.quantize in ("int16x8",) or (settings.quantize == "int8" and not quantized):
        if representative_data is None:
            raise ExportError(format_error(
                f"Target '{target.name}' calibrates on data, but no representative_data was given.",
                fix="Pass representative_data= (an iterable of input batches), or quantize the "
                    "model with mot.quantize() first (int8)."))
    frozen = frozen_concrete_function(model, batch_size)
    if settings.quantize == "int16x8":
        return _int16x8(frozen, target, settings, representative_data, model, input_type,
                        output_type)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.optimizations = [getattr(tf.lite.Optimize, o) for o in settings.optimizations]
    if settings.sparsity:
        converter.optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, o)
                                           for o in settings.supported_ops]
    if settings.quantize in ("int8", "int16x8") and not qat_int8:
        converter.representative_dataset = _representative(representative_data, model)
        if settings.quantize == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if settings.quantize in ("int8", "int16x8"):
        converter.inference_input_type = IO_TYPES[input_type]
        converter.inference_output_type = IO_TYPES[output_type]
    elif settings.quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        return converter.convert()
    except Exception as e:  # the converter raises many types; re-raise with context
        raise ExportError(format_error(
            f"The TFLite converter failed for target '{target.name}'.",
            received=f"{type(e).__name__}: {str(e)[:2000]}",
            fix="Run mot.lint(model, target=...) to see which layer needs a change.")) from e


def _int16x8(frozen, target, settings, representative_data, model, input_type, output_type):
    """int16x8 through `keras_mot.export.int16x8` (token ids, masks and LayerNorm convert)."""
    if input_type not in ("float32", "int16") or output_type not in ("float32", "int16"):
        raise ExportError(format_error(
            f"Target '{target.name}' takes float32 or int16 inputs and outputs.",
            received=f"input_type={input_type!r}, output_type={output_type!r}",
            fix="Use input_type/output_type 'float32' or 'int16'."))
    try:
        return convert_int16x8(frozen, _representative(representative_data, model),
                               IO_TYPES[input_type], IO_TYPES[output_type],
                               allow_float="TFLITE_BUILTINS" in settings.supported_ops)
    except ExportError:
        raise
    except Exception as e:  # the converter raises many types; re-raise with context
        raise ExportError(format_error(
            f"The TFLite converter failed for target '{target.name}'.",
            received=f"{type(e).__name__}: {str(e)[:2000]}",
            fix="Run mot.lint(model, target=...) to see which layer needs a change.")) from e
