"""The quantizers' run mode outside training: normal inference, range calibration,
kernel-exact simulation.

Calibration runs the float model and records activation ranges (running min/max, as TFLite
post-training calibration does); `calibrating()` is read when a wrapper's `call` is traced.
"""

import contextlib
import contextvars


@contextlib.contextmanager
def _switched_on(flag):
    token = flag.set(True)
    try:
        yield
    finally:
        flag.reset(token)


_CALIBRATING = contextvars.ContextVar("keras_mot_calibrating", default=False)


def is_calibrating():
    """True inside `calibrating()`."""
    return _CALIBRATING.get()


def calibrating():
    """Context in which wrappers record activation ranges and compute in float."""
    return _switched_on(_CALIBRATING)


_SIMULATING = contextvars.ContextVar("keras_mot_simulating", default=False)


def is_simulating():
    """True inside `simulating()`."""
    return _SIMULATING.get()


def simulating():
    """Context in which wrappers compute as the int8 kernels do: activations rounded relative to
    zero (not through FakeQuant's shifted range), conv / dense accumulated on the integer grid,
    HARD_SWISH in the kernel's fixed point (`int8_kernels`). `PreparedModel.evaluate/predict`
    run inside it; training keeps the fused FakeQuant op. Outside it (plain calls, the lint's
    trace, any converter) wrappers emit TensorFlow FakeQuant ops and plain conv + bias, the graph
    the TFLite converter consumes; values agree up to float rounding at near-ties."""
    return _switched_on(_SIMULATING)


_ESTIMATING_BN = contextvars.ContextVar("keras_mot_estimating_bn", default=False)


def is_estimating_bn():
    """True inside `estimating_bn()`."""
    return _ESTIMATING_BN.get()


def estimating_bn():
    """Context of a training-mode pass that only re-estimates BatchNormalization statistics:
    inside `calibrating()`, wrappers then compute in float and record no range."""
    return _switched_on(_ESTIMATING_BN)


_FLOAT_WEIGHTS = contextvars.ContextVar("keras_mot_float_weights", default=False)


def is_float_weights():
    """True inside `float_weights()`."""
    return _FLOAT_WEIGHTS.get()


def float_weights():
    """Context in which a calibration pass reads the float weights (as the TFLite converter's
    post-training calibration runs the float model), not their fake-quantized values."""
    return _switched_on(_FLOAT_WEIGHTS)
