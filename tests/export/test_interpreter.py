"""One interpreter factory: LiteRT by default, tf.lite.Interpreter only as a reported fallback."""

import logging

import keras
import numpy as np
import pytest

from keras_mot.export import interpreter as interpreter_mod
from keras_mot.export.convert import to_tflite
from keras_mot.export.inspect import op_list
from keras_mot.export.runtime import Runner, latency_ms
from keras_mot.garden.results import format_table
from keras_mot.lint.tflite_check import lint_tflite


@pytest.fixture(scope="module")
def tflite_bytes():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs), name="tiny")
    return to_tflite(model, "tflite")


def test_litert_is_the_runtime(tflite_bytes):
    from ai_edge_litert.interpreter import Interpreter

    it, runtime = interpreter_mod.make_interpreter(tflite_bytes, num_threads=1)
    assert isinstance(it, Interpreter) and runtime == "ai_edge_litert"
    assert interpreter_mod.runtime_name() == "ai_edge_litert"
    assert Runner(tflite_bytes).runtime == "ai_edge_litert"


def test_readers_parse_and_only_runners_build_interpreters_through_the_factory(tflite_bytes, monkeypatch):
    from ai_edge_litert.interpreter import Interpreter

    built = []

    class Counting(Interpreter):
        def __init__(self, **kwargs):
            built.append(kwargs.get("num_threads"))
            super().__init__(**kwargs)

    monkeypatch.setattr(interpreter_mod, "_litert_class", lambda: Counting)
    op_list(tflite_bytes)  # the parsed flatbuffer, no interpreter
    lint_tflite(tflite_bytes, "tflite")
    assert built == []
    runner = Runner(tflite_bytes, num_threads=1)
    runner.run([np.zeros((2, 4), np.float32)])
    assert latency_ms(runner, [np.zeros((1, 4), np.float32)], runs=2, warmup=1) > 0
    assert built == [1]  # timing reused the runner's interpreter


def test_fallback_is_tf_lite_and_is_reported(tflite_bytes, monkeypatch, caplog):
    import tensorflow as tf

    monkeypatch.setattr(interpreter_mod, "_litert_class", lambda: None)
    monkeypatch.setattr(interpreter_mod, "_warned", [])
    with caplog.at_level(logging.WARNING, logger="keras_mot"):
        it, runtime = interpreter_mod.make_interpreter(tflite_bytes)
        runner = Runner(tflite_bytes)
    assert isinstance(it, tf.lite.Interpreter) and runtime == "tf.lite"
    assert runner.runtime == "tf.lite"
    warnings = [r for r in caplog.records if "ai-edge-litert is not installed" in r.getMessage()]
    assert len(warnings) == 1  # once per process, not per interpreter
    assert interpreter_mod.runtime_name() == "tf.lite"
    assert "fallback" in interpreter_mod.runtime_label()
    y = runner.run([np.ones((3, 4), np.float32)])[0]
    assert y.shape == (3, 3)


def test_results_table_names_the_runtime():
    data = {
        "name": "m",
        "mode": "qat",
        "target": "tflite_int8",
        "data": "digits",
        "validation_examples": 1,
        "rows": [],
        "runtime": "ai_edge_litert",
    }
    assert "latency: LiteRT interpreter (ai_edge_litert)" in format_table(data)
    data["runtime"] = "tf.lite"
    assert "tf.lite.Interpreter (fallback" in format_table(data)
