"""Builtins the XNNPack delegate takes: the cases of `Subgraph::VisitNode` in
tensorflow/lite/delegates/xnnpack/xnnpack_delegate.cc (LiteRT
tflite/delegates/xnnpack/xnnpack_delegate.cc at f6745779). Any other builtin (and every Flex or
custom op) runs on the default TFLite kernels and splits the delegated graph into partitions.
Per-op limits are in tflite/delegates/xnnpack/README.md ("Limitations and supported operators").
"""

SOURCE = "xnnpack_delegate"

XNNPACK_BUILTINS = frozenset({
    "ABS", "ADD", "ASSIGN_VARIABLE", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CEIL", "CONCATENATION",
    "CONV_2D", "COS", "DENSIFY", "DEPTH_TO_SPACE", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "DIV", "ELU",
    "EXP", "EXPAND_DIMS", "FLOOR", "FULLY_CONNECTED", "GELU", "HARD_SWISH", "LEAKY_RELU", "LOG",
    "LOGISTIC", "MAX_POOL_2D", "MAXIMUM", "MEAN", "MINIMUM", "MUL", "NEG", "PAD", "PRELU",
    "QUANTIZE", "READ_VARIABLE", "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1",
    "RESHAPE", "RESIZE_BILINEAR", "ROUND", "RSQRT", "SIN", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH",
    "SPLIT", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "STABLEHLO_COMPOSITE", "STRIDED_SLICE",
    "SUB", "SUM", "TANH", "TRANSPOSE", "TRANSPOSE_CONV", "VAR_HANDLE",
})
