"""Reading a converted `.tflite`: ops, tensor dtypes, float compute ops left in an integer model.

Every function takes the flatbuffer bytes or an already parsed `TfliteModel` (what `mot.export`
passes, so the model is parsed once).
"""

from keras_mot.export.tflite_model import TfliteModel

# TFLite builtins that do arithmetic on activations. In an integer model, one of these reading
# a float32 tensor is a float island. (QUANTIZE / DEQUANTIZE at the model boundary, shape ops and
# integer index computations are not compute ops.)
COMPUTE_OPS = frozenset(
    {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "FULLY_CONNECTED",
        "TRANSPOSE_CONV",
        "CONV_3D",
        "BATCH_MATMUL",
        "ADD",
        "SUB",
        "MUL",
        "DIV",
        "MEAN",
        "SUM",
        "AVERAGE_POOL_2D",
        "MAX_POOL_2D",
        "SOFTMAX",
        "LOGISTIC",
        "TANH",
        "HARD_SWISH",
        "GELU",
        "RELU",
        "RELU6",
        "LEAKY_RELU",
        "ELU",
        "PRELU",
        "SQUARED_DIFFERENCE",
        "RSQRT",
        "SQRT",
        "EXP",
        "LOG",
        "NEG",
        "SQUARE",
        "POW",
        "MAXIMUM",
        "MINIMUM",
        "CONCATENATION",
        "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR",
        "PAD",
        "REDUCE_MAX",
        "REDUCE_MIN",
        "L2_NORMALIZATION",
        "CUMSUM",
        "LOG_SOFTMAX",
    }
)


def op_list(tflite):
    """`[{"op", "inputs": [dtype names], "outputs": [dtype names], "output_names"}]` in order.

    Args:
        tflite: `.tflite` bytes or a `TfliteModel` (parsed once, no interpreter).

    Example:
        >>> op_list(tflite_bytes)[0]["op"]
        'CONV_2D'
    """
    return TfliteModel.of(tflite).op_rows()


def float_compute_ops(tflite):
    """Compute ops whose first input is a float tensor (float islands in an integer model).

    Example:
        >>> float_compute_ops(int8_tflite_bytes)
        []
    """
    return [
        o
        for o in op_list(tflite)
        if o["op"] in COMPUTE_OPS and o["inputs"] and o["inputs"][0].startswith("float")
    ]


def op_counts(tflite):
    """`{op name: count}` of `.tflite` bytes or a `TfliteModel`."""
    return TfliteModel.of(tflite).op_counts()
