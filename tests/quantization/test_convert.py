"""The int8 conversion engine: I/O types, strip, clear errors."""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.errors import ExportError
from keras_mot.export.convert import to_tflite
from keras_mot.export.inspect import float_compute_ops, op_list
from tests.conftest import run_tflite

L = keras.layers


@pytest.fixture(scope="module")
def qat():
    i = keras.Input((8, 8, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(i)
    x = L.Dense(4)(L.GlobalAveragePooling2D()(x))
    x_cal = np.random.default_rng(0).uniform(0, 1, (32, 8, 8, 3)).astype("float32")
    return mot.quantize(keras.Model(i, x), calibration_data=x_cal), x_cal


@pytest.mark.parametrize("io", ["float32", "int8", "uint8"])
def test_io_types(qat, io):
    q, x = qat
    tfl = to_tflite(q, "tflite_int8", input_type=io, output_type=io)
    ops = op_list(tfl)
    assert float_compute_ops(tfl) == []
    if io == "float32":
        assert ops[0]["op"] == "QUANTIZE" and ops[-1]["op"] == "DEQUANTIZE"
    else:
        assert ops[0]["inputs"][0] == io
    out = run_tflite(tfl, x)
    ref = np.asarray(q(x))
    assert np.mean(out.argmax(1) == ref.argmax(1)) == 1.0


def test_strip_gives_the_same_outputs_and_no_training_state(qat):
    q, x = qat
    stripped = mot.strip(q)
    np.testing.assert_allclose(np.asarray(stripped(x)), np.asarray(q(x)), atol=1e-6)
    assert all(w.frozen for w in stripped.layers if isinstance(w, mot.Wrapper))


def test_float_target_of_a_qat_model_drops_fake_quant(qat):
    q, x = qat
    tfl = to_tflite(q, "tflite")
    assert {o["op"] for o in op_list(tfl)} >= {"CONV_2D", "FULLY_CONNECTED"}
    assert all(o["inputs"][0] == "float32" for o in op_list(tfl))


def test_bad_io_type_and_missing_representative_data_are_clear_errors(qat):
    q, _ = qat
    with pytest.raises(ExportError, match="input_type"):
        to_tflite(q, "tflite_int8", input_type="int4")
    with pytest.raises(ExportError, match="representative_data"):
        to_tflite(q, "tflite_int16x8")
    plain = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    with pytest.raises(ExportError, match="representative_data"):
        to_tflite(plain, "tflite_int8")


def test_ptq_int8_of_a_float_model_with_representative_data():
    plain = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu"), L.Dense(2)])
    data = [np.random.rand(8, 3).astype("float32") for _ in range(4)]
    tfl = to_tflite(plain, "tflite_int8", representative_data=data)
    assert float_compute_ops(tfl) == []
