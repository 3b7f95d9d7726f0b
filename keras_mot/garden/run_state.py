"""Resumable `keras-mot train` runs: the run directory's state, periodic checkpoints, `--fresh`.

A run directory holds `state.json`: the experiment (its compact config), the phase reached
(`float` -> `optimize` -> `export` -> `done`), the step within the phase and the float accuracy.
Every `trainer.checkpoint_interval` steps the training phase saves the whole model (weights,
optimizer state, keras_mot ranges and masks) to `checkpoints/<phase>.resume.keras` and then
updates the state, each write atomic (temporary file, then rename), so a kill at any moment
leaves a consistent pair. Re-running the same command resumes from there; a different config on
the same directory, or a directory that is not a keras-mot run, is refused (never overwritten);
`--fresh` discards a previous run first. Resumed data order restarts from the dataset's first
batch (the optimizer's step count, learning-rate schedule and pruning schedule continue).

Example:
    >>> state = RunState.open("runs/mnv2", config_dump, fresh=False)
    >>> state.phase, state.step
    ('optimize', 200)
"""

import json
import os
import shutil

import keras

from keras_mot.errors import KerasMotError, format_error

STATE = "state.json"
PHASES = ("float", "optimize", "export", "done")


def _atomic_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def resume_path(out, phase):
    """Where phase `phase` keeps its periodic checkpoint."""
    return os.path.join(out, "checkpoints", f"{phase}.resume.keras")


class RunState:
    """The state of one run directory (see module doc)."""

    def __init__(self, out, data):
        self.out, self.data = out, data

    @property
    def phase(self):
        return self.data["phase"]

    @property
    def step(self):
        return int(self.data["step"])

    @classmethod
    def open(cls, out, config_dump, fresh=False):
        """Opens (or starts) the run in `out` for the experiment `config_dump`.

        Raises:
            KerasMotError: `out` holds files but no keras-mot run, a different experiment, or a
                finished run (without `fresh`).
        """
        state_path = os.path.join(out, STATE)
        has_files = os.path.isdir(out) and bool(os.listdir(out))
        if has_files and not os.path.isfile(state_path):
            raise KerasMotError(
                format_error(
                    "The output directory holds files but no keras-mot run state; not writing there.",
                    received=repr(out),
                    fix="Pass another --out (an empty or new directory).",
                )
            )
        if fresh and has_files:
            shutil.rmtree(out)
            has_files = False
        os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)
        if not has_files:
            state = cls(out, {"config": config_dump, "phase": "float", "step": 0})
            state.save()
            return state
        with open(state_path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("config") != config_dump:
            raise KerasMotError(
                format_error(
                    "The output directory holds a run of a different experiment (its config "
                    "differs); not mixing them.",
                    received=repr(out),
                    fix="Pass --fresh to discard that run, or another --out.",
                )
            )
        if data.get("phase") == "done":
            raise KerasMotError(
                format_error(
                    "The output directory holds a finished run of this experiment.",
                    received=repr(out),
                    fix=f"See {os.path.join(out, 'results.md')}; pass --fresh to train it again.",
                )
            )
        if data.get("phase") not in PHASES:
            raise KerasMotError(
                format_error(
                    "The run state is damaged.",
                    received=f"{state_path}: phase {data.get('phase')!r}",
                    fix="Pass --fresh to start over.",
                )
            )
        return cls(out, data)

    def save(self):
        _atomic_json(os.path.join(self.out, STATE), self.data)

    def advance(self, phase, **values):
        """Marks phase `phase` as reached at step 0 (the previous phase is complete)."""
        self.data.update(phase=phase, step=0, **values)
        self.save()
        for done in PHASES[: PHASES.index(phase)]:
            stale = resume_path(self.out, done)
            if os.path.exists(stale):
                os.remove(stale)

    def load_resume(self, phase):
        """The model checkpointed in `phase` (compiled, optimizer state included), or None."""
        path = resume_path(self.out, phase)
        if self.phase != phase or self.step == 0 or not os.path.exists(path):
            return None
        return keras.saving.load_model(path, safe_mode=True)


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves the model every `interval` training steps and records the step in the run state.

    Args:
        state: the `RunState`; phase: its current phase name.
        interval: steps between checkpoints (`<= 0`: never).
        start: steps already done in this phase (a resumed run).
    """

    def __init__(self, state, phase, interval, start=0):
        super().__init__()
        self.state, self.phase, self.interval, self.done = state, phase, int(interval), start

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.interval > 0 and self.done % self.interval == 0:
            path = resume_path(self.state.out, self.phase)
            tmp = path[: -len(".keras")] + ".tmp.keras"
            self.model.save(tmp)
            os.replace(tmp, path)
            self.state.data.update(phase=self.phase, step=self.done)
            self.state.save()
