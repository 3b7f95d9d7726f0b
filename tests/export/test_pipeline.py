"""One export pipeline: the plan is made once, the model stripped once, the `.tflite` parsed once
and run by at most one interpreter. Counts real calls (counting wrappers around the real
functions; the converter and interpreter run for real)."""

import collections
import functools

import keras
import numpy as np
import pytest
from tensorflow.lite.python import schema_py_generated as schema

import keras_mot as mot
from keras_mot.export import api as export_api
from keras_mot.export import convert as convert_mod
from keras_mot.export import interpreter as interpreter_mod
from keras_mot.export.convert import to_tflite
from keras_mot.export.plan import export_plan
from keras_mot.export.tflite_model import TfliteModel


def _count(monkeypatch, owner, name, counts, key, when=lambda: True):
    original = getattr(owner, name)

    @functools.wraps(original)
    def counted(*args, **kwargs):
        if when():
            counts[key] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


@pytest.fixture
def counted(monkeypatch):
    """Counters around the real strip, plan, convert, flatbuffer parse and interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    counts = collections.Counter()
    converting = []

    class Counting(Interpreter):
        def __init__(self, **kwargs):
            counts["interpreters"] += 1
            super().__init__(**kwargs)

    monkeypatch.setattr(interpreter_mod, "_litert_class", lambda: Counting)
    _count(monkeypatch, convert_mod, "strip", counts, "strip")
    _count(monkeypatch, export_api, "export_plan", counts, "plan")
    original_convert = convert_mod.convert

    def convert(*args, **kwargs):  # the converter parses its own output: not ours to count
        converting.append(True)
        try:
            return original_convert(*args, **kwargs)
        finally:
            converting.pop()

    monkeypatch.setattr(convert_mod, "convert", convert)  # export imports it at call time
    init = schema.ModelT.__dict__["InitFromObj"].__func__

    def parse(cls, obj):
        if not converting:
            counts["parses"] += 1
        return init(cls, obj)

    monkeypatch.setattr(schema.ModelT, "InitFromObj", classmethod(parse))
    return counts


def test_int8_export_parses_once_and_builds_one_interpreter(tmp_path, qat_model, digits, counted):
    _, _, xv, yv = digits
    result = mot.export(
        qat_model, tmp_path / "int8", target="tflite_int8", representative_data=(xv[:64], yv[:64])
    )
    assert result.ok, result.findings
    assert dict(counted) == {"plan": 1, "strip": 1, "parses": 1, "interpreters": 1}
    assert result.report["runtime"] == "ai_edge_litert"
    assert result.report["plan"]["mode"] == "qat_int8" == result.report["mode"]
    assert result.report["plan"]["supported_ops"] == ["TFLITE_BUILTINS"]


def test_export_without_data_runs_no_interpreter_and_says_so(tmp_path, qat_model, counted):
    result = mot.export(qat_model, tmp_path / "nodata", formats=("tflite",))
    assert counted["interpreters"] == 0 and counted["parses"] == 1 and counted["strip"] == 1
    assert result.report["runtime"] is None and "runtime not run" in result.summary()
    md = (tmp_path / "nodata" / "report.md").read_text()
    assert "Runtime: none ran" in md and "Converter: supported ops TFLITE_BUILTINS" in md


def _tiny(quantize):
    inputs = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    if quantize:
        model = mot.quantize(
            model, "tflite_int8", calibration_data=np.random.rand(16, 6, 6, 2).astype("float32")
        )
    return model


@pytest.mark.parametrize(
    "target, quantize, mode, calibrate, reference",
    [
        ("tflite", False, "float", False, False),
        ("tflite", True, "float", False, True),
        ("tflite_float16", False, "float16", False, False),
        ("tflite_dynamic", False, "dynamic", False, False),
        ("tflite_int8", True, "qat_int8", False, False),
        ("tflite_int8", False, "ptq_int8", True, False),
        ("tflite_int16x8", False, "int16x8", True, False),
    ],
)
def test_export_plan_per_target(target, quantize, mode, calibrate, reference):
    plan = export_plan(_tiny(quantize), target)
    assert (plan.mode, plan.calibrate, plan.float_reference) == (mode, calibrate, reference)
    assert plan.strip == quantize and plan.keep_quantization == (mode == "qat_int8")
    assert plan.supported_ops == (
        ("TFLITE_BUILTINS_INT8",) if mode == "ptq_int8" else plan.target.converter.supported_ops
    )
    assert plan.to_dict()["target"] == target


def test_export_plan_refuses_bad_io():
    model = _tiny(False)
    with pytest.raises(mot.ExportError, match="Unknown input_type.*'int4'"):
        export_plan(model, "tflite_int8", input_type="int4")
    with pytest.raises(mot.ExportError, match="float model.*float32"):
        export_plan(model, "tflite", output_type="int8")
    with pytest.raises(mot.ExportError, match="float32 or int16"):
        export_plan(model, "tflite_int16x8", input_type="int8")
    plan = export_plan(model, "tflite_sparse_fc")
    assert plan.optimizations == ("EXPERIMENTAL_SPARSITY",)  # listed once


def test_tflite_model_agrees_with_the_interpreter():
    model = _tiny(True)
    tflite = to_tflite(model, "tflite_int8", input_type="int8", output_type="int8")
    parsed = TfliteModel(tflite)
    it, _ = interpreter_mod.make_interpreter(tflite)
    assert [op.name for op in parsed.ops] == [o["op_name"] for o in it._get_ops_details()]
    for detail in it.get_tensor_details():
        tensor = parsed.tensors[detail["index"]]
        assert tensor.name == detail["name"]
        assert tensor.dtype == np.dtype(detail["dtype"]).name
        assert tensor.shape == tuple(detail["shape"])
        np.testing.assert_allclose(tensor.scale, detail["quantization_parameters"]["scales"])
    assert list(parsed.inputs) == [d["index"] for d in it.get_input_details()]
    out = it.get_output_details()[0]
    assert parsed.output_steps() == [pytest.approx(out["quantization"][0])]
    assert parsed.tensors[parsed.inputs[0]].dtype == "int8"
    conv = next(op for op in parsed.ops if op.name == "CONV_2D")
    weight = parsed.tensors[conv.inputs[1]]
    assert weight.data is not None and weight.data.dtype == np.int8
    assert weight.data.size == int(np.prod(weight.shape)) and len(weight.scale) == 4
    assert parsed.producer[conv.outputs[0]] == conv.index and not conv.custom
    assert TfliteModel.of(parsed) is parsed
