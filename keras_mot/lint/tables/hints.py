"""Concrete fixes for TF ops that commonly block a conversion, keyed by TF op type.

Facts from docs/converter_facts.md §7 (TF 2.21 converter corpus) and the Keras 3 sources named
per entry.
`HINTS[tf_op] = (code, why, fix)`; `why` completes the sentence "<layer> emits <op>: ...".
"""

_RNN_FIX = ("pass unroll=True to the recurrent layer (short sequences), or build the model with a "
            "fixed batch size (keras.Input(..., batch_size=1))")
_TL_WHY = ("a Keras 3 RNN with a dynamic batch lowers to TensorList ops that need Select TF ops "
           "(lower_static_tensor_list.cc needs static element shapes)")

HINTS = {
    **{op: ("rnn-tensorlist", _TL_WHY, _RNN_FIX) for op in (
        "TensorListReserve", "TensorListFromTensor", "TensorListGetItem", "TensorListSetItem",
        "TensorListStack", "TensorListLength", "TensorListElementShape", "EmptyTensorList")},
    "BitwiseAnd": ("argmax-nan", "keras.ops.argmax (TF backend) adds NaN handling through "
                   "Bitcast/BitwiseAnd, and BitwiseAnd has no builtin",
                   "call tf.math.argmax in a custom layer (ARG_MAX builtin), or compute the "
                   "argmax outside the model"),
    "Erf": ("erf", "Erf has no builtin unless it is part of the GELU pattern",
            "use keras.activations.gelu, or approximate erf with tanh"),
    "Erfinv": ("erfinv", "Erfinv has no builtin and is not on the Flex allowlist",
               "remove keras.ops.erfinv from the inference graph or precompute it"),
    "ResizeBicubic": ("resize-bicubic", "bicubic resizing has no builtin",
                      "use interpolation='bilinear' or 'nearest'"),
    "MaxPool3D": ("pool3d", "3-D pooling has no builtin", "reshape to 2-D pooling"),
    "AvgPool3D": ("pool3d", "3-D pooling has no builtin", "reshape to 2-D pooling"),
    "Cumprod": ("cumprod", "Cumprod has no builtin",
                "use keras.ops.exp(keras.ops.cumsum(keras.ops.log(x))) for positive x"),
    "Svd": ("svd", "SVD has no builtin and is not on the Flex allowlist",
            "move the decomposition out of the model"),
    "LowerBound": ("searchsorted", "searchsorted has no builtin and is not on the Flex allowlist",
                   "use a comparison and a sum (keras.ops.sum(x[..., None] > bins, -1))"),
    "UpperBound": ("searchsorted", "searchsorted has no builtin",
                   "use a comparison and a sum (keras.ops.sum(x[..., None] >= bins, -1))"),
    "StatelessRandomUniformV2": ("random", "keras.random with a SeedGenerator needs Flex",
                                 "remove random ops from the inference graph (training=False)"),
    "StatelessRandomNormalV2": ("random", "keras.random with a SeedGenerator needs Flex",
                                "remove random ops from the inference graph (training=False)"),
    "PyFunc": ("py-function", "Python functions cannot be converted",
               "rewrite the function with keras.ops"),
    "EagerPyFunc": ("py-function", "Python functions cannot be converted",
                    "rewrite the function with keras.ops"),
}

# Fixes for builtins that stay float in a full-integer model (docs/converter_facts.md §7).
FLOAT_FALLBACK_FIXES = {
    "NEG": "LayerNormalization/GroupNormalization and sort emit NEG, which has no int8 kernel; "
           "accept the float island, or use BatchNormalization (folds into the conv)",
    "SQUARE": "write x * x (MUL has int8 kernels) or use LayerNormalization's rms_scaling=False",
    "ELU": "use ReLU, LeakyReLU or hard_silu (int8 kernels)",
    "CUMSUM": "compute the cumulative sum outside the model, or accept a float island",
    "ROUND": "drop the rounding from the inference graph",
    "CONV_3D": "use Conv2D on reshaped inputs (CONV_3D has no int8 kernel)",
    "CONV_3D_TRANSPOSE": "use Conv2DTranspose on reshaped inputs",
    "POW": "use MUL for integer powers",
    "WHILE": "unroll the loop (a Python loop over keras.ops, or RNN unroll=True) so its body is "
             "quantized, or accept a float island",
    "IF": "compute both branches and select with keras.ops.where (SELECT_V2 has int8 kernels)",
    "NOT_EQUAL": "compare with keras.ops.equal and logical_not (EQUAL takes int8), or accept a "
                 "float comparison",
    "HASHTABLE_FIND": "run StringLookup/IntegerLookup in the input pipeline and feed token ids "
                      "to the integer model",
    "ZEROS_LIKE": "use a constant zero tensor of the static shape",
}
