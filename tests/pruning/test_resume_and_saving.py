"""Resuming fit from a saved model continues the schedule exactly; `.keras` keeps every
pruning setting (pattern + schedule), the masks and their step."""

import keras
import numpy as np
import pytest
from conftest import compile_, conv_model, data, dense_model, mask_of, pruned

import keras_mot as mot

SCHEDULE = mot.PolynomialDecay(0.0, 0.75, begin_step=0, end_step=14, power=3, frequency=2)


def _fresh(weights):
    model = dense_model()
    model.set_weights(weights)
    return compile_(mot.prune(model, "tflite_sparse_fc", schedule=SCHEDULE), lr=3e-2)


def test_resume_from_checkpoint_gives_the_masks_of_an_uninterrupted_run(tmp_path):
    weights = dense_model().get_weights()
    x, y = data(dense_model(), n=32)
    fit = dict(batch_size=8, shuffle=False, verbose=0)  # 4 steps per epoch

    straight = _fresh(weights)
    straight.fit(x, y, epochs=4, callbacks=mot.callbacks(straight), **fit)

    first = _fresh(weights)
    first.fit(x, y, epochs=2, callbacks=mot.callbacks(first), **fit)
    path = str(tmp_path / "mid.keras")
    first.save(path)
    resumed = keras.saving.load_model(path, safe_mode=True)
    assert int(keras.ops.convert_to_numpy(resumed.optimizer.iterations)) == 8
    resumed.fit(x, y, epochs=4, initial_epoch=2, callbacks=mot.callbacks(resumed), **fit)

    a, b = pruned(straight), pruned(resumed)
    for name in a:
        np.testing.assert_array_equal(mask_of(a[name]), mask_of(b[name]))
        assert float(b[name].mask_step) == 14.0  # the schedule's last update
        np.testing.assert_allclose(
            np.asarray(a[name].layer.kernel), np.asarray(b[name].layer.kernel), rtol=1e-5, atol=1e-6
        )
    assert np.mean(mask_of(b["fc1"]) == 0) == pytest.approx(0.75)


def test_backup_and_restore_resumes_the_schedule(tmp_path):
    weights = dense_model().get_weights()
    x, y = data(dense_model(), n=32)
    fit = dict(batch_size=8, shuffle=False, verbose=0)
    straight = _fresh(weights)
    straight.fit(x, y, epochs=4, callbacks=mot.callbacks(straight), **fit)

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("simulated interruption")

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    model = _fresh(weights)
    with pytest.raises(RuntimeError, match="simulated"):
        model.fit(x, y, epochs=4, callbacks=mot.callbacks(model) + [backup, Crash()], **fit)
    again = _fresh(weights)  # a new process would rebuild
    history = again.fit(x, y, epochs=4, callbacks=mot.callbacks(again) + [backup], **fit)
    assert history.epoch == [2, 3]  # it did resume mid-schedule
    for name, w in pruned(straight).items():
        np.testing.assert_array_equal(mask_of(w), mask_of(pruned(again)[name]))


SPECS = [
    (mot.Block(4, 1, pooling="max"), mot.PolynomialDecay(0.1, 0.6, 1, 9, power=2, frequency=4)),
    (mot.Block(1, 4), mot.ConstantSparsity(0.5, begin_step=2, end_step=20, frequency=3)),
    (mot.NofM(2, 4), mot.ConstantSparsity(0.5, begin_step=0)),
    (mot.Unstructured(), mot.PolynomialDecay(0.0, 0.8, 0, 100, power=1, frequency=10)),
]


@pytest.mark.parametrize("pattern,schedule", SPECS, ids=lambda v: repr(v)[:24])
def test_keras_round_trip_keeps_every_pruning_setting(tmp_path, pattern, schedule):
    pm = compile_(mot.prune(conv_model(), "generic", schedule=schedule, pattern=pattern))
    x, y = data(pm, n=16)
    pm.fit(x, y, batch_size=4, epochs=1, callbacks=mot.callbacks(pm), verbose=0)
    path = str(tmp_path / "m.keras")
    pm.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.mot_target == "generic"
    before, after = pruned(pm), pruned(loaded)
    assert sorted(before) == sorted(after) == ["conv1", "conv3", "fc"]
    for name, w in after.items():
        assert w.prune == before[name].prune
        assert w.prune.pattern.get_config() == pattern.get_config()
        assert w.prune.schedule.get_config() == schedule.get_config()
        np.testing.assert_array_equal(mask_of(w), mask_of(before[name]))
        assert float(w.mask_step) == float(before[name].mask_step)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), pm.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
