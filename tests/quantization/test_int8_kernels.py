"""Kernel-exact activations: `predict` reproduces the int8 HARD_SWISH kernel code for code.

The kernel computes hard-swish in int16 fixed point and is off the correctly rounded value on a
few of the 256 input codes; `PreparedModel.predict` (simulating mode) must give the kernel's
codes, checked against the real interpreter on every int8 input.
"""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.export.convert import to_tflite
from tests.conftest import run_tflite_int8


def _interpreter_codes(tflite_bytes, codes):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite_bytes)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(inp["index"], codes)
    it.invoke()
    return it.get_tensor(out["index"]), inp["quantization"], out["quantization"]


@pytest.mark.parametrize("lo, hi", [(-5.0, 4.0), (-3.2, 7.5), (-1.0, 2.0)])
def test_hard_swish_layer_matches_kernel_on_every_code(lo, hi):
    inp = keras.Input((256,))
    model = keras.Model(inp, keras.layers.Activation("hard_swish")(inp))
    qmodel = mot.quantize(model, "tflite_int8",
                          calibration_data=np.linspace(lo, hi, 256, dtype=np.float32)[None])
    tflite = to_tflite(qmodel, "tflite_int8", input_type="int8", output_type="int8")
    codes = np.arange(-128, 128, dtype=np.int8)[None]
    kernel, (s_in, z_in), (s_out, z_out) = _interpreter_codes(tflite, codes)

    x = ((codes.astype(np.float32) - z_in) * s_in).astype(np.float32)
    simulated = np.round(np.asarray(qmodel.predict(x, verbose=0)) / s_out + z_out)
    np.testing.assert_array_equal(simulated, kernel.astype(np.float32))

    # The kernel is not plain rounding (else this test could not tell the emulation apart).
    if (lo, hi) != (-1.0, 2.0):
        xf = x.astype(np.float64)
        rounded = np.clip(np.round(xf * np.clip(xf + 3, 0, 6) / 6 / s_out) + z_out, -128, 127)
        assert np.sum(rounded != kernel) >= 3


def test_conv_with_hard_swish_matches_interpreter():
    """Conv2D + BatchNormalization + hard-swish (one wrapper: pre-activation and output points)."""
    rng = np.random.default_rng(0)
    inp = keras.Input((6, 6, 3))
    y = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.Activation("hard_swish")(y)
    model = keras.Model(inp, y)
    x = rng.uniform(-1, 1, (64, 6, 6, 3)).astype(np.float32)
    qmodel = mot.quantize(model, "tflite_int8", calibration_data=x)
    tflite = to_tflite(qmodel, "tflite_int8", input_type="int8", output_type="int8")

    on_grid, kernel, (s_out, z_out) = run_tflite_int8(tflite, x)
    simulated = np.round(np.asarray(qmodel.predict(on_grid, verbose=0)) / s_out + z_out)
    np.testing.assert_array_equal(simulated, kernel)
