"""The quantizers' run mode outside training: normal inference or range calibration.

Calibration runs the float model and records activation ranges (running min/max, as TFLite
post-training calibration does); `calibrating()` is read when a wrapper's `call` is traced.
"""

import contextlib
import contextvars

_CALIBRATING = contextvars.ContextVar("keras_mot_calibrating", default=False)


def is_calibrating():
    """True inside `calibrating()`."""
    return _CALIBRATING.get()


@contextlib.contextmanager
def calibrating():
    """Context in which wrappers record activation ranges and compute in float."""
    token = _CALIBRATING.set(True)
    try:
        yield
    finally:
        _CALIBRATING.reset(token)
