"""Shared test set-up: quiet TensorFlow, deterministic seeds, small helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


def run_tflite(tflite_bytes, x):
    """Runs a .tflite on a float batch (quantizing/dequantizing int I/O); returns float output."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite_bytes)
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], x.shape)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    if inp["dtype"] != np.float32:
        s, z = inp["quantization"]
        x = np.clip(np.round(x / s) + z, np.iinfo(inp["dtype"]).min, np.iinfo(inp["dtype"]).max).astype(
            inp["dtype"]
        )
    it.set_tensor(inp["index"], x)
    it.invoke()
    out = it.get_output_details()[0]
    y = it.get_tensor(out["index"])
    if out["dtype"] != np.float32:
        s, z = out["quantization"]
        y = (y.astype(np.float32) - z) * s
    return y


def run_tflite_int8(tflite_bytes, x):
    """Runs an int8-I/O .tflite (default resolver, XNNPack) on float `x` quantized to its input.

    Returns `(on_grid, codes, (s_out, z_out))`: `x` snapped to the input grid (float32, what the
    Keras model should see), the interpreter's int8 output codes as float32, and the output's
    quantization parameters.
    """
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite_bytes)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(i["index"], x.shape)
    it.allocate_tensors()
    (s_in, z_in), out_q = i["quantization"], o["quantization"]
    codes = np.clip(np.round(x / s_in) + z_in, -128, 127).astype(np.int8)
    it.set_tensor(i["index"], codes)
    it.invoke()
    on_grid = ((codes.astype(np.float32) - z_in) * s_in).astype(np.float32)
    return on_grid, it.get_tensor(o["index"]).astype(np.float32), out_q
