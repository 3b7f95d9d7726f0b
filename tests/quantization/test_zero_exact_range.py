"""Activation ranges keep zero and their binding extreme on the grid (ranges.zero_exact_range).

Regression for the `x / 127.5 - 1` preprocessing of MobileNetV3 / EfficientNet-style models:
FakeQuant's own nudge shifted [-1, 1] by exactly half a step, so every pixel at 0 or 255 landed
on a rounding tie that the int8 ADD kernel broke the other way (measured: 3069 of 3072 inputs of
one image one step off, and MobileNetV3Small agreement 99.44 % -> 99.81 % once fixed).
"""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.export.convert import to_tflite
from keras_mot.quantization import ranges
from keras_mot.quantization.scheme import QuantSpec
from tests.conftest import run_tflite

INT8 = QuantSpec(bits=8)


@pytest.mark.parametrize(
    "lo,hi",
    [(-1.0, 1.0), (-1.000001, 0.999999), (-0.01, 10.0), (-2.5, 7.3), (-3.0, 0.0), (0.0, 6.0), (-1e-7, 1e-7)],
)
def test_range_contains_input_and_zero_is_a_grid_point(lo, hi):
    a, b = (float(v) for v in ranges.zero_exact_range(lo, hi, INT8))
    scale = (b - a) / 255.0
    assert a <= lo + 1e-6 and b >= hi - 1e-6
    assert abs(-a / scale - round(-a / scale)) < 1e-3
    # never wider than one extra step over the standard range
    assert b - a <= (max(hi, 0) - min(lo, 0)) * (1 + 1 / 127) + 1e-6
    # the binding extreme is a grid point
    assert min(abs(a - min(lo, 0.0)), abs(b - max(hi, 0.0))) < 1e-6


def test_symmetric_unit_range_puts_both_ends_on_the_grid():
    a, b = (float(v) for v in ranges.zero_exact_range(-1.0, 1.0, INT8))
    scale = (b - a) / 255.0
    for v in (-1.0, 1.0):
        steps = (v - a) / scale
        assert abs(steps - round(steps)) < 1e-4


@pytest.mark.parametrize("lo,hi", [(0.0, 255 / 256), (-1.0, 127 / 128)])
def test_tflite_fixed_ranges_are_unchanged(lo, hi):
    a, b = (float(v) for v in ranges.zero_exact_range(lo, hi, INT8))
    assert a == pytest.approx(lo, abs=1e-7) and b == pytest.approx(hi, abs=1e-7)


def test_symmetric_specs_are_unchanged():
    spec = QuantSpec(bits=8, symmetric=True, narrow_range=True)
    assert ranges.zero_exact_range(-0.3, 0.3, spec) == (-0.3, 0.3)


def test_pixel_preprocessing_matches_the_interpreter_exactly():
    """Saturated pixels (0 and 255) through Rescaling(1/127.5, offset=-1): Keras == TFLite."""
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inp)
    out = keras.layers.Conv2D(4, 3, name="conv")(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 8, 8, 3)).astype("float32")
    images[:, :3] = 0.0
    images[:, -2:] = 255.0
    q = mot.quantize(model, calibration_data=images)
    tfl = to_tflite(q, "tflite_int8")
    pre = keras.Model(q.inputs, q.get_layer("rescale").output)
    keras_rescaled = np.asarray(pre(images, training=False))
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tfl, experimental_preserve_all_tensors=True)
    idx = it.get_input_details()[0]["index"]
    it.resize_tensor_input(idx, images.shape)
    it.allocate_tensors()
    it.set_tensor(idx, images)
    it.invoke()
    found = [
        d
        for d in it.get_tensor_details()
        if "rescale" in d["name"].split(";")[0]
        and d["dtype"] == np.int8
        and tuple(d["shape"]) == images.shape
    ]
    assert found, "no int8 rescaling tensor in the converted model"
    d = found[-1]
    scale, zero = d["quantization"]
    tfl_rescaled = (it.get_tensor(d["index"]).astype(np.float32) - zero) * scale
    np.testing.assert_allclose(keras_rescaled, tfl_rescaled, atol=scale * 1e-3)
    np.testing.assert_allclose(
        np.asarray(q(images, training=False)),
        run_tflite(tfl, images),
        atol=float(np.ptp(np.asarray(q(images)))) / 255 * 1.01,
    )


def test_zero_relative_rounding_resolves_near_ties_that_fakequant_loses():
    """Far from the range minimum, FakeQuant's `x - min` costs the last bits; TFLite requantizes
    relative to zero. 2.499996 on a unit grid is 2, as the int8 kernels compute it."""
    x = keras.ops.convert_to_tensor(np.array([2.499996, -7.500004, 40.0], "float32"))
    exact = np.asarray(ranges.fake_quant(x, -200.0, 55.0, INT8, graph_op=False))
    np.testing.assert_array_equal(exact, [2.0, -8.0, 40.0])
    graph = np.asarray(ranges.fake_quant(x, -200.0, 55.0, INT8))  # TensorFlow's FakeQuant op
    assert graph[0] == 3.0  # the near-tie lost in float32: why training does not use it


def test_predict_simulates_kernels_and_plain_calls_keep_the_converter_graph():
    inp = keras.Input((6, 6, 3))
    model = keras.Model(inp, keras.layers.Conv2D(4, 3, name="conv")(inp))
    x = np.random.default_rng(1).normal(size=(16, 6, 6, 3)).astype("float32")
    q = mot.quantize(model, calibration_data=x)
    graph_out = np.asarray(q(x, training=False))
    sim_out = q.predict(x, verbose=0)
    step = float(np.ptp(graph_out)) / 255
    assert np.abs(graph_out - sim_out).max() <= step * 1.01
    tfl = run_tflite(to_tflite(q, "tflite_int8"), x)
    assert np.abs(sim_out - tfl).max() <= step * 1.01
