"""What other modules may read of a `Wrapper`'s quantization state, and the `point` callable
adapters receive.

`QuantStateViews` is a mixin of `keras_mot.wrapper.Wrapper`: the read-only views that exact
kernels, range linking, strip and layer statistics use instead of the wrapper's private
attributes. `Points` is the `point(name, tensor)` callable handed to a `LayerAdapter`.

Example:
    >>> vmin, vmax = wrapper.range_variables()["output"]
    >>> wrapper.fixed_point_kind("output") is None
    True
"""


class Points:
    """The `point(name, tensor)` callable adapters receive: fake-quantizes an int8 tensor at a
    named quantization point, learning its range. `point.reuse(name, tensor)` puts another
    tensor on the grid of an existing point without touching its range (e.g. masked attention
    scores: TFLite's SELECT_V2 keeps its input's scale, so a masked score lands on the lowest
    code of the scores' grid)."""

    __slots__ = ("wrapper", "training")

    def __init__(self, wrapper, training):
        self.wrapper, self.training = wrapper, training

    def __call__(self, name, x):
        return self.wrapper._point(name, x, self.training)

    def reuse(self, name, x):
        return self.wrapper._on_grid_of(name, x)


class QuantStateViews:
    """Read-only views of a wrapper's ranges and quantized weights (mixed into `Wrapper`)."""

    def range_variables(self):
        """`{name: (min_variable, max_variable)}`: every learned quantization range of this
        layer, activation points (`"output"`, `"input_0"`, ...) and weights (`"kernel"`, ...).

        Example:
            >>> vmin, vmax = wrapper.range_variables()["output"]
        """
        if not self.built:
            return {}
        return {**self._range_vars, **self._weight_vars}

    def activation_ranges(self):
        """`{point name: (min_variable, max_variable)}` of the learned activation ranges."""
        return dict(getattr(self, "_range_vars", {}))

    def weight_ranges(self):
        """`{weight name: (min_variable, max_variable)}` of the weight ranges."""
        return dict(getattr(self, "_weight_vars", {}))

    def fixed_point_kind(self, name):
        """The fixed-range kind of point `name` (e.g. `"softmax"`, `"same_as_input"`), or None
        for a learned range."""
        return self._points.get(name)

    def input_scale(self):
        """Scale of the int8 tensor the biased op reads (`None` when unknown)."""
        return self._input_scale()

    def link_input_ranges(self, refs):
        """Records each input's producer range (`RangeRef` or None), set by
        `keras_mot.quantization.linking` after the graph is built (bias grid, exact kernels)."""
        object.__setattr__(self, "_input_ranges", list(refs))  # not tracked by Keras

    def quantized_weights(self):
        """`({name: tensor}, bias)`: the weights as the int8 op reads them (folded, masked,
        fake-quantized; the bias on TFLite's int32 grid), without updating any range."""
        return self._weights(training=False)

    def input_range(self, i):
        """`RangeRef` of input `i`'s int8 grid (own input point, else the producer's), or None."""
        return self._input_range(i)

    @property
    def bias_input_range(self):
        """`RangeRef` of the grid the op's input sits on (own point or producer's), or None."""
        return self._bias_input_range
