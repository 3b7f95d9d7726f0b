"""`mot.export(..., target="tf_serving")`: integer weight variables, a Keras-free reload, sizes."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.errors import ExportError
from keras_mot.export.tf_serving import saved_variables

# `import tensorflow` (2.21) imports the Keras package when it is installed (tf.keras lazy
# loader, eager `keras.src.optimizers` import); the subprocess hides Keras, KerasHub and keras_mot
# from the import system, as in an environment where they are not installed.
_LOAD_WITHOUT_KERAS = """
import json, sys
from importlib.machinery import PathFinder

class _WithoutKeras:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in ("keras", "keras_mot", "keras_hub", "tf_keras"):
            return None
        return PathFinder.find_spec(name, path, target)

sys.meta_path[:] = [_WithoutKeras if f is PathFinder else f for f in sys.meta_path]
import numpy as np
import tensorflow as tf
path, x = sys.argv[1], np.load(sys.argv[2])
fn = tf.saved_model.load(path).signatures["serving_default"]
name = list(fn.structured_input_signature[1])[0]
y = fn(**{name: tf.constant(x)})["output_0"].numpy()
print(json.dumps({"keras": [m for m in sys.modules if m.split(".")[0] in
                            ("keras", "keras_mot", "keras_hub", "tf_keras")], "y": y.tolist()}))
"""


def _mlp(width=256):
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="mlp",
    )


def _float_saved_model_size(model, path):
    from keras_mot.export.saved_model import write_saved_model

    return write_saved_model(model, path)


@pytest.mark.parametrize("scheme,limit", [("int8_weight_only", 0.27), ("int4_weight_only", 0.15)])
def test_export_stores_integer_weights_and_loads_without_keras(tmp_path, scheme, limit):
    model = _mlp()
    x = np.random.default_rng(0).normal(size=(64, 64)).astype("float32")
    y = np.random.default_rng(1).integers(0, 10, 64)
    qmodel = mot.quantize(model, target="tf_serving", scheme=scheme)
    result = mot.export(qmodel, tmp_path / "out", representative_data=(x, y))
    assert result.ok and result.parity.ok and result.parity.agreement == 1.0
    assert result.parity.relative_diff < 1e-5
    sm = os.path.join(result.directory, "saved_model")
    variables = saved_variables(sm)
    kernels = [k for k in qmodel.weights if len(k.shape) == 2]
    ints = [v for v in variables if v[1] == "int8"]
    floats = [v for v in variables if v[1] == "float32"]
    assert len(ints) == len(kernels) == 3
    # no float copy of a kernel: float variables are scales and biases only
    float_elems = sum(int(np.prod(s)) for _, _, s in floats)
    assert float_elems < 0.05 * sum(int(np.prod(k.shape)) for k in kernels)
    # Keras' float SavedModel (model.export) stores every variable twice (`variables` and
    # `_all_variables`): the ratio to it is met with room; the stored variables are also held to
    # the limit against the float32 weight bytes themselves.
    float_size = _float_saved_model_size(model, str(tmp_path / "float_sm"))
    assert result.sizes["saved_model"]["raw"] <= limit * float_size
    assert result.sizes["stored_ratio_to_float32_weights"] <= limit
    report = json.load(open(os.path.join(result.directory, "report.json")))
    assert report["latency"]["batch_32_ms"] > 0 and report["stored_weights"]
    # a fresh process that imports only TensorFlow serves it and never imports Keras
    np.save(tmp_path / "x.npy", x[:4])
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_WITHOUT_KERAS, sm, str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["keras"] == []
    np.testing.assert_allclose(out["y"], qmodel.predict(x[:4], verbose=0), rtol=1e-5, atol=1e-5)
    cli = subprocess.run(
        ["saved_model_cli", "show", "--dir", sm, "--all"], capture_output=True, text=True, timeout=300
    )
    assert cli.returncode == 0 and "serving_default" in cli.stdout and "output_0" in cli.stdout


def test_float_model_is_quantized_post_training_bf16_and_conv(tmp_path):
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.DepthwiseConv2D(3, padding="same")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(4)(h))
    x = np.random.default_rng(0).normal(size=(32, 8, 8, 3)).astype("float32")
    result = mot.export(model, tmp_path / "ptq", target="tf_serving", representative_data=x)
    assert result.ok and any("Post-training" in n for n in result.report["notes"])
    qmodel = mot.quantize(model, target="tf_serving", scheme="int8_weight_only_bf16")
    result = mot.export(qmodel, tmp_path / "bf16", representative_data=x)
    assert result.report["compute_dtype"] == "bfloat16"
    assert result.ok and 0 < result.parity.relative_diff < 5e-2


def test_full_integer_model_is_refused(tmp_path):
    model = _mlp(16)
    qmodel = mot.quantize(model, target="tflite_int8")
    with pytest.raises(ExportError, match="full-integer"):
        mot.export(qmodel, tmp_path / "out", target="tf_serving")
    assert not os.path.exists(tmp_path / "out")


def test_weight_only_qat_exports_its_grid_to_tflite_dynamic_range(tmp_path):
    """TFLite's dynamic-range quantization stores FULLY_CONNECTED weights per channel; weights
    trained on the int8 weight-only grid are stored with exactly their trained codes."""
    from keras_mot.quantization.weight_only import get_scheme, quantize_matrix

    model = _mlp(32)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(128, 64)).astype("float32"), rng.integers(0, 10, 128)
    qmodel = mot.quantize(model, target="tf_serving")
    _, stored = train_and_export_tflite_dynamic(qmodel, x, y, tmp_path)
    baked = mot.strip(qmodel)
    # the converter leaves weights under 1024 elements float (the 32 x 10 head here)
    big = [
        layer for layer in baked.layers if hasattr(layer, "kernel") and np.prod(layer.kernel.shape) >= 1024
    ]
    assert len(big) == 2 and len(stored) == 2
    for layer in big:
        codes, _ = quantize_matrix(np.asarray(layer.kernel), get_scheme("int8_weight_only"))
        np.testing.assert_array_equal(stored[codes.T.shape], codes.T)  # (out, in) layout


def train_and_export_tflite_dynamic(qmodel, x, y, tmp_path):
    """One epoch of training, then TFLite dynamic range: `(interpreter, {shape: stored int8})`."""
    from keras_mot.export.interpreter import make_interpreter

    qmodel.compile("adam", keras.losses.SparseCategoricalCrossentropy(True), lint="off")
    qmodel.fit(x, y, epochs=1, verbose=0)
    result = mot.export(
        qmodel,
        tmp_path / "dyn",
        target="tflite_dynamic",
        representative_data=(x, y),
        formats=("tflite",),
        plot=False,
    )
    assert result.ok
    interpreter = make_interpreter(open(result.tflite_path, "rb").read())[0]
    stored = {
        tuple(d["shape"]): interpreter.get_tensor(d["index"])
        for d in interpreter.get_tensor_details()
        if "int8" in str(d["dtype"])
    }
    return interpreter, stored
