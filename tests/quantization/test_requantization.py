"""Kernel-exact requantization: int8 conv / depthwise / dense outputs equal XNNPack's code for code.

XNNPack (TFLite's default CPU delegate) requantizes the int32 accumulator with one float32
multiplier per channel (`float32(s_in * s_w) / s_out`) and rounds half to even. In `simulating()`
mode the wrapper does the same (quantization/integer_domain.py). Rounding `y / s_out` instead, or
the exact real product, puts a few near-tie outputs per million one step off; on 1-4 million
outputs per case these tests see them.
"""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.export.convert import to_tflite
from keras_mot.quantization.mode import simulating
from tests.conftest import run_tflite_int8


def _conv():
    inp = keras.Input((32, 32, 3))
    y = keras.layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False)(inp)
    y = keras.layers.BatchNormalization()(y)
    return keras.Model(inp, keras.layers.ReLU()(y)), (64, 32, 32, 3)


def _depthwise():
    inp = keras.Input((32, 32, 64))
    y = keras.layers.DepthwiseConv2D(3, padding="same")(inp)
    return keras.Model(inp, keras.layers.ReLU(6.0)(y)), (64, 32, 32, 64)


def _dense():
    inp = keras.Input((512,))
    return keras.Model(inp, keras.layers.Dense(1024)(inp)), (2048, 512)


@pytest.mark.parametrize("make", [_conv, _depthwise, _dense], ids=["conv", "depthwise", "dense"])
def test_requantized_outputs_equal_xnnpack(make):
    model, shape = make()
    rng = np.random.default_rng(0)
    for w in model.weights:  # weights and BN statistics far from their defaults
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 2.0, w.shape))
        else:
            w.assign(rng.normal(0, 0.3, w.shape))
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    qmodel = mot.quantize(model, "tflite_int8", calibration_data=x[:32])
    tflite = to_tflite(qmodel, "tflite_int8", input_type="int8", output_type="int8")

    on_grid, kernel, (s_out, z_out) = run_tflite_int8(tflite, x)  # XNNPack delegate
    with simulating():
        simulated = np.asarray(qmodel(on_grid, training=False))
    simulated = np.round(simulated / s_out + z_out)
    assert np.sum(simulated != kernel) == 0, (
        f"{int(np.sum(simulated != kernel))} of {kernel.size} codes differ from XNNPack"
    )
