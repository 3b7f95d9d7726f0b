"""Masks after real training steps: exact patterns, sparsity per step, UpdateMasks required."""

import keras
import numpy as np
import pytest
from conftest import as_matrix, compile_, conv_model, data, dense_model, mask_of, pruned

import keras_mot as mot
from keras_mot.callbacks.pruning import require_update_masks
from keras_mot.errors import KerasMotError

PATTERNS = [mot.Block(1, 4), mot.Block(4, 1), mot.NofM(2, 4)]
MODELS = {"dense": dense_model, "conv": conv_model}


def _blocks_uniform(matrix, rows, cols):
    r, c = matrix.shape
    tiles = matrix.reshape(r // rows, rows, c // cols, cols)
    return np.all(tiles.min(axis=(1, 3)) == tiles.max(axis=(1, 3)))


@pytest.mark.parametrize("pattern", PATTERNS, ids=repr)
@pytest.mark.parametrize("family", sorted(MODELS))
def test_mask_has_exactly_the_pattern_after_training(pattern, family):
    model = MODELS[family]()
    pm = compile_(
        mot.prune(model, "generic", schedule=mot.ConstantSparsity(0.5, 0, frequency=2), pattern=pattern)
    )
    x, y = data(pm)
    pm.fit(x, y, batch_size=16, epochs=2, callbacks=mot.callbacks(pm), verbose=0)
    ws = pruned(pm)
    stripped = mot.strip(pm)
    assert len(ws) == len([layer for layer in model.layers if hasattr(layer, "kernel")])
    for w in ws.values():
        kind = w.prune_kind()
        mask = mask_of(w)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        m = as_matrix(mask, kind)
        if isinstance(pattern, mot.Block):
            assert _blocks_uniform(m, pattern.rows, pattern.cols), (w.name, kind)
            n_blocks = m.size // (pattern.rows * pattern.cols)
            assert np.mean(m == 0) == pytest.approx(0.5, abs=1.0 / n_blocks)
        else:
            groups = m.reshape(-1, 4, m.shape[1])
            assert np.all(groups.sum(axis=1) == 2), (w.name, kind)  # exactly 2 of every 4 inputs
        # The weights the op reads carry the zeros; strip bakes them into plain layers.
        layer = stripped.get_layer(w.name)
        assert type(layer) is type(w.layer)
        kernel = np.asarray(layer.kernel)
        assert np.all(kernel[mask == 0] == 0)
        np.testing.assert_array_equal(kernel[mask == 1], np.asarray(w.layer.kernel)[mask == 1])
    np.testing.assert_allclose(stripped.predict(x, verbose=0), pm.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


class _Record(keras.callbacks.Callback):
    """Mask sparsity seen by every training step (recorded before the step runs)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        w = next(iter(pruned(self.model).values()))
        self.seen.append((step, float(np.mean(mask_of(w) == 0))))


def test_sparsity_at_each_step_equals_the_schedule():
    sched = mot.PolynomialDecay(0.0, 0.75, begin_step=2, end_step=10, power=2, frequency=2)
    pm = compile_(mot.prune(dense_model(), "tflite_sparse_fc", schedule=sched))
    x, y = data(pm, n=96)
    rec = _Record()
    pm.fit(x, y, batch_size=8, epochs=1, callbacks=mot.callbacks(pm) + [rec], verbose=0)
    n_blocks = 16 * 32 // 4  # fc1: (16, 32), Block(4, 1)
    assert [s for s, _ in rec.seen] == list(range(12))
    for step, seen in rec.seen:
        due = max((s for s in range(step + 1) if sched.should_update_at(s)), default=None)
        want = 0.0 if due is None else sched.sparsity_at(due)
        kept = max(round(n_blocks * (1 - want)), 1)
        assert seen == pytest.approx(1 - kept / n_blocks, abs=1e-9), (step, want)
    assert rec.seen[-1][1] == pytest.approx(0.75)


def test_update_mask_is_idempotent_and_catches_up():
    pm = mot.prune(dense_model(), "generic", schedule=mot.ConstantSparsity(0.5, 0, frequency=3))
    w = pruned(pm)["fc1"]
    assert w.update_mask(0) and not w.update_mask(0)
    assert not w.update_mask(2)  # no update due between 0 and 2
    assert w.update_mask(4)  # step 3 was skipped: caught up at 4
    assert int(keras.ops.convert_to_numpy(w.mask_step)) == 3


def test_steps_per_execution_still_follows_the_schedule():
    sched = mot.PolynomialDecay(0.0, 0.5, begin_step=0, end_step=6, power=1, frequency=1)
    pm = mot.prune(dense_model(), "generic", schedule=sched)
    pm.compile(optimizer="adam", loss="mse", lint="off", steps_per_execution=4)
    x, y = data(pm, n=64)
    pm.fit(x, y, batch_size=8, epochs=2, callbacks=mot.callbacks(pm), verbose=0)
    w = pruned(pm)["fc1"]  # callbacks ran at steps 0, 4, 8, 12: step 6 applied at 8
    assert int(keras.ops.convert_to_numpy(w.mask_step)) == 6
    assert np.mean(mask_of(w) == 0) == pytest.approx(0.5)


def test_training_without_update_masks_raises_a_clear_error():
    pm = compile_(mot.prune(dense_model(), "generic", schedule=mot.ConstantSparsity(0.5, 0)))
    x, y = data(pm)
    with pytest.raises(KerasMotError, match="UpdateMasks") as info:
        pm.fit(x, y, verbose=0)
    assert "fc1" in str(info.value) and "mot.callbacks(model)" in str(info.value)
    compile_(pm)  # as the message says, then it trains
    pm.fit(x, y, verbose=0, callbacks=mot.callbacks(pm))
    assert np.mean(mask_of(pruned(pm)["fc1"]) == 0) == pytest.approx(0.5)


def test_require_update_masks():
    pm = mot.prune(dense_model(), "generic", schedule=mot.ConstantSparsity(0.5, 0))
    with pytest.raises(KerasMotError, match=r"Received: callbacks=\['EarlyStopping'\]"):
        require_update_masks(pm, [keras.callbacks.EarlyStopping()])
    require_update_masks(pm, mot.callbacks(pm))
    require_update_masks(dense_model(), None)  # nothing pruned: nothing required


def test_quantize_only_model_trains_without_update_masks():
    x, y = data(dense_model())
    qm = compile_(mot.quantize(dense_model(), "tflite_int8", calibration_data=x))
    qm.fit(x, y, verbose=0)


def test_update_masks_under_a_distribution_strategy():
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        pm = compile_(
            mot.prune(dense_model(), "tflite_sparse_fc", schedule=mot.ConstantSparsity(0.5, 0, frequency=2))
        )
    x, y = data(pm)
    pm.fit(x, y, batch_size=16, epochs=1, callbacks=mot.callbacks(pm), verbose=0)
    for w in pruned(pm).values():
        assert "Mirrored" in type(w.kernel_mask.value).__name__ or hasattr(w.kernel_mask.value, "values")
        m = as_matrix(mask_of(w), "dense")
        assert _blocks_uniform(m, 4, 1) and np.mean(m == 0) == pytest.approx(0.5)
