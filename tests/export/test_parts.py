"""Pure parts of export: data collection, parity arithmetic, atomic directories, layer stats."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mot as mot
from keras_mot.export.atomic import AtomicDirectory
from keras_mot.export.data import collect
from keras_mot.export.layer_stats import layer_stats, overall_sparsity
from keras_mot.export.verify import compare


def _model(n_inputs=1):
    ins = [keras.Input((4,), name=f"in{i}") for i in range(n_inputs)]
    x = ins[0] if n_inputs == 1 else keras.layers.Concatenate()(ins)
    return keras.Model(ins if n_inputs > 1 else ins[0], keras.layers.Dense(3)(x))


def test_collect_forms():
    m = _model()
    x, y = np.ones((10, 4), "float64"), np.arange(10)
    ex = collect(x, m)
    assert len(ex) == 10 and ex.labels is None and ex.inputs[0].dtype == np.float32
    ex = collect((x, y), m, max_examples=7)
    assert len(ex) == 7 and list(ex.labels) == list(range(7))
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(3)
    ex = collect(ds, m)
    assert len(ex) == 10 and list(ex.labels) == list(range(10))
    assert len(collect(ds, m, max_examples=4)) == 4


def test_collect_multi_input_and_errors():
    m = _model(2)
    x0, x1 = np.zeros((5, 4)), np.ones((5, 4))
    ex = collect(({"in1": x1, "in0": x0}, np.arange(5)), m)
    assert ex.inputs[0].sum() == 0 and ex.inputs[1].sum() == 20 and len(ex.labels) == 5
    with pytest.raises(mot.ExportError, match="in1"):
        collect([{"in0": x0}], m)
    with pytest.raises(mot.ExportError, match="shape"):
        collect(np.zeros((3, 5)), _model())
    with pytest.raises(mot.ExportError, match="empty"):
        collect([], _model())


def test_compare_counts_near_ties_and_accuracy():
    keras_out = np.array([[1.0, 0.0], [0.50, 0.49], [0.0, 1.0]])
    tflite_out = np.array([[1.0, 0.0], [0.48, 0.50], [1.0, 0.0]])
    p = compare(keras_out, tflite_out, "qat_int8", labels=np.array([0, 0, 1]), output_step=0.01)
    assert p.agreement == pytest.approx(1 / 3)
    assert p.tie_adjusted_agreement == pytest.approx(2 / 3)  # the 0.01-margin flip is a tie
    assert p.keras_accuracy == 1.0 and p.tflite_accuracy == pytest.approx(1 / 3)
    assert not p.ok and p.max_diff_steps == pytest.approx(100.0)
    assert compare(keras_out, keras_out, "float").ok


def test_compare_regression_uses_relative_diff():
    y = np.linspace(0, 10, 20).reshape(-1, 1)
    assert compare(y, y + 1e-4, "float").ok and compare(y, y + 1e-4, "float").agreement is None
    assert not compare(y, y + 1.0, "float").ok


def test_atomic_directory_rolls_back(tmp_path):
    target = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError):
        with AtomicDirectory(target) as tmp:
            open(os.path.join(tmp, "x"), "w").close()
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    with AtomicDirectory(target) as tmp:
        open(os.path.join(tmp, "report.json"), "w").close()
    assert os.listdir(target) == ["report.json"]


def test_layer_stats_reads_masks_and_quant_error():
    inputs = keras.Input((16,))
    model = keras.Model(inputs, keras.layers.Dense(8, name="d")(inputs))
    pruned = mot.prune(model, "generic", schedule=mot.ConstantSparsity(0.5, 0, frequency=1))
    from keras_mot.callbacks.quantization import wrappers

    for w in wrappers(pruned):
        w.update_mask(1)
    (stat,) = layer_stats(pruned)
    assert stat.layer == "d" and stat.sparsity == pytest.approx(0.5) and stat.quant_error is None
    assert overall_sparsity([stat]) == pytest.approx(0.5)
    q = mot.quantize(model, "tflite_int8", calibration_data=np.random.rand(8, 16))
    (qstat,) = layer_stats(q)
    assert 0 < qstat.quant_error < 0.02
