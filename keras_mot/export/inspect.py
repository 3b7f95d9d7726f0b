"""Reading a converted `.tflite`: ops, tensor dtypes, float compute ops left in an integer model."""

import numpy as np

from keras_mot.export.interpreter import make_interpreter

# TFLite builtins that do arithmetic on activations. In an integer model, one of these reading
# a float32 tensor is a float island. (QUANTIZE / DEQUANTIZE at the model boundary, shape ops and
# integer index computations are not compute ops.)
COMPUTE_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D",
    "BATCH_MATMUL", "ADD", "SUB", "MUL", "DIV", "MEAN", "SUM", "AVERAGE_POOL_2D", "MAX_POOL_2D",
    "SOFTMAX", "LOGISTIC", "TANH", "HARD_SWISH", "GELU", "RELU", "RELU6", "LEAKY_RELU", "ELU",
    "PRELU", "SQUARED_DIFFERENCE", "RSQRT", "SQRT", "EXP", "LOG", "NEG", "SQUARE", "POW",
    "MAXIMUM", "MINIMUM", "CONCATENATION", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "PAD",
    "REDUCE_MAX", "REDUCE_MIN", "L2_NORMALIZATION", "CUMSUM", "LOG_SOFTMAX",
})


def op_list(tflite_bytes):
    """`[{"op", "inputs": [dtype names], "outputs": [dtype names], "output_names"}]` in order."""
    it, _ = make_interpreter(tflite_bytes)
    result = []
    for d in it._get_ops_details():
        ins = [it._get_tensor_details(i, 0) for i in d["inputs"] if i >= 0]
        outs = [it._get_tensor_details(i, 0) for i in d["outputs"] if i >= 0]
        result.append({
            "op": d["op_name"],
            "inputs": [np.dtype(t["dtype"]).name for t in ins],
            "outputs": [np.dtype(t["dtype"]).name for t in outs],
            "output_names": [t["name"] for t in outs],
        })
    return result


def float_compute_ops(tflite_bytes):
    """Compute ops whose first input is a float tensor (float islands in an integer model)."""
    return [o for o in op_list(tflite_bytes)
            if o["op"] in COMPUTE_OPS and o["inputs"] and o["inputs"][0].startswith("float")]


def op_counts(tflite_bytes):
    """`{op name: count}`."""
    counts = {}
    for o in op_list(tflite_bytes):
        counts[o["op"]] = counts.get(o["op"], 0) + 1
    return counts
