"""`mot.lint(model, "tf_serving")`: which weights compute on codes, which dequantize, which stay float."""

import keras

import keras_mot as mot


def _model():
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(16, 3, padding="same")(inputs)
    h = keras.layers.SeparableConv2D(8, 3)(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(4)(h))


def _codes(report):
    return {(f.code, f.layer) for f in report.findings if f.code.startswith("serving")}


def test_float_model_lint_names_dequantized_weights():
    report = mot.lint(_model(), "tf_serving")
    codes = {(c, layer.split("/")[-1]) for c, layer in _codes(report)}
    assert codes == {
        ("serving-dequantizes", "depthwise_kernel"),
        ("serving-dequantizes", "pointwise_kernel"),
        ("serving-on-codes", ""),
    }
    (summary,) = [f for f in report.findings if f.code == "serving-on-codes"]
    assert summary.message.startswith("2 of 4")


def test_int4_prepared_model_dequantizes_convolutions_not_the_dense():
    qmodel = mot.quantize(_model(), target="tf_serving", scheme="int4_weight_only")
    report = mot.lint(qmodel, "tf_serving")
    dequantized = sorted(layer for c, layer in _codes(report) if c == "serving-dequantizes")
    assert [layer.split("/")[-1] for layer in dequantized] == [
        "kernel",
        "depthwise_kernel",
        "pointwise_kernel",
    ]
    assert dequantized[0].startswith("conv2d")  # the int4 Dense computes on its codes
    (summary,) = [f for f in report.findings if f.code == "serving-on-codes"]
    assert summary.message.startswith("1 of 4")
