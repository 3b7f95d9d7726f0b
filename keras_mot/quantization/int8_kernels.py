"""Bit-exact emulations of TFLite int8 kernels whose fixed-point arithmetic differs from
rounding the float function (keras.ops only; used in `simulating()` mode).

HARD_SWISH: the int8 kernel (tensorflow/lite/kernels/internal/reference/hard_swish.h; the
optimized kernel and the XNNPack delegate give the same codes, checked on every int8 input)
computes `x * relu6(x + 3) / 6` in int16 fixed point with 16-bit multipliers and a deliberately
truncating product, so about 1-2 % of the 256 input codes come out one step away from the
correctly rounded value. Elementwise on int8 inputs, so this module reproduces it exactly.

ADD: the XNNPack delegate (the interpreter's default for int8) rescales both inputs with
integer multipliers of about 21 bits (`round(s_in / s_out * 2**shift)`, `shift = 20 - floor(log2(
max ratio))`) and shifts the sum right with a round-half-up bias. Where the exact sum lies within
~2**-21 of a rounding tie this differs from float rounding by one step (3 of the 65,536 input
pairs for some scales; TFLite's reference kernel rounds as float does). Two such steps in a
residual block of a trained EfficientNetB0 grew to a 0.66 logit difference through the later
blocks, so `simulating()` reproduces the kernel (checked against the interpreter on every pair
of int8 inputs).

MEAN (GlobalAveragePooling): XNNPack sums the int8 codes (zero points included) in int32 and
requantizes in float32 as `rint(float(sum) * m + b)` with `m = float32(s_in / s_out) *
float32(1 / n)` and `b = z_out - float32(n * z_in) * m`, both rounded to float32. Folding the
input zero point into `b` costs precision: where the mean lies within ~1e-5 of a rounding tie,
the kernel rounds the other way than the exact mean (TF 2.21's interpreter rounds exactly). In a
live-trained EfficientNetB0 one squeeze-excite MEAN hit such a tie on 298 of its 129,360 outputs
and turned 5 of 539 predictions. Measured against the interpreter on every achievable sum for
114 random (scale, zero point, n) cases, rank 3 and 4.
"""

from keras import ops

_I16_MIN, _I16_MAX = -32768, 32767


def _pow2(e):
    """2**e as int32 for an int32 tensor 0 <= e <= 30."""
    return ops.cast(ops.power(2.0, ops.cast(e, "float32")), "int32")


def _sat16(x):
    return ops.clip(x, _I16_MIN, _I16_MAX)


def _trunc_div(x, d):
    """Integer division rounding toward zero (C semantics), d > 0."""
    return ops.where(x >= 0, ops.floor_divide(x, d), -ops.floor_divide(-x, d))


def _rounding_doubling_high_mul16(a, b):
    """gemmlowp's SaturatingRoundingDoublingHighMul on int16 values held in int32."""
    ab = a * b
    nudge = ops.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    out = _trunc_div(ab + nudge, 1 << 15)
    return ops.where((a == _I16_MIN) & (b == _I16_MIN), _I16_MAX, out)


def _rounding_divide_by_pot(x, e):
    """x / 2**e rounded half away from zero (gemmlowp RoundingDivideByPOT), 0 <= e <= 30."""
    d = _pow2(e)
    floor = ops.floor_divide(x, d)
    remainder = x - floor * d
    threshold = ops.floor_divide(d - 1, 2) + ops.cast(x < 0, "int32")
    return floor + ops.cast(remainder > threshold, "int32")


def _int16_multiplier(m):
    """(int16 mantissa, exponent) of a positive float32 multiplier, as TFLite's
    QuantizeMultiplier followed by DownScaleInt32ToInt16Multiplier computes them."""
    e = ops.floor(ops.log2(m)) + 1.0
    f = m / ops.power(2.0, e)  # exact: a power-of-two scaling
    e = ops.where(f >= 1.0, e + 1.0, ops.where(f < 0.5, e - 1.0, e))
    f = m / ops.power(2.0, e)  # in [0.5, 1)
    # round(f * 2**31) is exact in float32 (24-bit mantissa); its rounded top 16 bits:
    q16 = ops.minimum(ops.floor(f * 32768.0 + 0.5), float(_I16_MAX))
    return ops.cast(q16, "int32"), ops.cast(e, "int32")


def hard_swish(x, input_scale, output_scale, output_below_zero, output_levels):
    """Output of TFLite's int8 HARD_SWISH on `x`, which lies on the grid of `input_scale`.

    Args:
        x: input values (multiples of `input_scale`).
        input_scale, output_scale: positive float32 scalars.
        output_below_zero: number of output grid steps below zero (the output zero point
            relative to the lowest code); `output_levels`: number of steps of the output grid.

    Returns:
        The kernel's output values (multiples of `output_scale`), as float32.
    """
    v = ops.cast(ops.round(x / input_scale), "int32")  # input code minus its zero point
    hires_scale = input_scale * (1.0 / 128.0)
    out_mult, out_exp = _int16_multiplier(hires_scale / output_scale)
    relu_mult, relu_exp = _int16_multiplier(hires_scale / (3.0 / 32768.0))
    hires = v * 128
    preshift_out = _rounding_doubling_high_mul16(hires, out_mult)
    # relu6(x + 3) / 6 in Q0.15, via x / 3 saturated to [-1, 1).
    r = ops.where(relu_exp > 0, _sat16(hires * _pow2(ops.maximum(relu_exp - 1, 0))), hires)
    r = _rounding_doubling_high_mul16(r, relu_mult)
    r = ops.where(relu_exp > 0, _sat16(r * 2), r)
    r = ops.where(relu_exp < 0, _rounding_divide_by_pot(r, ops.maximum(-relu_exp, 0)), r)
    r = ops.floor_divide(r + (1 << 15), 2)
    product = _trunc_div(r * preshift_out, 1 << 15)  # truncating on purpose, as the kernel
    out = _rounding_divide_by_pot(product, ops.maximum(-out_exp, 0))
    below = ops.cast(output_below_zero, "int32")
    out = ops.clip(out, -below, ops.cast(output_levels, "int32") - below)
    return ops.cast(out, "float32") * output_scale


def _floor_log2(m):
    """floor(log2(m)) of a positive float32, exact (the float exponent field)."""
    e = ops.floor(ops.log2(m))
    e = ops.where(ops.power(2.0, e) > m, e - 1.0, e)
    return ops.where(ops.power(2.0, e + 1.0) <= m, e + 1.0, e)


def add(a, b, a_scale, b_scale, output_scale, output_below_zero, output_levels, activation=None):
    """Output of TFLite's int8 ADD (XNNPack delegate) on `a`, `b`, which lie on the grids of
    `a_scale`, `b_scale` (zero included).

    Args:
        a, b: input values (multiples of their scales); broadcastable.
        a_scale, b_scale, output_scale: positive float32 scalars, as the model stores them.
        output_below_zero, output_levels: the output grid (see `hard_swish`).
        activation: None, "relu" or "relu6" (fused: the kernel clamps its output codes).

    Returns:
        The kernel's output values (multiples of `output_scale`), as float32.
    """
    va = ops.cast(ops.round(a / a_scale), "int32")  # code minus zero point
    vb = ops.cast(ops.round(b / b_scale), "int32")
    ra, rb = a_scale / output_scale, b_scale / output_scale  # float32, as the delegate
    shift = ops.clip(20.0 - _floor_log2(ops.maximum(ra, rb)), 1.0, 30.0)
    am = ops.cast(ops.round(ra * ops.power(2.0, shift)), "int32")  # exact scaling, rint
    bm = ops.cast(ops.round(rb * ops.power(2.0, shift)), "int32")
    shift = ops.cast(shift, "int32")
    out = ops.floor_divide(_pow2(shift - 1) + va * am + vb * bm, _pow2(shift))  # asr
    below = ops.cast(output_below_zero, "int32")
    lo, hi = -below, ops.cast(output_levels, "int32") - below
    if activation in ("relu", "relu6"):
        lo = ops.maximum(lo, 0)
    if activation == "relu6":  # TFLite quantizes 6 with round-half-away
        hi = ops.minimum(hi, ops.cast(ops.floor(6.0 / output_scale + 0.5), "int32"))
    return ops.cast(ops.clip(out, lo, hi), "float32") * output_scale


def _f32(x):
    """float64 -> float32, correctly rounded (float32 arithmetic done in float64, where the
    products and sums below are exact, then rounded once: no fused multiply-add can creep in)."""
    return ops.cast(x, "float32")


def _f64(x):
    return ops.cast(x, "float64")


def mean(
    x, axes, input_scale, input_below_zero, output_scale, output_below_zero, output_levels, keepdims=False
):
    """Output of TFLite's int8 MEAN (XNNPack delegate) over `axes` of `x`, which lies on the
    grid of `input_scale` (zero included).

    Args:
        x: input values (multiples of `input_scale`).
        axes: the reduced axes (ints).
        input_scale, output_scale: positive float32 scalars, as the model stores them.
        input_below_zero: steps of the input grid below zero (its zero point less -128).
        output_below_zero, output_levels: the output grid (see `hard_swish`).
        keepdims: keep the reduced axes with length 1.

    Returns:
        The kernel's output values (multiples of `output_scale`), as float32.
    """
    axes = tuple(int(a) % len(x.shape) for a in axes)
    shape = ops.shape(x)  # the reduced axes may be dynamic (variable input size)
    n = 1
    for a in axes:
        n = n * (x.shape[a] if x.shape[a] is not None else ops.cast(shape[a], "int32"))
    n = ops.cast(n, "float32")  # exact: n < 2**24
    z_in = ops.cast(ops.round(input_below_zero), "float32") - 128.0
    codes = ops.round(x / input_scale) + z_in  # exact small integers in float32
    total = ops.sum(ops.cast(codes, "int32"), axis=axes, keepdims=keepdims)
    inv_n = ops.divide(ops.ones((), "float32"), n)  # float32 division, as 1.0f / n
    m = _f32(_f64(ops.divide(input_scale, output_scale)) * _f64(inv_n))
    z_out = ops.cast(ops.round(output_below_zero), "float32") - 128.0
    b = _f32(_f64(z_out) - _f64(_f32(_f64(n) * _f64(z_in) * _f64(m))))
    y = _f32(_f64(_f32(_f64(total) * _f64(m))) + _f64(b))
    below = ops.cast(output_below_zero, "float32")  # round: half to even, as rint
    steps = ops.clip(ops.round(y) - z_out, -below, ops.cast(output_levels, "float32") - below)
    return steps * output_scale


# TFLite op name -> emulation `(x, input_scale, output_scale, output_below_zero, output_levels)`.
EMULATED = {"HARD_SWISH": hard_swish}
