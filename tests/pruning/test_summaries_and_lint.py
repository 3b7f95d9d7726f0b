"""`Summaries` writes sparsity scalars TensorBoard reads; pruning lint checks tell the truth."""

import glob

import keras
import pytest
import tensorflow as tf
from conftest import compile_, data, dense_model, pruned, schedule

import keras_mot as mot
from keras_mot import targets
from keras_mot.callbacks.summaries import Summaries, sparsity_summary
from keras_mot.errors import KerasMotError
from keras_mot.lint.pruning_checks import pruning_check


def _events(log_dir):
    out = {}
    for path in glob.glob(f"{log_dir}/sparsity/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for v in event.summary.value:
                assert v.metadata.plugin_data.plugin_name == "scalars"
                out.setdefault(v.tag, []).append((event.step, float(tf.make_ndarray(v.tensor))))
    return out


def test_summaries_writes_per_layer_and_global_sparsity(tmp_path):
    pm = compile_(mot.prune(dense_model(), "tflite_sparse_fc", schedule=schedule(0.75, end=8)))
    x, y = data(pm, n=32)
    cb = mot.callbacks.Summaries(str(tmp_path), update_freq=2)
    pm.fit(x, y, batch_size=8, epochs=3, callbacks=mot.callbacks(pm) + [cb], verbose=0)
    events = _events(tmp_path)
    assert set(events) == {
        "sparsity/fc1",
        "sparsity/fc2",
        "sparsity/global",
        "sparsity/target/fc1",
        "sparsity/target/fc2",
    }
    assert [s for s, _ in events["sparsity/global"]] == [2, 4, 6, 8, 10, 12]
    summary = sparsity_summary(pm)
    assert events["sparsity/global"][-1][1] == pytest.approx(summary["global"])
    assert summary["global"] == pytest.approx(0.75) and summary["targets"]["fc1"] == 0.75
    rising = [v for _, v in events["sparsity/fc1"]]
    assert rising == sorted(rising) and rising[0] < rising[-1]
    sizes = {n: w.kernel_mask.shape[0] * w.kernel_mask.shape[1] for n, w in pruned(pm).items()}
    weighted = sum(summary["layers"][n] * s for n, s in sizes.items()) / sum(sizes.values())
    assert summary["global"] == pytest.approx(weighted)


def test_summaries_validates_its_arguments():
    assert mot.callbacks.Summaries is Summaries
    with pytest.raises(KerasMotError, match="update_freq"):
        Summaries("logs", update_freq=0)
    with pytest.raises(KerasMotError, match="log_dir"):
        Summaries(None)
    assert sparsity_summary(dense_model())["global"] is None


def _codes(model, target):
    return [f.code for f in pruning_check(model, targets.get(target))]


def test_lint_flags_transposed_blocks_and_low_sparsity():
    pm = mot.prune(
        dense_model(), "tflite_sparse_fc", schedule=mot.ConstantSparsity(0.2, 0), pattern=mot.Block(1, 4)
    )
    findings = pruning_check(pm, targets.get("tflite_sparse_fc"))
    assert sorted({f.code for f in findings}) == ["prune-below-min-sparsity", "prune-block-transposed"]
    assert all(f.layer in ("fc1", "fc2") for f in findings)
    assert "Block(rows=4, cols=1" in findings[0].fix
    good = mot.prune(dense_model(), "tflite_sparse_fc", schedule=mot.ConstantSparsity(0.9, 0))
    assert _codes(good, "tflite_sparse_fc") == []
    nofm = mot.prune(dense_model(), "generic", schedule=mot.ConstantSparsity(0.9, 0), pattern=mot.NofM(2, 4))
    assert _codes(nofm, "tflite_sparse_fc") == ["prune-pattern-mismatch"] * 2
    assert _codes(nofm, "nvidia_2x4") == []


def test_lint_tells_the_int8_sparse_fc_truth_and_the_pattern_fit():
    pm = mot.prune(
        dense_model(units=(30, 16)), "tflite_sparse_fc_int8", schedule=mot.ConstantSparsity(0.9, 0)
    )
    codes = _codes(pm, "tflite_sparse_fc_int8")
    assert codes.count("int8-sparse-fc-slower") == 1
    assert "block-not-divisible" in codes  # fc2 has 30 inputs, not 16k


def test_lint_on_xnnpack_target_offers_the_stem_rewrite_and_flags_dense_only_layers():
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(inp)
    x = keras.layers.Conv2D(16, 1, name="pw")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", name="conv3")(x)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))
    pm = mot.prune(model, "xnnpack_sparse", schedule=mot.ConstantSparsity(0.8, 0), pattern=mot.Unstructured())
    findings = {(f.layer, f.code) for f in pruning_check(pm, targets.get("xnnpack_sparse"))}
    assert ("stem", "xnn-same-stem") in findings
    assert ("conv3", "prune-runs-dense") in findings and ("stem", "prune-runs-dense") in findings
    assert not any(layer == "pw" for layer, _ in findings)


def test_pruning_check_is_registered_with_lint():
    pm = mot.prune(
        dense_model(), "tflite_sparse_fc", schedule=mot.ConstantSparsity(0.9, 0), pattern=mot.Block(1, 4)
    )
    report = mot.lint(pm, target="tflite_sparse_fc")
    assert "prune-block-transposed" in {f.code for f in report.findings}


def test_target_checks_follow_the_target_record_not_its_name():
    import dataclasses

    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(inp)
    x = keras.layers.Conv2D(16, 1, name="pw")(x)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))
    pm = mot.prune(model, "xnnpack_sparse", schedule=mot.ConstantSparsity(0.8, 0), pattern=mot.Unstructured())
    renamed = dataclasses.replace(targets.get("xnnpack_sparse"), name="my_arm_sparse")
    assert ("stem", "xnn-same-stem") in {(f.layer, f.code) for f in pruning_check(pm, renamed)}
    without = dataclasses.replace(renamed, lint_checks=())
    assert not any(f.code == "xnn-same-stem" for f in pruning_check(pm, without))
    unknown = dataclasses.replace(renamed, lint_checks=("no_such_check",))
    with pytest.raises(KerasMotError, match="no_such_check"):
        pruning_check(pm, unknown)
