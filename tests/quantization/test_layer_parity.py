"""Keras fake quantization == TFLite int8, layer by layer, after real training steps.

Each case builds a tiny model, quantizes it with calibration, trains two epochs (so biases,
ranges and BatchNormalization statistics move), converts with the real converter and runs the
real interpreter. The int8 model must have no float compute op and agree with the Keras QAT
model to within one output quantization step.
"""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.callbacks import wrappers
from keras_mot.export.convert import to_tflite
from keras_mot.export.inspect import float_compute_ops, op_counts
from tests.conftest import run_tflite

L = keras.layers


def _conv(i):
    return L.Conv2D(8, 3, padding="same")(i)


CASES = {
    "conv": (_conv, "CONV_2D"),
    "conv_bn_relu6": (
        lambda i: L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(8, 3, padding="same", use_bias=False)(i))),
        "CONV_2D",
    ),
    "conv_bn_act_relu": (
        lambda i: L.Activation("relu")(L.BatchNormalization()(L.Conv2D(8, 3, strides=2, padding="same")(i))),
        "CONV_2D",
    ),
    "depthwise_bn_relu6": (
        lambda i: L.ReLU(6.0)(
            L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same", use_bias=False)(i))
        ),
        "DEPTHWISE_CONV_2D",
    ),
    "depthwise_mult2_stride2": (
        lambda i: L.DepthwiseConv2D(3, strides=2, depth_multiplier=2)(L.ZeroPadding2D(((0, 1), (0, 1)))(i)),
        "DEPTHWISE_CONV_2D",
    ),
    "separable": (
        lambda i: L.SeparableConv2D(8, 3, padding="same", activation="relu")(i),
        "DEPTHWISE_CONV_2D",
    ),
    "conv_transpose": (lambda i: L.Conv2DTranspose(4, 3, strides=2, padding="same")(i), "TRANSPOSE_CONV"),
    "add_relu": (lambda i: L.ReLU()(L.Add()([_conv(i), L.Conv2D(8, 1)(i)])), "ADD"),
    "multiply": (lambda i: L.Multiply()([_conv(i), L.Conv2D(8, 1)(i)]), "MUL"),
    "concatenate": (lambda i: L.Concatenate()([_conv(i), L.Conv2D(4, 1)(i)]), "CONCATENATION"),
    "silu": (lambda i: L.Activation("silu")(L.BatchNormalization()(_conv(i))), "LOGISTIC"),
    "hard_silu": (lambda i: L.Activation("hard_silu")(_conv(i)), "HARD_SWISH"),
    "gelu": (lambda i: L.Activation("gelu")(_conv(i)), "GELU"),
    "sigmoid": (lambda i: L.Conv2D(8, 1, activation="sigmoid")(i), "LOGISTIC"),
    "leaky_relu": (lambda i: L.LeakyReLU(0.1)(_conv(i)), "LEAKY_RELU"),
    "hard_sigmoid_ops": (lambda i: L.ReLU(6.0)(_conv(i) + 3.0) * (1.0 / 6.0), "MUL"),
    "rescaling": (lambda i: _conv(L.Rescaling(0.5, offset=-0.25)(i)), "MUL"),
    "normalization": (lambda i: _conv(L.Normalization(mean=[0.5] * 8, variance=[0.2] * 8)(i)), "MUL"),
    "pooling_gap_dense_softmax": (
        lambda i: L.Dense(10, activation="softmax")(L.GlobalAveragePooling2D()(L.MaxPooling2D()(_conv(i)))),
        "SOFTMAX",
    ),
    "flatten_dense": (lambda i: L.Dense(6)(L.Flatten()(L.AveragePooling2D(2)(_conv(i)))), "FULLY_CONNECTED"),
    "upsample_resize": (lambda i: _conv(L.UpSampling2D(interpolation="bilinear")(i)), "RESIZE_BILINEAR"),
}


# Kernels that produce exact half-steps and break ties away from zero in the int8 domain, where
# FakeQuant rounds half up: LEAKY_RELU (alpha = 0.1) and bilinear
# RESIZE (fixed-point weights). Ties differ by one step at the op, at most two downstream.
# (AVERAGE_POOL_2D ties are simulated exactly: see ranges.round_to_grid_away_from_zero.)
TIE_ROUNDING = {"leaky_relu", "upsample_resize"}


def _train_and_convert(build, shape=(8, 8, 8)):
    inp = keras.Input(shape)
    model = keras.Model(inp, build(inp))
    x = np.random.default_rng(0).uniform(-0.5, 1.5, (64,) + shape).astype("float32")
    y = np.asarray(model(x)) * 1.05 + 0.01
    q = mot.quantize(model, calibration_data=x)
    q.compile(keras.optimizers.SGD(0.01), "mse", lint="off")
    q.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return q, x, to_tflite(q, "tflite_int8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_int8_matches_keras_within_one_step(name):
    build, expected_op = CASES[name]
    q, x, tfl = _train_and_convert(build)
    assert float_compute_ops(tfl) == []
    assert expected_op in op_counts(tfl)
    # Compare on inputs already on the input grid: a random float that falls within float
    # rounding of a half step is quantized differently by FakeQuant and the QUANTIZE kernel,
    # and that input-side near-tie is not what this test measures.
    snap = keras.Model(q.inputs, q.get_layer("quantize_input_0").output)
    x = np.asarray(snap(x, training=False))
    keras_out = np.asarray(q(x, training=False))
    tfl_out = run_tflite(tfl, x)
    out_wrapper = [w for w in wrappers(q) if w.quantize_output][-1]
    if out_wrapper._points["output"] is None:
        lo, hi = (float(v.numpy()) for v in out_wrapper._range_vars["output"])
    else:
        lo, hi = 0.0, 1.0
    step = (hi - lo) / 255.0
    diff = np.abs(keras_out - tfl_out)
    steps, off = (2, 0.1) if name in TIE_ROUNDING else (1, 0.002)
    assert diff.max() <= step * steps * 1.01, f"{name}: max diff {diff.max():.5f}, step {step:.5f}"
    assert np.mean(diff > 0.5 * step) < off, f"{name}: too many elements off by a step"
