"""Where `simulating()` swaps a wrapper's fake-quantized output for the int8 kernel's exact one.

`int8_kernels` emulates, in keras.ops, the TFLite int8 kernels whose arithmetic differs from
rounding the float result: HARD_SWISH (int16 fixed point) and the XNNPack ADD and MEAN
requantizations (off near rounding ties). This module decides when a wrapper uses them: in
`simulating()` mode (evaluate / predict of a prepared model), on 8-bit grids whose ranges are
initialized, and never while calibrating or frozen. Values become the kernel's; gradients stay
those of the fake-quantized float output.
"""

from keras import ops

from keras_mot.layer_kinds import LayerKind
from keras_mot.quantization import int8_kernels, ranges
from keras_mot.quantization.mode import is_calibrating, is_simulating


def _applies(wrapper):
    return (
        wrapper.quantize
        and not wrapper.frozen
        and is_simulating()
        and not is_calibrating()
        and "output" in wrapper.activation_ranges()
        and wrapper.scheme.activation_spec().bits == 8
    )


def _grid(vmin, vmax, spec):
    """(lo, scale) of the int8 grid of range [vmin, vmax]."""
    lo, hi = ranges.zero_exact_range(vmin, vmax, spec)
    return lo, ranges.grid_scale(lo, hi, spec)  # already zero-exact: no second pass


def _output_grid(wrapper):
    return _grid(*wrapper.activation_ranges()["output"], wrapper.scheme.activation_spec())


def _swap(ready, exact, out):
    return ops.where(ready, out + ops.stop_gradient(exact - out), out)


def activation_output(wrapper, entry, y, out):
    """The int8 kernel's output of activation `entry` on `y` (on its input grid) where
    `int8_kernels.EMULATED` has it; else `out`, the fake-quantized float activation."""
    kernel = int8_kernels.EMULATED.get(entry.tflite_op)
    if kernel is None or not wrapper.quantize_output or not _applies(wrapper):
        return out
    spec = wrapper.scheme.activation_spec()
    if wrapper.adapter.kind == LayerKind.ACTIVATION:
        s_in = wrapper.input_scale()
    else:
        s_in = ranges.scale_of(*wrapper.activation_ranges()["pre_activation"], spec)
    if s_in is None:
        return out
    lo, s_out = _output_grid(wrapper)
    ready = (s_in > 0) & (wrapper.initialized > 0)
    exact = kernel(y, ops.where(ready, s_in, 1.0), s_out, ops.round(-lo / s_out), float(spec.levels))
    return _swap(ready, exact, out)


def _add(wrapper, xs, in_grids, s_out, below_out, levels, activation):
    (sa, _), (sb, _) = in_grids
    return int8_kernels.add(xs[0], xs[1], sa, sb, s_out, below_out, levels, activation)


def _mean(wrapper, xs, in_grids, s_out, below_out, levels, activation):
    ((s_in, below_in),) = in_grids
    axes = wrapper.adapter.reduced_axes(wrapper.layer, len(xs[0].shape))
    return int8_kernels.mean(
        xs[0],
        axes,
        s_in,
        below_in,
        s_out,
        below_out,
        levels,
        keepdims=bool(getattr(wrapper.layer, "keepdims", False)),
    )


# TFLite op -> (number of inputs, emulation on the inputs' (scale, steps below zero) grids).
OPS = {"ADD": (2, _add), "MEAN": (1, _mean)}


def op_output(wrapper, inputs, activation, out):
    """The int8 kernel's output where `OPS` emulates the wrapper's op (on its inputs' grids,
    with its fused `activation`); else `out`, the fake-quantized float result."""
    op = next((o for o in OPS if o in wrapper.adapter.tflite_ops), None)
    if op is None or not _applies(wrapper):
        return out
    n_inputs, emulation = OPS[op]
    xs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    refs = [wrapper.input_range(i) for i in range(len(xs))]
    if len(xs) != n_inputs or any(r is None or r.spec.bits != 8 or r.spec.symmetric for r in refs):
        return out
    grids = [_grid(r.min, r.max, r.spec) for r in refs] + [_output_grid(wrapper)]
    ready = wrapper.initialized > 0
    for _, s in grids:
        ready = ready & (s > 0)
    # (scale, steps below zero) per grid; scale 1 until the ranges are initialized.
    safe = [ops.where(ready, s, 1.0) for _, s in grids]
    grids = [(s, ops.round(-lo / s)) for (lo, _), s in zip(grids, safe)]
    s_out, below_out = grids.pop()
    exact = emulation(
        wrapper, xs, grids, s_out, below_out, float(wrapper.scheme.activation_spec().levels), activation
    )
    return _swap(ready, exact, out)
