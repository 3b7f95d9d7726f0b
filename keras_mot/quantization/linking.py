"""Links each biased wrapper to the range of the int8 tensor it reads.

TFLite stores a conv / dense bias as int32 with scale `s_input * s_weight`. To train on the
same rounded bias, a wrapper needs the scale of its input tensor, which belongs to the layer
that produced it (through pass-through layers such as padding or pooling). This pass walks the
Functional graph and gives each wrapper a reference to that range. It runs whenever a
`PreparedModel` is built or loaded, and before `strip`.
"""

from keras_mot import graph
from keras_mot.layers.pooling import is_passthrough
from keras_mot.quantization import ranges


class RangeRef:
    """A reference to another layer's range (plain object: Keras does not track it as state)."""

    __slots__ = ("min", "max", "spec")

    def __init__(self, min_val, max_val, spec):
        self.min, self.max, self.spec = min_val, max_val, spec


def _output_source(wrapper):
    if not wrapper.quantize or not wrapper.quantize_output:
        return None
    spec = wrapper.scheme.activation_spec()
    fixed = wrapper.fixed_point_kind("output")
    if fixed == "same_as_input":
        return wrapper.bias_input_range
    if fixed is not None:
        lo, hi = ranges.fixed_range(fixed, spec)
        return RangeRef(lo, hi, spec)
    vmin, vmax = wrapper.activation_ranges()["output"]
    return RangeRef(vmin, vmax, spec)


def link_bias_ranges(model):
    """Tells every `Wrapper` of `model` (nested models included) the range of each of its
    inputs' producers (`Wrapper.link_input_ranges`; `None` where unknown).

    A layer takes part when it has a `link_input_ranges` method (keras_mot's `Wrapper`), so this
    module needs no import of the wrapper that imports it."""
    fm = graph.functional_view(model)
    source = {}
    for node in graph.ordered_nodes(fm):
        op = node.operation
        ins = node.input_tensors
        if graph.is_graph_model(op):
            link_bias_ranges(op)
            continue
        first = source.get(id(ins[0])) if ins else None
        if hasattr(op, "link_input_ranges"):
            if op.built:
                op.link_input_ranges([source.get(id(t)) for t in ins])
                out = _output_source(op)
            else:
                out = None
            for t in node.output_tensors:
                source[id(t)] = out
        elif is_passthrough(op):
            for t in node.output_tensors:
                source[id(t)] = first
    return model
