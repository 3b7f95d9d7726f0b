"""Unit tests of the lint: attribution, targets, reports, strict mode, CLI, lint_tflite."""

import argparse
import io
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import keras_mot as mot
from keras_mot.errors import KerasMotError
from keras_mot.lint import cli as lint_cli
from keras_mot.lint import lint, lint_tflite
from keras_mot.lint.trace import trace_model
from tests.lint import converter


def _ln_model():
    inp = keras.Input((6, 4), name="seq")
    x = layers.Dense(4, name="fc")(inp)
    x = layers.LayerNormalization(name="ln")(x)
    return keras.Model(inp, x, name="ln_model")


def test_trace_restores_layer_call_and_attributes_nested_layers():
    original = keras.layers.Layer.__call__
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="d")], name="encoder")
    inp = keras.Input((4,))
    model = keras.Model(inp, layers.Dense(2, name="head")(inner(inp)), name="outer")
    trace = trace_model(model)
    assert keras.layers.Layer.__call__ is original
    by_layer = {}
    for op in trace.ops:
        by_layer.setdefault(op.layer, set()).add(op.type)
    assert "MatMul" in by_layer["encoder/d"] and "MatMul" in by_layer["head"]
    assert trace.layer_classes["encoder/d"] == "Dense"


def test_trace_restores_layer_call_when_tracing_raises():
    original = keras.layers.Layer.__call__

    class Broken(layers.Layer):
        def call(self, x):
            raise RuntimeError("boom")

    inp = keras.Input((4,))
    model = keras.Model(inp, layers.Dense(2)(inp))
    model.layers[-1].call = Broken().call
    with pytest.raises(Exception):  # whatever the layer raises propagates
        trace_model(model)
    assert keras.layers.Layer.__call__ is original


def test_int8_float_fallback_names_layer_and_fix():
    report = lint(_ln_model(), "tflite_int8")
    assert report.verdict == "float_fallback"
    (finding,) = [f for f in report.findings if f.code == "float-fallback"]
    assert finding.layer == "ln" and finding.op == "Neg" and "NEG" in finding.message
    assert finding.fix


def test_int16x8_layernorm_is_full_after_keras_mot_rewrites(tmp_path):
    """TF's converter alone rejects NEG in 16x8; keras_mot's export writes it as MUL by -1 and
    the lint says so: full 16x8 in the lint <=> no float op in the export."""
    model = _ln_model()
    assert lint(model, "tflite_int16x8").verdict == "full_int8"
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = converter.representative(model)
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    ]
    with pytest.raises(Exception, match="NEG"):
        conv.convert()
    x = np.random.default_rng(0).normal(size=(32, 6, 4)).astype("float32")
    result = mot.export(
        model, str(tmp_path / "ln"), target="tflite_int16x8", representative_data=x, formats=("tflite",)
    )
    assert result.float_compute_ops == [] and result.parity.ok


def test_int16x8_op_without_kernel_is_a_float_fallback_warning(tmp_path):
    inp = keras.Input((8,))
    model = keras.Model(inp, layers.Activation("elu", name="hs")(layers.Dense(4)(inp)))
    report = lint(model, "tflite_int16x8")
    assert report.verdict == "float_fallback"
    (finding,) = [f for f in report.findings if f.code == "float-fallback"]
    assert finding.layer == "hs" and "no 16x8 kernel" in finding.message
    named = finding.message.split(" becomes ")[1].split(",")[0]
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    result = mot.export(
        model, str(tmp_path / "hs"), target="tflite_int16x8", representative_data=x, formats=("tflite",)
    )
    assert [op["op"] for op in result.float_compute_ops] == [named]


def test_int16x8_full_for_dense_relu():
    inp = keras.Input((8,))
    model = keras.Model(inp, layers.Dense(4, activation="relu")(inp))
    assert lint(model, "tflite_int16x8").verdict == "full_int8"


def test_select_target_reports_flex_ops_as_warnings():
    inp = keras.Input((5, 3))
    model = keras.Model(inp, layers.LSTM(4, name="encoder")(inp))
    report = lint(model, "tflite_select")
    assert report.verdict == "select_tf_ops" and report.ok
    assert {f.op for f in report.warnings} >= {"TensorListReserve"}
    strict_report = lint(model, "tflite")
    assert any("unroll=True" in f.fix and f.layer == "encoder" for f in strict_report.errors)


def test_static_batch_or_explicit_batch_size_lowers_tensor_lists():
    inp = keras.Input((5, 3))
    model = keras.Model(inp, layers.GRU(4)(inp))
    assert lint(model, "tflite", batch_size=1).verdict == "builtins"
    assert lint(model, "tflite_int8", batch_size=1).verdict == "fails"  # WHILE calibration


def test_strict_raises_with_layer_and_table():
    inp = keras.Input((4,))

    class Erf(layers.Layer):
        def call(self, x):
            return keras.ops.erf(x)

    model = keras.Model(inp, Erf(name="my_erf")(inp))
    with pytest.raises(KerasMotError, match="my_erf"):
        lint(model, "tflite", strict=True)


def test_xnnpack_flags_undelegated_ops():
    inp = keras.Input((6,))
    model = keras.Model(inp, keras.layers.Lambda(lambda x: keras.ops.cumsum(x, 1), name="cs")(inp))
    report = lint(model, "xnnpack")
    assert report.verdict == "builtins"
    assert [f.op for f in report.findings if f.code == "not-delegated"] == ["Cumsum"]
    assert not [f for f in lint(_ln_model(), "xnnpack").findings if f.code == "not-delegated"]


def test_fake_quant_ops_are_info_for_int8():
    inp = keras.Input((4,))

    class FakeQuant(layers.Layer):
        def call(self, x):
            return tf.quantization.fake_quant_with_min_max_vars(x, -1.0, 1.0)

    model = keras.Model(inp, layers.Dense(2)(FakeQuant(name="fq")(inp)))
    report = lint(model, "tflite_int8")
    assert report.verdict == "full_int8"
    assert any(f.layer == "fq" and f.severity == "info" for f in report.findings)


def test_report_json_and_table():
    report = lint(_ln_model(), "tflite_int8")
    data = json.loads(report.to_json())
    assert data["verdict"] == "float_fallback" and data["findings"]
    assert "ln" in report.format_table()


def test_unknown_target_and_unbuilt_model_errors():
    with pytest.raises(KerasMotError, match="Unknown deployment target"):
        lint(_ln_model(), "tflite_in8")
    with pytest.raises(KerasMotError, match="built model"):
        lint(keras.Sequential([layers.Dense(2)]), "tflite")


def test_lint_tflite_names_layer_of_float_island():
    model = _ln_model()
    verdict, floats, data = converter.int8_verdict(model)
    report = lint_tflite(data, "tflite_int8", model=model)
    assert verdict == report.verdict == "float_fallback"
    assert [(f.layer, f.op) for f in report.findings if f.code == "float-fallback"] == [("ln", "NEG")]


def test_cli_lint_on_saved_model(tmp_path):
    path = str(tmp_path / "m.keras")
    _ln_model().save(path)
    parser = argparse.ArgumentParser(prog="keras-mot")
    lint_cli.add_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    args = parser.parse_args(["lint", path, "--target", "tflite_int8", "--json"])
    assert args.func(args, out=out) == 0
    assert json.loads(out.getvalue())["verdict"] == "float_fallback"
    args = parser.parse_args(["lint", path, "--target", "tflite_int8", "--strict"])
    assert args.func(args, out=io.StringIO()) == 1
    args = parser.parse_args(["lint", str(tmp_path / "missing.keras")])
    assert args.func(args, out=io.StringIO()) == 2


def test_cli_exit_code_on_errors(tmp_path):
    inp = keras.Input((5, 3))
    path = str(tmp_path / "lstm.keras")
    keras.Model(inp, layers.LSTM(2)(inp)).save(path)
    parser = argparse.ArgumentParser()
    lint_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["lint", path])
    assert args.func(args, out=io.StringIO()) == 1


def test_qat_model_fake_quant_is_consumed_and_verdict_matches_converter():
    mot = pytest.importorskip("keras_mot")
    if not hasattr(mot, "quantize"):
        pytest.skip("keras_mot.quantize is not wired yet")
    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inp, layers.Dense(3, name="head")(x))
    qat = mot.quantize(model, target="tflite_int8")
    report = lint(qat, "tflite_int8")
    verdict, floats, _ = converter.int8_verdict(qat)
    assert report.verdict == verdict == "full_int8", (report.format_table(), floats)
    assert any(f.op.startswith("FakeQuant") and f.severity == "info" for f in report.findings)
    assert lint(qat, "tflite").verdict == converter.float_verdict(qat)[0] == "builtins"


def test_layer_that_cannot_be_traced_is_a_finding_not_a_crash():
    inp = keras.Input((None, 4), name="seq")
    out = keras.layers.AdaptiveAveragePooling1D(2, name="adaptive")(inp)
    model = keras.Model(inp, out, name="untraceable")
    report = lint(model, "tflite")
    assert report.verdict == "unconvertible"
    (finding,) = report.errors
    assert finding.code == "trace-failed" and finding.layer == "adaptive" and finding.fix
    assert lint(model, "tflite_int8").verdict == "fails"
    with pytest.raises(KerasMotError, match="adaptive"):
        lint(model, "tflite", strict=True)


def test_dead_ops_are_not_reported():
    # Augmentation layers draw random numbers and update their seed even at inference; the
    # converter drops those ops because no output uses them.
    inp = keras.Input((8, 8, 3))
    out = keras.layers.RandomGrayscale(name="gray")(inp)
    report = lint(keras.Model(inp, out), "tflite_int8")
    assert report.verdict == "full_int8", report.format_table()


def test_loop_over_tensorlists_fails_integer_conversion_and_plain_loop_falls_back():
    from keras import ops

    class Loop(keras.layers.Layer):
        def __init__(self, fn, **kwargs):
            super().__init__(**kwargs)
            self.fn = fn

        def call(self, x):
            return self.fn(x)

    inp = keras.Input((6, 4))
    mapped = keras.Model(inp, Loop(lambda x: ops.map(lambda r: r * 2.0, x), name="m")(inp))
    report = lint(mapped, "tflite_int8")
    assert report.verdict == "fails"
    assert any(f.code == "integer-fails" and f.layer == "m" for f in report.errors)
    looped = keras.Model(inp, Loop(lambda x: ops.fori_loop(0, 3, lambda i, v: v * 1.5, x), name="loop")(inp))
    report = lint(looped, "tflite_int8")
    assert report.verdict == "float_fallback"
    assert any(f.code == "float-fallback" and f.op == "StatelessWhile" for f in report.findings)
