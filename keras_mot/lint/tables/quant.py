"""Which TFLite builtins get integer kernels when a model is fully quantized.

`INT8[builtin] = (ok, source)`: `ok` is True when the MLIR quantizer gives the op int8 operands
(trait `QuantizableResult` and QI8 in the operand types in tfl_ops.td, the rule of
quantization/tools/tflite_op_coverage_spec_getters_gen.cc), or when the op only moves or compares
int8 data. `ok=False` ops keep float32 operands: with `TFLITE_BUILTINS_INT8` the converter still
succeeds and wraps them in DEQUANTIZE/QUANTIZE (docs/converter_facts.md §2) -- a float fallback.
A builtin missing from `INT8` is treated as not quantizable.

`INT16X8`: builtins with a 16-bit activation kernel in
tensorflow/lite/tools/optimize/operator_property.cc (`quantizable_int16` not cleared); keras_mot's
int16x8 target allows float fallback (TFLITE_BUILTINS), so any other op on float data stays float
between DEQUANTIZE/QUANTIZE. NEG and SQUARED_DIFFERENCE are rewritten before conversion
(keras_mot/export/int16x8.py: NEG has no 16x8 kernel; the quantizer makes SQUARED_DIFFERENCE int16
but LiteRT's kernel has none, tflite/kernels/squared_difference.cc) and compute in int16.
"""

_T, _C = "tfl_ops", "corpus"

_INT8_OK = (
    "ABS", "ADD", "ARG_MAX", "ARG_MIN", "AVERAGE_POOL_2D", "BATCH_MATMUL", "BATCH_TO_SPACE_ND",
    "BROADCAST_TO", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DIV",
    "EQUAL", "EXP", "EXPAND_DIMS", "FILL", "FULLY_CONNECTED", "GATHER", "GATHER_ND", "GELU",
    "GREATER", "GREATER_EQUAL", "HARD_SWISH", "L2_NORMALIZATION", "LEAKY_RELU", "LESS",
    "LESS_EQUAL", "LOG", "LOGISTIC", "LOG_SOFTMAX", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM",
    "MIRROR_PAD", "MUL", "NOT_EQUAL", "PACK", "PAD", "PADV2", "PRELU", "REDUCE_MAX", "REDUCE_MIN",
    "REDUCE_PROD", "RELU", "RELU6", "RELU_0_TO_1", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "RSQRT", "SELECT", "SELECT_V2", "SHAPE", "SLICE",
    "SOFTMAX", "SPACE_TO_BATCH_ND", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQRT",
    "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM", "TANH", "TILE", "TOPK_V2",
    "TRANSPOSE", "TRANSPOSE_CONV", "UNPACK", "RANK",
)
# Builtins that keep float operands (no QuantizableResult, or no QI8 in the operand types).
_INT8_FLOAT = (
    "ADD_N", "ATAN2", "CAST", "CEIL", "CONV_3D", "CONV_3D_TRANSPOSE", "COS", "CUMSUM",
    "DYNAMIC_UPDATE_SLICE", "ELU", "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "LOCAL_RESPONSE_NORMALIZATION",
    "MULTINOMIAL", "NEG", "POW", "RANDOM_STANDARD_NORMAL", "RANDOM_UNIFORM", "RANGE", "RFFT2D",
    "ROUND", "SEGMENT_SUM", "SIGN", "SIN", "SQUARE", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN",
    "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_SUM", "ZEROS_LIKE", "BUCKETIZE", "MATRIX_DIAG",
    "MATRIX_SET_DIAG", "SPARSE_TO_DENSE", "ONE_HOT", "WHERE", "UNIQUE",
)

INT8 = {**{b: (True, _T) for b in _INT8_OK}, **{b: (False, _T) for b in _INT8_FLOAT}}
# Measured corrections (conformance corpus, TF 2.21): ELU, CUMSUM, ROUND, SQUARE, NEG, CONV_3D
# stay float; TOPK_V2 and SELECT_V2 quantize.
INT8.update({"ELU": (False, _C), "CUMSUM": (False, _C), "CONV_3D": (False, _C)})
# Measured (generated corpus, tests/lint/corpus/, TF 2.21): NOT_EQUAL keeps float operands (EQUAL
# does not); ONE_HOT, MATRIX_DIAG and SCATTER_ND take int8; WHILE and IF stay float (their bodies
# run in float between DEQUANTIZE/QUANTIZE).
INT8.update({"NOT_EQUAL": (False, _C), "ONE_HOT": (True, _C), "MATRIX_DIAG": (True, _C),
             "SCATTER_ND": (True, _C), "WHILE": (False, _C), "IF": (False, _C)})

_P = "operator_property"
INT16X8 = {b: (True, _P) for b in (
    "ABS", "RSQRT", "SQRT", "ADD", "AVERAGE_POOL_2D", "BATCH_MATMUL", "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND", "BROADCAST_TO", "SPLIT", "SPLIT_V", "CONCATENATION", "CONV_2D",
    "TRANSPOSE_CONV", "DEPTHWISE_CONV_2D", "EXPAND_DIMS", "EXP", "FILL", "FULLY_CONNECTED",
    "GATHER", "GATHER_ND", "LOGISTIC", "LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM", "MAX_POOL_2D",
    "MAXIMUM", "MEAN", "MINIMUM", "MUL", "PACK", "PAD", "PADV2", "LEAKY_RELU", "RELU", "RELU6",
    "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "SCATTER_ND",
    "SELECT", "SHAPE", "SLICE", "SQUEEZE", "SOFTMAX", "STRIDED_SLICE", "SQUARED_DIFFERENCE",
    "SUB", "SUM", "TANH", "TILE", "TRANSPOSE", "UNPACK", "MIRROR_PAD", "REDUCE_PROD",
    "REDUCE_MAX", "REDUCE_MIN", "WHERE", "GELU", "LOG")}
INT16X8.update({"SELECT_V2": (True, _C),  # measured: KerasHub BERT's masks, int16 operands
                "NEG": (True, "keras_mot/export/int16x8.py (MUL by -1)"),
                "SQUARED_DIFFERENCE": (True, "keras_mot/export/int16x8.py (SUB, MUL)")})
INT16X8.update({b: (False, _P) for b in (
    "ARG_MAX", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "EQUAL", "NOT_EQUAL", "GREATER",
    "GREATER_EQUAL", "LESS", "LESS_EQUAL", "HARD_SWISH", "LOG_SOFTMAX", "L2_NORMALIZATION",
    "PRELU", "RELU_N1_TO_1", "SVDF")})

TABLES = {"int8": INT8, "int16x8": INT16X8}

# Builtins whose integer conversion fails outright with the pip converter (docs/converter_facts.md §7:
# the calibrator runs the float model and crashes on loops that carry TensorLists -- keras RNN
# loops, ops.map, ops.scan; reproduced standalone). `integer_fails(builtin, in_dtypes)` decides;
# a WHILE without TensorList loop variables converts, with the loop left float.
INTEGER_FAILS = {
    "WHILE": ("corpus", "calibrating a WHILE loop that carries TensorLists crashes the pip "
                        "calibrator (SIGSEGV)"),
    "HASHTABLE_FIND": ("corpus", "the full-integer conversion rejects hash-table lookups"),
}


def integer_fails(builtin, in_dtypes=(), float_body=True):
    """The reason a full-integer conversion fails on `builtin`, or None.

    `in_dtypes` are the op's input dtypes (a WHILE fails only when it carries TensorLists,
    dtype `variant`) and `float_body` says whether its body computes on float data (a loop over
    integers is not calibrated and converts).

    Example:
        >>> integer_fails("WHILE", ("int32", "float32")) is None
        True
    """
    if builtin not in INTEGER_FAILS:
        return None
    if builtin == "WHILE" and ("variant" not in in_dtypes or not float_body):
        return None
    return INTEGER_FAILS[builtin][1]


def has_integer_kernel(builtin, kind="int8"):
    """True when `builtin` computes in integers under `kind` (`"int8"` or `"int16x8"`).

    Example:
        >>> has_integer_kernel("CONV_2D"), has_integer_kernel("NEG")
        (True, False)
    """
    return TABLES[kind].get(builtin, (False, None))[0]
