"""`IntegerGrid`: the part of `Wrapper` that places its linear op on TFLite's integer grid.

TFLite adds the bias on an int32 grid of scale `s_in * s_w` and, for single-kernel linear ops,
computes on the int8 input grid; these methods find the input and output scales a wrapper's op
reads and writes (its own points, else the producer's range set by `quantization.linking`) and
round the bias onto that grid. A mixin of `keras_mot.wrapper.Wrapper`; it reads the wrapper's
range variables, scheme and adapter.

Example:
    >>> wrapper._input_scale()          # scale of the int8 tensor the biased op reads
"""

from keras import ops

from keras_mot.layer_kinds import LayerKind
from keras_mot.layers import activations as act_table
from keras_mot.quantization import linking, ranges
from keras_mot.quantization.mode import is_calibrating, is_simulating

# Single-kernel linear ops that run on the integer grid during training and Keras inference.
_GRID_KINDS = (LayerKind.CONV, LayerKind.DEPTHWISE, LayerKind.DENSE, LayerKind.CONV_TRANSPOSE)


class IntegerGrid:
    """Mixin of `Wrapper`: input/output scales of its op and the bias on TFLite's int32 grid."""

    def _input_scale(self):
        """Scale of the int8 tensor the biased op reads (TFLite's bias scale is s_in * s_w)."""
        own = self.adapter.bias_input_point(self.layer)
        if own is not None and own in self._range_vars:
            return ranges.scale_of(*self._range_vars[own], self.scheme.activation_spec())
        ref = self._input_range(0)
        return None if ref is None else ranges.scale_of(ref.min, ref.max, ref.spec)

    def _quantize_bias(self, bias, weight_scale):
        """Rounds the bias to TFLite's int32 grid (scale s_in * s_w), straight-through."""
        if bias is None or weight_scale is None or self.frozen:
            return bias
        in_scale = self._input_scale()
        if in_scale is None:
            return bias
        scale = ops.maximum(ops.stop_gradient(in_scale * weight_scale), 1e-12)
        rounded = ops.round(bias / scale) * scale
        return bias + ops.stop_gradient(rounded - bias)

    def _grid_input_scale(self, inputs):
        """Scale of the input grid when the op can run on it (quantization/integer_domain.py),
        else `None`."""
        if not (
            self.quantize
            and not self.frozen
            and not is_calibrating()
            and is_simulating()
            and self.adapter.kind in _GRID_KINDS
            and not isinstance(inputs, (list, tuple))
            and set(self._weight_refs()) == {"kernel"}
            and not self.adapter.intermediate_points(self.layer)
            and self.scheme.activation_spec().bits == 8
        ):
            return None
        return self._input_scale()

    def _linear_output_scale(self):
        """Scale of the int8 tensor the linear op writes (its output, or the pre-activation of
        an activation TFLite does not fuse), 0 before ranges exist; `None` if there is none."""
        entry = act_table.lookup(self.activation_name())
        name = None if entry is None else "output" if entry.fused else "pre_activation"
        if name not in self._range_vars:  # also None for fixed-range points (no variables)
            return None
        scale = ranges.scale_of(*self._range_vars[name], self.scheme.activation_spec())
        return ops.where(self.initialized > 0, scale, 0.0)

    @property
    def _bias_input_range(self):
        """`RangeRef` of the first input's producer (set by `quantization.linking`), or `None`."""
        refs = getattr(self, "_input_ranges", None)
        return refs[0] if refs else None

    def _input_range(self, i):
        """`RangeRef` of input `i`'s int8 grid (this wrapper's own input point, else the
        producer's output range), or `None`."""
        own = f"input_{i}"
        if own in self._range_vars:
            return linking.RangeRef(*self._range_vars[own], self.scheme.activation_spec())
        refs = getattr(self, "_input_ranges", None) or []
        return refs[i] if i < len(refs) else None
