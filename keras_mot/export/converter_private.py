"""The TFLite converter's private switches that keras_mot relies on, in one place.

Selective post-training quantization keeps chosen layers float even between two quantized
neighbours. The public converter cannot: it quantizes a float layer whose inputs and outputs
are int8. TensorFlow's converter has two private pieces that can: calibrate-only conversion
(`converter._experimental_calibrate_only`, a float model carrying the calibrated ranges) and the
MLIR quantizer with a node denylist (`tensorflow.lite.python.convert.mlir_quantize(...,
denylisted_nodes=)`), which leaves the denylisted ops float between DEQUANTIZE and QUANTIZE.
`check()` fails loudly when a TensorFlow upgrade removes either (a test runs it).

Example:
    >>> calibrated = calibrate_only(converter)
    >>> tflite_bytes = quantize_calibrated(calibrated, tf.int8, tf.int8, ["model/dw/depthwise"])
"""

import inspect

from keras_mot.errors import ExportError, format_error

CALIBRATE_ONLY = "_experimental_calibrate_only"


def _mlir_quantize():
    from tensorflow.lite.python import convert

    return getattr(convert, "mlir_quantize", None)


def check():
    """Raises `ExportError` unless this TensorFlow has both private switches.

    Example:
        >>> check()
    """
    import tensorflow as tf

    quantize = _mlir_quantize()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [tf.function(lambda x: x + 1.0).get_concrete_function(tf.TensorSpec([1], tf.float32))]
    )
    missing = []
    if not hasattr(converter, CALIBRATE_ONLY):
        missing.append(f"TFLiteConverter.{CALIBRATE_ONLY}")
    if quantize is None or "denylisted_nodes" not in inspect.signature(quantize).parameters:
        missing.append("tensorflow.lite.python.convert.mlir_quantize(denylisted_nodes=)")
    if missing:
        raise ExportError(
            format_error(
                "Selective post-training quantization needs private TFLite converter switches "
                "that this TensorFlow lacks.",
                received=f"TensorFlow {tf.__version__}: missing {', '.join(missing)}",
                fix="Use a TensorFlow version that has them (2.21 does), or export without recipe= / exclude=.",
            )
        )


def calibrate_only(converter):
    """Runs `converter` (optimizations and representative data set) up to calibration: a float
    `.tflite` model carrying the calibrated ranges.

    Example:
        >>> calibrated = calibrate_only(converter)
    """
    check()
    setattr(converter, CALIBRATE_ONLY, True)
    return converter.convert()


def quantize_calibrated(calibrated, input_type, output_type, keep_float):
    """Quantizes a calibrated model to int8 (per-channel weights, as the converter does), leaving
    the ops whose location names are in `keep_float` float.

    Example:
        >>> quantize_calibrated(calibrated, tf.int8, tf.int8, ["model/dw/depthwise"])
    """
    check()
    return _mlir_quantize()(
        calibrated,
        input_data_type=input_type,
        output_data_type=output_type,
        denylisted_nodes=list(keep_float),
    )
