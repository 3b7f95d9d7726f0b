"""The bad-input suite's table: `KERAS_MOT_ERROR_TABLE=errors.md pytest tests/reliability -n 0`
writes one row per case (test -> error type -> the message's first sentence), as the
reliability notes publish it. Without the variable nothing changes."""

import os

import pytest

_ROWS = []
_PATH = os.environ.get("KERAS_MOT_ERROR_TABLE")


def _first_sentence(error):
    text = " ".join(str(error).split())
    for stop in (". Received:", ". "):
        if stop in text:
            return text[: text.index(stop) + 1]
    return text[:200]


@pytest.fixture(autouse=True)
def _record_errors(request, monkeypatch):
    if not _PATH:
        yield
        return
    import _pytest.raises as raises

    exit_ = raises.RaisesExc.__exit__

    def recording(self, exc_type, exc_val, exc_tb):
        handled = exit_(self, exc_type, exc_val, exc_tb)
        if handled and exc_val is not None:
            _ROWS.append(
                (request.node.nodeid.split("::", 1)[1], type(exc_val).__name__, _first_sentence(exc_val))
            )
        return handled

    monkeypatch.setattr(raises.RaisesExc, "__exit__", recording)
    yield


def pytest_sessionfinish(session):
    if not _PATH or not _ROWS:
        return
    with open(_PATH, "w", encoding="utf-8") as f:
        f.write("| case | error | message (first sentence) |\n|---|---|---|\n")
        for case, kind, message in _ROWS:
            f.write(f"| `{case}` | {kind} | {message.replace('|', '/')} |\n")
