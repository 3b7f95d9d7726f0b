"""`strip`: the inference form of a prepared model.

Training-only machinery goes away: BatchNormalization statistics are folded into the weights,
ranges stop moving (activation ranges as trained; weight ranges computed once from the final
weights), statistics updates and calibration paths disappear. What remains is exactly the graph
the TFLite converter should see: constant weights behind `FakeQuant` ops with constant ranges.
"""

import numpy as np
from keras import ops

from keras_mot import graph
from keras_mot.layers.base import resolve_attr
from keras_mot.quantization import ranges
from keras_mot.quantization.linking import link_bias_ranges
from keras_mot.weight_only_wrapper import WeightOnlyWrapper
from keras_mot.wrapper import Wrapper


def _frozen_layer(wrapper, weights, bias):
    layer = wrapper.layer
    cfg = layer.get_config()
    bias_attr = wrapper.adapter.bias_attr(layer)
    if bias is not None and bias_attr is None:
        cfg["use_bias"] = True
    new = layer.__class__.from_config(cfg)
    new.build_from_config(layer.get_build_config())
    refs = wrapper.adapter.weights(layer)
    others = {id(resolve_attr(layer, r.attr)) for r in refs.values()}
    if bias_attr:
        others.add(id(getattr(layer, bias_attr)))
    for old_v, new_v in zip(layer.weights, new.weights):
        if id(old_v) not in others:
            new_v.assign(old_v)
    for name, ref in refs.items():
        resolve_attr(new, ref.attr).assign(weights[name])
    if bias is not None:
        getattr(new, wrapper.adapter.bias_attr(new) or "bias").assign(bias)
    return new


def freeze_wrapper(wrapper, keep_quantization=True):
    """The frozen (inference) copy of one `Wrapper`.

    Args:
        wrapper: a built `Wrapper`.
        keep_quantization: keep fake quantization with fixed ranges (int8 export); `False`
            gives the float computation of the same folded weights (float / int16x8 export).
    """
    quantize = wrapper.quantize and keep_quantization
    if quantize:
        # Bake the fake-quantized values: weights sit exactly on the int8 grid and the bias on
        # the int32 grid, so the converter's own rounding cannot differ from training's.
        weights, bias = wrapper.quantized_weights()
    else:
        weights, bias = wrapper.folded_weights()
    weights = {k: np.asarray(v) for k, v in weights.items()}
    bias = None if bias is None else np.asarray(bias)
    new = Wrapper(
        _frozen_layer(wrapper, weights, bias),
        scheme=wrapper.scheme,
        fused_activation=wrapper.fused_activation,
        quantize_inputs=wrapper.quantize_inputs if quantize else [],
        quantize_output=wrapper.quantize_output,
        quantize=quantize,
        frozen=True,
        call_keys=wrapper.call_keys,
        name=wrapper.name,
    )
    new.build_from_config(wrapper.get_build_config())
    if quantize:
        learned = wrapper.activation_ranges()
        for name, (vmin, vmax) in new.activation_ranges().items():
            if name in learned:
                vmin.assign(learned[name][0])
                vmax.assign(learned[name][1])
            else:  # a same-as-input point: freeze the producer's range as this layer's own
                ref = wrapper.bias_input_range
                vmin.assign(ref.min)
                vmax.assign(ref.max)
        for name, (vmin, vmax) in new.weight_ranges().items():
            ref = new._weight_refs()[name]
            spec = new.scheme.weight_spec(ref.kind)
            flat, axis = ranges.flatten_channel_axes(ops.convert_to_tensor(weights[name]), ref.channel_axis)
            lo, hi = ranges.weight_range(flat, spec, axis if spec.per_channel else None)
            lo, hi = wrapper.shared_weight_range(name, lo, hi, spec, axis)  # shared grid
            vmin.assign(lo)
            vmax.assign(hi)
        new.initialized.assign(wrapper.initialized)
    return new


def _prune_only(wrapper):
    """True for a wrapper that only prunes (no quantization, folded BN or fused activation)."""
    return (
        not wrapper.quantize and wrapper.bn is None and not wrapper.fused_activation and not wrapper.call_keys
    )  # keyword calls need the wrapper to route the tensors


def strip(model, keep_quantization=True):
    """Removes training-only machinery from a model prepared by keras_mot.

    Quantized layers keep fixed ranges (or become float with `keep_quantization=False`);
    BatchNormalization is folded; layers keras_mot did not touch are copied unchanged.
    Layers that were only pruned become plain Keras layers with the masks baked into the weights.

    Example:
        >>> inference_model = strip(qat_model)
    """
    link_bias_ranges(model)

    def replace(layer):
        if isinstance(layer, WeightOnlyWrapper):  # weights baked onto their int8 / int4 grid
            return layer.baked_layer()
        if isinstance(layer, Wrapper) and _prune_only(layer):
            weights, bias = layer.folded_weights()  # masks baked in
            return _frozen_layer(
                layer,
                {k: np.asarray(v) for k, v in weights.items()},
                None if bias is None else np.asarray(bias),
            )
        if isinstance(layer, Wrapper):
            return freeze_wrapper(layer, keep_quantization)
        return graph.clone_or_keep(layer)

    return graph.map_layers(model, replace)
