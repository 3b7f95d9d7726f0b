"""Export under faults: a process killed mid-export, a crash between the two renames of an
overwrite, a full disk. The next export cleans up and never leaves the path empty because of a
crash; failures say what to do about them."""

import errno
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.errors import ExportError
from keras_mot.export import atomic

L = keras.layers
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _model():
    i = keras.Input((8, 8, 1), name="image")
    x = L.Flatten(name="flat")(L.Conv2D(2, 3, name="conv")(i))
    return keras.Model(i, L.Dense(3, name="logits")(x), name="tiny")


def _x(n=16):
    return np.random.default_rng(0).uniform(0, 1, (n, 8, 8, 1)).astype("float32")


_CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    import keras, numpy as np
    import keras_mot as mot
    from keras_mot.export import atomic
    from tests.reliability.test_export_faults import _model, _x
    when = sys.argv[2]
    real_rename = os.rename
    calls = []
    def rename(a, b):
        calls.append((a, b))
        if when == "between_renames" and len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)   # old moved aside, new not yet in place
        return real_rename(a, b)
    atomic.os.rename = rename
    if when == "during_write":
        import importlib
        api = importlib.import_module("keras_mot.export.convert")
        real = api.convert
        def killed(*a, **k):
            real(*a, **k)
            os.kill(os.getpid(), signal.SIGKILL)
        api.convert = killed
    mot.export(_model(), sys.argv[1], target="tflite", representative_data=_x(), formats=("tflite",))
""")


def _killed_export(path, when):
    code = _CHILD.format(repo=REPO)
    proc = subprocess.run(
        [sys.executable, "-c", code, path, when], capture_output=True, timeout=300, cwd=REPO
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]


def test_kill_during_export_leaves_a_partial_that_the_next_export_removes(tmp_path):
    out = str(tmp_path / "exp")
    _killed_export(out, "during_write")
    left = os.listdir(tmp_path)
    assert not os.path.exists(out) and any(e.startswith(".exp.partial-") for e in left), left
    result = mot.export(_model(), out, target="tflite", representative_data=_x(), formats=("tflite",))
    assert result.ok and os.listdir(tmp_path) == ["exp"]


def test_crash_between_renames_restores_the_previous_export(tmp_path):
    out = str(tmp_path / "exp")
    first = mot.export(_model(), out, target="tflite", representative_data=_x(), formats=("tflite",))
    before = open(first.tflite_path, "rb").read()
    _killed_export(out, "between_renames")
    assert not os.path.exists(out)  # the kill hit after the previous export was moved aside
    done = atomic.recover(out)
    assert any("restored the previous export" in line for line in done), done
    assert open(os.path.join(out, "model.tflite"), "rb").read() == before
    assert os.listdir(tmp_path) == ["exp"]


def test_failed_second_rename_puts_the_previous_export_back(tmp_path, monkeypatch):
    out = str(tmp_path / "exp")
    mot.export(_model(), out, target="tflite", representative_data=_x(), formats=("tflite",))
    real = os.rename
    calls = []

    def rename(a, b):
        calls.append(a)
        if len(calls) == 2:
            raise OSError(errno.EIO, "injected I/O error")
        return real(a, b)

    monkeypatch.setattr(atomic.os, "rename", rename)
    with pytest.raises(ExportError):
        mot.export(_model(), out, target="tflite", representative_data=_x(), formats=("tflite",))
    monkeypatch.setattr(atomic.os, "rename", real)
    assert os.path.isfile(os.path.join(out, "report.json"))
    assert os.listdir(tmp_path) == ["exp"]


def test_a_live_exports_partial_directory_is_left_alone(tmp_path):
    out = str(tmp_path / "exp")
    live = tmp_path / f".exp.partial-{os.getppid()}-busy"
    live.mkdir()
    atomic.recover(out)
    assert live.exists()


def test_full_disk_says_free_space_not_lint(tmp_path, monkeypatch):
    import importlib

    api = importlib.import_module("keras_mot.export.api")  # mot.export is the function

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(api, "write_saved_model", full)
    with pytest.raises(ExportError) as info:
        mot.export(_model(), str(tmp_path / "exp"), target="tflite", representative_data=_x())
    msg = str(info.value)
    assert "No space left" in msg and "Free disk space" in msg and "mot.lint" not in msg
    assert os.listdir(tmp_path) == []


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs (a real full disk); skipped where mounting is not permitted."""
    point = tmp_path / "tiny"
    point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()[:120]}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def test_export_onto_a_full_tmpfs_fails_cleanly_and_says_free_space(tiny_tmpfs):
    with pytest.raises(ExportError) as info:
        mot.export(_model(), str(tiny_tmpfs / "exp"), target="tflite", representative_data=_x())
    msg = str(info.value)
    assert "No space left on device" in msg and "Free disk space" in msg, msg
    assert "mot.lint" not in msg
    assert os.listdir(tiny_tmpfs) == []  # no export, no partial directory
