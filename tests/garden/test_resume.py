"""`keras-mot train` resumes after a kill, and never writes into a directory it does not own."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from keras_mot.errors import KerasMotError
from keras_mot.garden.trainer import train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "model_garden_configs", "mobilenetv2_qat_cpu.yaml")
TINY = [
    "keras_mot.data.source=digits",
    "task.train_data.global_batch_size=16",
    "task.validation_data.global_batch_size=16",
    "task.model.input_size=[32,32,3]",
    "task.model.backbone.mobilenet.filter_size_scale=0.35",
    "keras_mot.float_train_steps=4",
    "trainer.train_steps=6",
    "trainer.steps_per_loop=1",
    "trainer.checkpoint_interval=2",
    "keras_mot.representative_examples=16",
]
KW = dict(verbose=0, lint="off", reference=False, max_examples=16, export_targets=["tflite_int8"])

# Runs the real command in a child and SIGKILLs it right after the optimize phase's second
# periodic checkpoint (step 4 of 6) is on disk.
_CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    from keras_mot.garden import run_state
    real = run_state.PeriodicCheckpoint.on_train_batch_end
    def on_end(self, batch, logs=None):
        real(self, batch, logs)
        if self.phase == "optimize" and self.done == 4:
            os.kill(os.getpid(), signal.SIGKILL)
    run_state.PeriodicCheckpoint.on_train_batch_end = on_end
    from keras_mot.garden.trainer import train
    train({config!r}, out=sys.argv[1], overrides={tiny!r}, verbose=0, lint="off",
          reference=False, max_examples=16, export_targets=["tflite_int8"])
""")


def _state(out):
    with open(os.path.join(out, "state.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.slow
def test_killed_during_qat_resumes_from_the_last_checkpoint(tmp_path):
    out = str(tmp_path / "run")
    code = _CHILD.format(repo=REPO, config=CONFIG, tiny=TINY)
    proc = subprocess.run([sys.executable, "-c", code, out], capture_output=True, timeout=900, cwd=REPO)
    assert proc.returncode == -9, proc.stderr.decode()[-3000:]
    state = _state(out)
    assert state["phase"] == "optimize" and state["step"] == 4
    assert os.path.exists(os.path.join(out, "checkpoints", "optimize.resume.keras"))
    result = train(CONFIG, out=out, overrides=TINY, **KW)  # the same command again
    assert result.exports["tflite_int8"].ok
    assert _state(out)["phase"] == "done"
    assert not os.path.exists(os.path.join(out, "checkpoints", "optimize.resume.keras"))
    with pytest.raises(KerasMotError, match="finished run.*--fresh"):
        train(CONFIG, out=out, overrides=TINY, **KW)


def test_run_directory_guards(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(KerasMotError, match="no keras-mot run state"):
        train(CONFIG, out=str(foreign), overrides=TINY, fresh=True, **KW)
    assert (foreign / "notes.txt").read_text() == "mine"  # --fresh never deletes foreign files
    run = str(tmp_path / "run")
    from keras_mot.garden.config import dump_config, load_config
    from keras_mot.garden.run_state import RunState

    RunState.open(run, dump_config(load_config(CONFIG, TINY), compact=True))
    other = TINY[:-1] + ["keras_mot.representative_examples=32"]
    with pytest.raises(KerasMotError, match="different experiment.*--fresh"):
        train(CONFIG, out=run, overrides=other, **KW)
