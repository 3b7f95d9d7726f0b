"""Kernel-exact ops: `predict` reproduces the int8 HARD_SWISH, ADD and MEAN kernels code for code.

HARD_SWISH computes in int16 fixed point and is off the correctly rounded value on a few of the
256 input codes; ADD (XNNPack) rescales with ~21-bit multipliers and MEAN (XNNPack) requantizes
in float32 with the zero point folded into a bias, so both are off near rounding ties.
`PreparedModel.predict` (simulating mode) must give the kernels' codes, checked against the
real interpreter on every int8 input (every pair of inputs for ADD, every sum for MEAN).
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
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.resize_tensor_input(inp["index"], codes.shape)
    it.allocate_tensors()
    it.set_tensor(inp["index"], codes)
    it.invoke()
    return it.get_tensor(out["index"]), inp["quantization"], out["quantization"]


@pytest.mark.parametrize("lo, hi", [(-5.0, 4.0), (-3.2, 7.5), (-1.0, 2.0)])
def test_hard_swish_layer_matches_kernel_on_every_code(lo, hi):
    inp = keras.Input((256,))
    model = keras.Model(inp, keras.layers.Activation("hard_swish")(inp))
    qmodel = mot.quantize(
        model, "tflite_int8", calibration_data=np.linspace(lo, hi, 256, dtype=np.float32)[None]
    )
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


def _add_model(activation):
    a, b = keras.Input((256,), name="a"), keras.Input((256,), name="b")
    y = keras.layers.Add()([a, b])
    if activation:
        y = keras.layers.Activation(activation)(y)
    return keras.Model([a, b], y)


@pytest.mark.parametrize(
    "a_range, b_range, activation",
    [
        ((-3.0, 2.5), (-1.7, 2.2), None),
        ((-2.2, 1.1), (-4.0, 3.3), "relu"),
        ((-1.0, 4.0), (-2.5, 2.0), "relu"),
        ((-2.0, 2.0), (-3.1, 1.9), "relu6"),
    ],
)
def test_add_matches_kernel_on_every_pair_of_codes(a_range, b_range, activation):
    from ai_edge_litert.interpreter import Interpreter

    cal = [
        np.linspace(*a_range, 256, dtype=np.float32)[None],
        np.linspace(*b_range, 256, dtype=np.float32)[None],
    ]
    qmodel = mot.quantize(_add_model(activation), "tflite_int8", calibration_data=[cal])
    tflite = to_tflite(qmodel, "tflite_int8", input_type="int8", output_type="int8")
    it = Interpreter(model_content=tflite)
    ins = sorted(it.get_input_details(), key=lambda d: "quantize_input_1" in d["name"])
    for d in ins:
        it.resize_tensor_input(d["index"], [256, 256])
    it.allocate_tensors()
    ca = np.tile(np.arange(-128, 128, dtype=np.int8), (256, 1))  # every (a, b) code pair
    cb = ca.T.copy()
    for d, c in zip(ins, (ca, cb)):
        it.set_tensor(d["index"], c)
    it.invoke()
    out = it.get_output_details()[0]
    kernel = it.get_tensor(out["index"]).astype(np.float32)
    (sa, za), (sb, zb), (so, zo) = ins[0]["quantization"], ins[1]["quantization"], out["quantization"]

    xa = ((ca.astype(np.float32) - za) * sa).astype(np.float32)
    xb = ((cb.astype(np.float32) - zb) * sb).astype(np.float32)
    simulated = np.round(np.asarray(qmodel.predict([xa, xb], batch_size=256, verbose=0)) / so + zo)
    np.testing.assert_array_equal(simulated, kernel)

    # The kernel is not plain rounding of the exact sum (else this test could not tell).
    exact = (
        (ca.astype(np.int64) - za) * np.float64(sa) + (cb.astype(np.int64) - zb) * np.float64(sb)
    ) / np.float64(so)
    rounded = np.clip(np.round(exact) + zo, -128, 127)
    if activation:
        rounded = np.maximum(rounded, zo)
    if activation == "relu6":
        rounded = np.minimum(rounded, zo + np.floor(6 / so + 0.5))
    assert np.sum(rounded != kernel) >= 1


def _all_sums(n):
    """Every achievable int8 code sum over `n` elements, one row each: (sums, codes[sum, n])."""
    sums = np.arange(-128 * n, 127 * n + 1)
    base = np.floor_divide(sums, n)
    codes = base[:, None] + (np.arange(n)[None, :] < (sums - base * n)[:, None])
    return sums, codes.astype(np.int8)


# Ranges found (keras_mot/quantization/ranges.py grid) where XNNPack's MEAN rounds some sums
# differently from the exact mean: a near-tie that its float32 requantization breaks the other way.
@pytest.mark.parametrize(
    "shape, in_range, out_range",
    [
        ((4, 4, 1), (-1.0007458925247192, 1.237229347229004), (-0.8331668376922607, 0.7376186847686768)),
        ((4, 4, 1), (-2.2572615146636963, 0.9327411651611328), (-1.1028839349746704, 0.7116811275482178)),
        ((7, 7, 1), (-2.3382890224456787, 1.0842971801757812), (-1.3028587102890015, 0.9230025410652161)),
        ((49, 1), (-1.8624011278152466, 3.7552037239074707), (-0.6008392572402954, 3.5590829849243164)),
        ("dynamic", (-1.0007458925247192, 1.237229347229004), (-0.8331668376922607, 0.7376186847686768)),
    ],
)
def test_mean_matches_kernel_on_every_sum(shape, in_range, out_range):
    from keras_mot.callbacks.quantization import wrappers

    dynamic = shape == "dynamic"  # variable image size: the model is built for (None, None, 1)
    shape = (4, 4, 1) if dynamic else shape
    inp = keras.Input((None, None, 1) if dynamic else shape)
    pool = keras.layers.GlobalAveragePooling2D if len(shape) == 3 else keras.layers.GlobalAveragePooling1D
    cal = np.random.default_rng(0).uniform(*in_range, (4,) + shape).astype(np.float32)
    qmodel = mot.quantize(keras.Model(inp, pool(name="gap")(inp)), "tflite_int8", calibration_data=cal)
    for w in wrappers(qmodel):
        lo, hi = out_range if w.layer.name == "gap" else in_range
        for var, value in zip(w._range_vars["output"], (lo, hi)):
            var.assign(value)
    tflite = to_tflite(qmodel, "tflite_int8", input_type="int8", output_type="int8")
    n = int(np.prod(shape))
    sums, codes = _all_sums(n)
    codes = codes.reshape((-1,) + shape)
    kernel, (s_in, z_in), (s_out, z_out) = _interpreter_codes(tflite, codes)
    kernel = kernel.astype(np.float32).ravel()

    x = ((codes.astype(np.float32) - z_in) * s_in).astype(np.float32)
    if dynamic:  # traced with unknown height and width, as a variable-size input pipeline does
        import tensorflow as tf

        from keras_mot.quantization.mode import simulating

        fn = tf.function(qmodel, input_signature=[tf.TensorSpec((None, None, None, 1))])
        with simulating():
            y = fn(x)
    else:
        y = qmodel.predict(x, batch_size=2048, verbose=0)
    simulated = np.round(np.asarray(y).ravel() / s_out + z_out)
    np.testing.assert_array_equal(simulated, kernel)

    # The kernel is not the correctly rounded mean (else this test could not tell).
    exact = (sums - n * z_in) * np.float64(s_in) / n / np.float64(s_out)
    assert np.sum(np.clip(np.round(exact) + z_out, -128, 127) != kernel) >= 1
