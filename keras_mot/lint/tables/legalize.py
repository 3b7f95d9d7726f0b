"""TF op -> TFLite builtin(s): what the converter's legalization produces for each TF op type.

`LEGALIZE[tf_op] = (builtins, source)`. A TF op missing from `LEGALIZE` and `FOLDED` has no
legalization: it stays a TF op and becomes a Flex op if it is on the Flex allowlist
(`tables.flex`), else the conversion fails (flatbuffer_export.cc, `Translator::BuildOperator`).
Whether the builtin accepts the op's dtypes is checked separately (`tables.dtypes`).
"""

# (tf op, builtins it becomes, source key in tables.SOURCES)
_ENTRIES = [
    # --- legalize_patterns.td (DRR patterns TF_*Op -> TFL_*Op)
    ("Abs", ("ABS",), "legalize_patterns"),
    ("Add", ("ADD",), "legalize_patterns"),
    ("AddV2", ("ADD",), "legalize_patterns"),
    ("AddN", ("ADD_N",), "legalize_patterns"),
    ("All", ("REDUCE_ALL",), "legalize_patterns"),
    ("Any", ("REDUCE_ANY",), "legalize_patterns"),
    ("ArgMax", ("ARG_MAX",), "legalize_patterns"),
    ("ArgMin", ("ARG_MIN",), "legalize_patterns"),
    ("Atan2", ("ATAN2",), "legalize_patterns"),
    ("AvgPool", ("AVERAGE_POOL_2D",), "legalize_patterns"),
    ("BatchToSpaceND", ("BATCH_TO_SPACE_ND",), "legalize_patterns"),
    ("Bitcast", ("BITCAST",), "legalize_patterns"),
    ("BitwiseXor", ("BITWISE_XOR",), "legalize_patterns"),
    ("BroadcastArgs", ("BROADCAST_ARGS",), "legalize_patterns"),
    ("BroadcastTo", ("BROADCAST_TO",), "legalize_patterns"),
    ("Bucketize", ("BUCKETIZE",), "legalize_patterns"),
    ("Cast", ("CAST",), "legalize_patterns"),
    ("Ceil", ("CEIL",), "legalize_patterns"),
    ("ComplexAbs", ("COMPLEX_ABS",), "legalize_patterns"),
    ("Conv2DBackpropInput", ("TRANSPOSE_CONV",), "legalize_patterns"),
    ("Cos", ("COS",), "legalize_patterns"),
    ("Cumsum", ("CUMSUM",), "legalize_patterns"),
    ("DepthToSpace", ("DEPTH_TO_SPACE",), "legalize_patterns"),
    ("Div", ("DIV",), "legalize_patterns"),
    ("RealDiv", ("DIV",), "legalize_patterns"),
    ("Elu", ("ELU",), "legalize_patterns"),
    ("Equal", ("EQUAL",), "legalize_patterns"),
    ("Exp", ("EXP",), "legalize_patterns"),
    ("ExpandDims", ("EXPAND_DIMS",), "legalize_patterns"),
    ("Fill", ("FILL",), "legalize_patterns"),
    ("Floor", ("FLOOR",), "legalize_patterns"),
    ("FloorDiv", ("FLOOR_DIV",), "legalize_patterns"),
    ("FloorMod", ("FLOOR_MOD",), "legalize_patterns"),
    ("Gather", ("GATHER",), "legalize_patterns"),
    ("GatherV2", ("GATHER",), "legalize_patterns"),
    ("GatherNd", ("GATHER_ND",), "legalize_patterns"),
    ("Greater", ("GREATER",), "legalize_patterns"),
    ("GreaterEqual", ("GREATER_EQUAL",), "legalize_patterns"),
    ("Imag", ("IMAG",), "legalize_patterns"),
    ("LRN", ("LOCAL_RESPONSE_NORMALIZATION",), "legalize_patterns"),
    ("LeakyRelu", ("LEAKY_RELU",), "legalize_patterns"),
    ("Less", ("LESS",), "legalize_patterns"),
    ("LessEqual", ("LESS_EQUAL",), "legalize_patterns"),
    ("Log", ("LOG",), "legalize_patterns"),
    ("Log1p", ("LOG", "ADD"), "legalize_patterns"),
    ("LogSoftmax", ("LOG_SOFTMAX",), "legalize_patterns"),
    ("LogicalAnd", ("LOGICAL_AND",), "legalize_patterns"),
    ("LogicalNot", ("LOGICAL_NOT",), "legalize_patterns"),
    ("LogicalOr", ("LOGICAL_OR",), "legalize_patterns"),
    ("MatrixDiag", ("MATRIX_DIAG",), "legalize_patterns"),
    ("MatrixSetDiagV3", ("MATRIX_SET_DIAG",), "legalize_patterns"),
    ("Max", ("REDUCE_MAX",), "legalize_patterns"),
    ("MaxPool", ("MAX_POOL_2D",), "legalize_patterns"),
    ("Maximum", ("MAXIMUM",), "legalize_patterns"),
    ("Mean", ("MEAN",), "legalize_patterns"),
    ("Min", ("REDUCE_MIN",), "legalize_patterns"),
    ("Minimum", ("MINIMUM",), "legalize_patterns"),
    ("MirrorPad", ("MIRROR_PAD",), "legalize_patterns"),
    ("Mul", ("MUL",), "legalize_patterns"),
    ("Multinomial", ("MULTINOMIAL",), "legalize_patterns"),
    ("Neg", ("NEG",), "legalize_patterns"),
    ("NonMaxSuppressionV4", ("NON_MAX_SUPPRESSION_V4",), "legalize_patterns"),
    ("NonMaxSuppressionV5", ("NON_MAX_SUPPRESSION_V5",), "legalize_patterns"),
    ("NotEqual", ("NOT_EQUAL",), "legalize_patterns"),
    ("OneHot", ("ONE_HOT",), "legalize_patterns"),
    ("Pad", ("PAD",), "legalize_patterns"),
    ("PadV2", ("PADV2",), "legalize_patterns"),
    ("Pow", ("POW",), "legalize_patterns"),
    ("Prod", ("REDUCE_PROD",), "legalize_patterns"),
    ("RFFT2D", ("RFFT2D",), "legalize_patterns"),
    ("RandomStandardNormal", ("RANDOM_STANDARD_NORMAL",), "legalize_patterns"),
    ("RandomUniform", ("RANDOM_UNIFORM",), "legalize_patterns"),
    ("Range", ("RANGE",), "legalize_patterns"),
    ("Rank", ("RANK",), "legalize_patterns"),
    ("Real", ("REAL",), "legalize_patterns"),
    ("Relu", ("RELU",), "legalize_patterns"),
    ("Relu6", ("RELU6",), "legalize_patterns"),
    ("Reshape", ("RESHAPE",), "legalize_patterns"),
    ("ResizeBilinear", ("RESIZE_BILINEAR",), "legalize_patterns"),
    ("ResizeNearestNeighbor", ("RESIZE_NEAREST_NEIGHBOR",), "legalize_patterns"),
    ("ReverseSequence", ("REVERSE_SEQUENCE",), "legalize_patterns"),
    ("ReverseV2", ("REVERSE_V2",), "legalize_patterns"),
    ("RightShift", ("RIGHT_SHIFT",), "legalize_patterns"),
    ("Round", ("ROUND",), "legalize_patterns"),
    ("Rsqrt", ("RSQRT",), "legalize_patterns"),
    ("ScatterNd", ("SCATTER_ND",), "legalize_patterns"),
    ("SegmentSum", ("SEGMENT_SUM",), "legalize_patterns"),
    ("Select", ("SELECT",), "legalize_patterns"),
    ("SelectV2", ("SELECT_V2",), "legalize_patterns"),
    ("Shape", ("SHAPE",), "legalize_patterns"),
    ("Sigmoid", ("LOGISTIC",), "legalize_patterns"),
    ("Sign", ("SIGN",), "legalize_patterns"),
    ("Sin", ("SIN",), "legalize_patterns"),
    ("Slice", ("SLICE",), "legalize_patterns"),
    ("Softmax", ("SOFTMAX",), "legalize_patterns"),
    ("Softplus", ("EXP", "ADD", "LOG"), "legalize_patterns"),
    ("Softsign", ("ABS", "ADD", "DIV"), "legalize_patterns"),
    ("SpaceToBatchND", ("SPACE_TO_BATCH_ND",), "legalize_patterns"),
    ("SpaceToDepth", ("SPACE_TO_DEPTH",), "legalize_patterns"),
    ("SparseToDense", ("SPARSE_TO_DENSE",), "legalize_patterns"),
    ("Sqrt", ("SQRT",), "legalize_patterns"),
    ("Square", ("SQUARE",), "legalize_patterns"),
    ("SquaredDifference", ("SQUARED_DIFFERENCE",), "legalize_patterns"),
    ("Squeeze", ("SQUEEZE",), "legalize_patterns"),
    ("StridedSlice", ("STRIDED_SLICE",), "legalize_patterns"),
    ("Sub", ("SUB",), "legalize_patterns"),
    ("Sum", ("SUM",), "legalize_patterns"),
    ("Tanh", ("TANH",), "legalize_patterns"),
    ("Tile", ("TILE",), "legalize_patterns"),
    ("TopKV2", ("TOPK_V2",), "legalize_patterns"),
    ("Transpose", ("TRANSPOSE",), "legalize_patterns"),
    ("Unique", ("UNIQUE",), "legalize_patterns"),
    ("Where", ("WHERE",), "legalize_patterns"),
    ("XlaDynamicUpdateSlice", ("DYNAMIC_UPDATE_SLICE",), "legalize_patterns"),
    ("ZerosLike", ("ZEROS_LIKE",), "legalize_patterns"),
    # --- legalize_tf.cc (C++ conversion patterns)
    ("BatchMatMul", ("BATCH_MATMUL",), "legalize_tf"),
    ("BatchMatMulV2", ("BATCH_MATMUL",), "legalize_tf"),   # FULLY_CONNECTED for a const 2-D rhs
    ("BatchMatMulV3", ("BATCH_MATMUL",), "legalize_tf"),
    ("ConcatV2", ("CONCATENATION",), "legalize_tf"),
    ("Conv3D", ("CONV_3D",), "legalize_tf"),
    ("Conv3DBackpropInputV2", ("CONV_3D_TRANSPOSE",), "legalize_tf"),
    ("MatMul", ("FULLY_CONNECTED",), "legalize_tf"),
    ("MatrixDiagV2", ("MATRIX_DIAG",), "legalize_tf"),
    ("MatrixDiagV3", ("MATRIX_DIAG",), "legalize_tf"),
    ("Pack", ("PACK",), "legalize_tf"),
    ("Split", ("SPLIT",), "legalize_tf"),
    ("SplitV", ("SPLIT_V",), "legalize_tf"),
    ("Unpack", ("UNPACK",), "legalize_tf"),
    # --- prepare_tf.cc (convolutions, einsum, FFT)
    ("Conv2D", ("CONV_2D",), "prepare_tf"),
    ("DepthwiseConv2dNative", ("DEPTHWISE_CONV_2D",), "prepare_tf"),
    ("Einsum", ("BATCH_MATMUL", "TRANSPOSE", "RESHAPE"), "prepare_tf"),
    ("RFFT", ("RFFT2D",), "prepare_tf"),
    # --- TF lowering before legalization (lower_tf.td)
    ("BiasAdd", ("ADD",), "lower_tf"),          # then fused into CONV_2D / FULLY_CONNECTED
    ("Selu", ("EXP", "SUB", "MUL", "GREATER", "SELECT_V2"), "lower_tf"),
    ("ClipByValue", ("MINIMUM", "MAXIMUM"), "lower_tf"),
    ("Reciprocal", ("DIV",), "lower_tf"),
    ("IsFinite", ("EQUAL", "SUB"), "lower_tf"),
    # measured (conformance corpus, TF 2.21): lowered to these builtins before legalization
    ("Expm1", ("EXP", "SUB"), "corpus"),
    ("IsNan", ("NOT_EQUAL",), "lower_tf"),                 # x != x
    ("IsInf", ("ABS", "EQUAL"), "corpus"),                  # |x| == inf
    ("DivNoNan", ("DIV", "EQUAL", "SELECT_V2"), "lower_tf"),
    ("OnesLike", ("SHAPE", "FILL"), "lower_tf"),
    ("MatrixBandPart", ("ZEROS_LIKE", "SELECT_V2"), "corpus"),
    ("TensorScatterUpdate", ("SUB", "SCATTER_ND", "MUL", "ADD"), "corpus"),
    ("UnsortedSegmentSum", ("UNSORTED_SEGMENT_SUM",), "legalize_patterns"),
    ("UnsortedSegmentMax", ("UNSORTED_SEGMENT_MAX",), "legalize_patterns"),
    ("UnsortedSegmentMin", ("UNSORTED_SEGMENT_MIN",), "legalize_patterns"),
    ("UnsortedSegmentProd", ("UNSORTED_SEGMENT_PROD",), "legalize_patterns"),
    # --- control flow (flatbuffer_export.cc: tf.While / tf.If become WHILE / IF)
    ("While", ("WHILE",), "flatbuffer_export"),
    ("StatelessWhile", ("WHILE",), "flatbuffer_export"),
    ("If", ("IF",), "flatbuffer_export"),
    ("StatelessIf", ("IF",), "flatbuffer_export"),
    # --- hash tables (legalize_hashtables.cc); experimental per ops_compatibility.md
    ("HashTableV2", ("HASHTABLE",), "hashtables"),
    ("LookupTableFindV2", ("HASHTABLE_FIND",), "hashtables"),
    ("LookupTableImportV2", ("HASHTABLE_IMPORT",), "hashtables"),
    ("LookupTableSizeV2", ("HASHTABLE_SIZE",), "hashtables"),
]

LEGALIZE = {tf_op: (builtins, source) for tf_op, builtins, source in _ENTRIES}

# Key -> value dtypes a hash table may have to become a TFLite HASHTABLE (legalize_hashtables.cc,
# `checkPrecondition`: string -> int64 or int64 -> string); others stay TF ops (Flex).
HASHTABLE_TYPES = frozenset({("string", "int64"), ("int64", "string")})

# TF ops whose integer-typed form is rewritten to other builtins (the float form keeps the
# LEGALIZE entry): measured in the conformance corpus (TF 2.21), e.g. int32 Relu -> MAXIMUM.
INTEGER_FORMS = {
    "Relu": (("MAXIMUM",), "corpus"),
    "Square": (("MUL",), "corpus"),
}

# TF ops that disappear: constant-folded, frozen, inlined or fused into a neighbour.
# (tf op, reason, source key)
_FOLDED = [
    ("Const", "constant, stored as a buffer", "flatbuffer_export"),
    ("Placeholder", "model input", "flatbuffer_export"),
    ("ReadVariableOp", "variable read, frozen into a constant", "flatbuffer_export"),
    ("VarHandleOp", "variable handle, frozen into a constant", "flatbuffer_export"),
    ("Identity", "identity, removed", "prepare_patterns"),
    ("IdentityN", "identity, removed", "prepare_patterns"),
    ("NoOp", "control dependency, removed", "flatbuffer_export"),
    ("StopGradient", "gradient marker, removed", "prepare_patterns"),
    ("PreventGradient", "gradient marker, removed", "prepare_patterns"),
    ("Snapshot", "identity, removed", "prepare_patterns"),
    ("CheckNumerics", "check, removed", "prepare_patterns"),
    ("PlaceholderWithDefault", "default input, folded", "prepare_patterns"),
    ("EnsureShape", "shape assertion, removed", "prepare_patterns"),
    ("Assert", "assertion, dropped", "legalize_tf"),
    ("FusedBatchNorm", "batch norm, decomposed and folded into the preceding conv", "prepare_tf"),
    ("FusedBatchNormV2", "batch norm, decomposed and folded into the preceding conv", "prepare_tf"),
    ("FusedBatchNormV3", "batch norm, decomposed and folded into the preceding conv", "prepare_tf"),
    ("StatefulPartitionedCall", "function call, inlined", "flatbuffer_export"),
    ("PartitionedCall", "function call, inlined", "flatbuffer_export"),
    ("FakeQuantWithMinMaxVars", "fake-quant, consumed by the quantizer (QUANTIZE/DEQUANTIZE)",
     "legalize_patterns"),
    ("FakeQuantWithMinMaxVarsPerChannel", "fake-quant, consumed by the quantizer",
     "legalize_patterns"),
    ("FakeQuantWithMinMaxArgs", "fake-quant, consumed by the quantizer", "legalize_patterns"),
]

FOLDED = {tf_op: (reason, source) for tf_op, reason, source in _FOLDED}

# Chains fused into one builtin (optimize_patterns.td). anchor tf op -> (builtin, the op types
# that must follow the anchor in order, producer op types absorbed into the fusion, source).
FUSED = {
    "Erfc": ("GELU", ("Mul",), ("Neg",), "optimize_patterns"),         # MatchGeluWithErfc
    "Erf": ("GELU", ("AddV2", "Mul"), (), "optimize_patterns"),        # MatchGelu
    "Pow": ("GELU", ("Mul", "AddV2", "Mul", "Tanh"), (), "optimize_patterns"),  # GeluApproximate
    # keras PReLU: relu(x) - alpha * relu(-x)  (optimize_patterns.td, PReLU fusion)
    "Neg": ("PRELU", ("Relu", "Mul", "AddV2"), (), "optimize_patterns"),
    # square(a - b) -> SQUARED_DIFFERENCE (measured: variance, std and distance ops, TF 2.21)
    "Sub": ("SQUARED_DIFFERENCE", ("Square",), (), "corpus"),
}

# Experimental builtins ("not ready for custom models"): ops_compatibility.md.
EXPERIMENTAL_BUILTINS = frozenset({
    "CALL", "CONCAT_EMBEDDINGS", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "HASHTABLE_LOOKUP",
    "LSH_PROJECTION", "SKIP_GRAM", "SVDF", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE"})

# TensorList ops (Keras RNN loops): lowered to builtins only with static element shapes
# (lower_static_tensor_list.cc); otherwise they need Select TF ops.
TENSOR_LIST_OPS = frozenset({
    "TensorListReserve", "TensorListFromTensor", "TensorListGetItem", "TensorListSetItem",
    "TensorListStack", "TensorListLength", "TensorListElementShape", "TensorListPushBack",
    "TensorListPopBack", "EmptyTensorList", "TensorListResize", "TensorListConcatV2"})
