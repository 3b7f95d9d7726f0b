"""Pure range math for fake quantization (keras.ops only; no layer state).

These functions compute ranges and apply fake quantization exactly as TensorFlow's
`FakeQuantWithMinMaxVars(PerChannel)` ops do, so that the TFLite converter reads the same
scales and zero points that training used.
"""

import keras
from keras import ops

_EPS = 1e-6


def flatten_channel_axes(w, axis):
    """`(w, axis)` with a tuple of trailing channel axes reshaped into one last axis.

    Example:
        >>> w, axis = flatten_channel_axes(ops.zeros((3, 3, 8, 2)), (-2, -1))
        >>> tuple(w.shape), axis
        ((3, 3, 16), -1)
    """
    if isinstance(axis, (tuple, list)):
        lead = tuple(w.shape[: len(w.shape) - len(axis)])
        return ops.reshape(w, lead + (-1,)), -1
    return w, axis


def zero_exact_range(min_val, max_val, spec):
    """The asymmetric range actually used for [min_val, max_val]: zero and the binding extreme
    on the grid.

    FakeQuant (and the TFLite converter) make zero exactly representable by rounding the zero
    point and shifting the whole range by up to half a step. For a range like [-1, 1] (the
    output of `x / 127.5 - 1` preprocessing) the shift is exactly half a step, so every input at
    the range's extremes (pixels 0 and 255) lands on a rounding tie that the integer kernels
    break differently from float rounding. Here the zero point is chosen and the scale widened
    just enough instead, which keeps the binding extreme (and, for [-a, a], both) on the grid.
    Symmetric specs and ranges with an end at zero are returned unchanged. Every consumer of an
    activation range (`fake_quant`, `scale_of`, `round_to_grid_away_from_zero`) applies it, so
    training, bias scales and the exported FakeQuant constants agree.
    """
    if spec.symmetric:
        return min_val, max_val
    # Few ops on purpose: this runs for every activation point when a model is traced.
    levels = float(spec.levels)
    below = -ops.minimum(ops.cast(min_val, "float32"), 0.0)  # >= 0
    hi = ops.maximum(ops.cast(max_val, "float32"), 0.0)
    ideal = ops.clip(levels * below / ops.maximum(below + hi, _EPS), 0.0, levels)
    z_down, z_up = ops.floor(ideal), ops.ceil(ideal)

    def step_for(z):  # smallest scale with `z` steps below zero that covers [-below, hi]
        # A zero count with a nonzero extent on that side divides by ~0: never the minimum.
        return ops.maximum(below / ops.maximum(z, 1e-12), hi / ops.maximum(levels - z, 1e-12))

    s_down, s_up = step_for(z_down), step_for(z_up)
    down = s_down <= s_up
    z = ops.where(down, z_down, z_up)
    s = ops.maximum(ops.where(down, s_down, s_up), _EPS / levels)
    return -z * s, (levels - z) * s


def fake_quant(x, min_val, max_val, spec, axis=None, graph_op=True):
    """Fake-quantizes `x` to the grid of `spec` over [min_val, max_val].

    Gradients pass straight through inside the range and are zero outside it; the range itself
    receives no gradient (ranges are statistics, not parameters).

    Args:
        x: float tensor.
        min_val, max_val: scalars, or vectors along `axis` for per-channel ranges.
        spec: a `QuantSpec`.
        axis: channel axis for per-channel ranges, else `None`.
        graph_op: `True` emits TensorFlow's `FakeQuantWithMinMaxVars(PerChannel)`, the op the
            TFLite converter consumes (exported graphs). `False` computes the same grid relative
            to zero (`round(x / scale) * scale`, clipped), as the int8 kernels requantize: the
            FakeQuant op rounds `x - min` and loses ~1e-5 of a step when `x` is far from `min`,
            enough to round a near-tie the other way (`simulating()` mode: evaluate / predict).

    Example:
        >>> fake_quant(ops.convert_to_tensor([0.1, 0.52]), -1.0, 1.0, QuantSpec(bits=2))
    """
    if axis is None:
        min_val, max_val = zero_exact_range(min_val, max_val, spec)
    min_val = ops.stop_gradient(ops.cast(min_val, "float32"))
    max_val = ops.stop_gradient(ops.cast(max_val, "float32"))
    if not graph_op and axis is None:
        return _fake_quant_from_zero(x, min_val, max_val, spec)
    return keras.quantizers.fake_quant_with_min_max_vars(
        x, min_val, max_val, num_bits=spec.bits, narrow_range=spec.narrow_range, axis=axis
    )


def _fake_quant_from_zero(x, lo, hi, spec):
    levels = float(spec.levels)
    scale = ops.maximum(grid_scale(lo, hi, spec), 1e-12)
    below = ops.round(-lo / scale)  # integer steps from the range's minimum to zero
    clipped = ops.clip(x, -below * scale, (levels - below) * scale)
    snapped = ops.round(clipped / scale) * scale
    return clipped + ops.stop_gradient(snapped - clipped)


def weight_range(w, spec, axis=None):
    """(min, max) of a weight tensor for `spec`: per channel along `axis` or per tensor.

    Symmetric specs give (-m, m) with m = max |w| (at least a tiny epsilon, so a dead channel
    still has a valid scale).
    """
    if axis is not None and spec.per_channel:
        axis = axis % len(w.shape)
        reduce_axes = tuple(i for i in range(len(w.shape)) if i != axis)
        lo, hi = ops.min(w, axis=reduce_axes), ops.max(w, axis=reduce_axes)
    else:
        lo, hi = ops.min(w), ops.max(w)
    if spec.symmetric:
        m = ops.maximum(ops.maximum(ops.abs(lo), ops.abs(hi)), _EPS)
        return -m, m
    return ops.minimum(lo, 0.0), ops.maximum(hi, _EPS)


def activation_batch_range(x, spec, nonnegative=False):
    """(min, max) of an activation batch, including 0 (TFLite ranges always contain zero).

    `nonnegative`: `x` is a ReLU's output, so its min is >= 0 and the range's min is exactly 0
    (the same +0.0 that `minimum(min(x), 0)` gives): one reduction over `x` less. Asymmetric
    specs only (a symmetric range reads both ends).
    """
    hi = ops.maximum(ops.max(x), 0.0)
    if nonnegative and not spec.symmetric:
        lo = ops.zeros_like(hi)
        return lo, ops.maximum(hi, lo + _EPS)
    lo = ops.minimum(ops.min(x), 0.0)
    if spec.symmetric:
        m = ops.maximum(ops.maximum(-lo, hi), _EPS)
        return -m, m
    return lo, ops.maximum(hi, lo + _EPS)


def fixed_range(kind, spec):
    """The output range TFLite fixes for some ops (`"sigmoid"`, `"softmax"`, `"tanh"`).

    int8 LOGISTIC/SOFTMAX output: scale 1/256, zero point -128 -> [0, 255/256].
    int8 TANH output: scale 1/128, zero point 0 -> [-1, 127/128].
    int16 (16x8) LOGISTIC/SOFTMAX: scale 1/32768 symmetric; TANH: 1/32768 -> about [-1, 1].
    Source: tensorflow/lite/kernels/activations.cc and quantization_spec.md.
    """
    if spec.bits == 8:
        if kind in ("sigmoid", "softmax"):
            return 0.0, 255.0 / 256.0
        if kind == "tanh":
            return -1.0, 127.0 / 128.0
    elif kind in ("sigmoid", "softmax", "tanh"):
        return -1.0, 1.0
    raise ValueError(f"No fixed range for {kind!r} at {spec.bits} bits.")


def scale_of(min_val, max_val, spec):
    """Quantization scale of a range, as FakeQuant and the TFLite converter compute it:
    (max - min) / (quant_max - quant_min), quant_min = 1 with narrow range, else 0."""
    return grid_scale(*zero_exact_range(min_val, max_val, spec), spec)


def grid_scale(lo, hi, spec):
    """Scale of a range already on its grid (`zero_exact_range`'s output), bit for bit the
    float32 scale the TFLite converter writes: it reads the FakeQuant min/max as float32 and
    computes `(max - min) / levels` in float64 (float32 arithmetic is one ulp off for some
    ranges, e.g. 0.123835936 for the converter's 0.12383593, enough to move a rounding tie)."""
    lo, hi = ops.cast(lo, "float64"), ops.cast(hi, "float64")
    return ops.cast((hi - lo) / float(spec.levels), "float32")


EMULATION_SCOPE = "keras_mot_kernel_emulation"  # ops the converter never sees (the lint skips)


def round_to_grid_away_from_zero(x, min_val, max_val, spec):
    """See `_round_to_grid_away_from_zero`; its ops are named under `EMULATION_SCOPE`: in the
    exported model the kernel does this rounding itself (the frozen wrapper emits no op)."""
    with keras.name_scope(EMULATION_SCOPE):
        return _round_to_grid_away_from_zero(x, min_val, max_val, spec)


def _round_to_grid_away_from_zero(x, min_val, max_val, spec):
    """Rounds `x` onto the grid of [min_val, max_val] as TFLite's same-scale integer kernels do.

    AVERAGE_POOL_2D and RESIZE_BILINEAR keep the input's scale and zero point and round their
    integer result half away from zero in the signed integer domain (reference kernels in
    tensorflow/lite/kernels/internal/reference/integer_ops/pooling.h and resize_bilinear.h),
    where FakeQuant rounds half up. The grid (scale, nudged zero point) is FakeQuant's, so values
    already on it are unchanged. Gradients pass straight through.
    """
    qmin = 1 if spec.narrow_range else 0
    qmax = 2**spec.bits - 1
    offset = 2 ** (spec.bits - 1)
    min_val, max_val = zero_exact_range(min_val, max_val, spec)
    lo = ops.stop_gradient(ops.cast(min_val, "float32"))
    hi = ops.stop_gradient(ops.cast(max_val, "float32"))
    scale = grid_scale(lo, hi, spec)
    zero_point = ops.clip(ops.round(qmin - lo / scale), qmin, qmax) - offset
    q = x / scale + zero_point
    # Averages of grid values are exact multiples of 1/64 in the integer domain (pool sums of up
    # to 64 taps, bilinear weights in quarters); snapping removes float noise before tie-breaking.
    q = ops.round(q * 64.0) / 64.0
    r = ops.sign(q) * ops.floor(ops.abs(q) + 0.5)
    r = ops.clip(r, qmin - offset, qmax - offset)
    y = (r - zero_point) * scale
    return x + ops.stop_gradient(y - x)
