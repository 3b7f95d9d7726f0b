"""The arbiter: real TFLite conversions and what they produced.

`float_verdict` converts with builtins only, then with Select TF ops; `int8_verdict` converts with a
representative dataset and `TFLITE_BUILTINS_INT8`, then reads the tensor dtypes of every compute op
in the result (the converter leaves unquantizable ops float without failing,
docs/converter_facts.md §2).
"""

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

# Ops whose float tensors are the model's float boundary or shape metadata, not compute.
_BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE", "SHAPE", "RANK"}
_FLOAT = {np.float32, np.float16, np.float64}


def _converter(model, supported_ops, representative=None):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.target_spec.supported_ops = supported_ops
    if representative is not None:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
    return conv


def float_verdict(model):
    """`("builtins" | "select_tf_ops" | "unconvertible", tflite_bytes or None)`."""
    try:
        return "builtins", _converter(model, [tf.lite.OpsSet.TFLITE_BUILTINS]).convert()
    except Exception:  # noqa: BLE001  (ConverterError and friends)
        pass
    try:
        return "select_tf_ops", _converter(
            model, [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        ).convert()
    except Exception:  # noqa: BLE001
        return "unconvertible", None


def representative(model, int_input=0, n=4, seed=0):
    """A tiny representative dataset generator for `model`'s inputs."""
    rng = np.random.default_rng(seed)

    def gen():
        for _ in range(n):
            sample = []
            for tensor in model.inputs:
                shape = [1] + [d or 1 for d in tensor.shape[1:]]
                if int_input:
                    sample.append(rng.integers(0, int_input, shape).astype(tensor.dtype))
                else:
                    sample.append(rng.normal(size=shape).astype("float32"))
            yield sample

    return gen


def float_compute_ops(tflite_bytes):
    """Names of ops in a converted model that compute on float tensors (QUANTIZE etc. excluded)."""
    interp = Interpreter(model_content=tflite_bytes)
    dtypes = {t["index"]: t["dtype"] for t in interp.get_tensor_details()}
    found = []
    for op in interp._get_ops_details():  # noqa: SLF001  (the only op-list API of the interpreter)
        if op["op_name"] in _BOUNDARY_OPS:
            continue
        tensors = [i for i in list(op["inputs"]) + list(op["outputs"]) if i >= 0]
        if any(dtypes.get(i) in _FLOAT for i in tensors):
            found.append(op["op_name"])
    return found


def op_names(tflite_bytes):
    """Op names (builtins, or `Flex...`/custom names) of a converted model."""
    interp = Interpreter(model_content=tflite_bytes)
    return [op["op_name"] for op in interp._get_ops_details()]  # noqa: SLF001


def int8_verdict(model, int_input=0, dataset=None):
    """`("full_int8" | "float_fallback" | "fails", float compute op names, tflite bytes)`.

    `dataset`: a representative-dataset generator (default: `representative(model, int_input)`).
    """
    conv = _converter(
        model, [tf.lite.OpsSet.TFLITE_BUILTINS_INT8], dataset or representative(model, int_input)
    )
    try:
        data = conv.convert()
    except Exception:  # noqa: BLE001
        return "fails", [], None
    floats = float_compute_ops(data)
    return ("float_fallback" if floats else "full_int8"), floats, data
