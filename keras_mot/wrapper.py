"""`Wrapper`: the one keras_mot layer that enters a model.

It wraps a Keras layer and computes, through the layer's `LayerAdapter`:

    inputs -> [fake-quant inputs that no producer quantized]
    weights -> [fold BatchNormalization] -> [* pruning mask] -> fake-quant (per channel)
    adapter forward pass (fake-quant intermediate int8 tensors) -> activation -> fake-quant output

placing fake quantization exactly where the TFLite converter materializes int8 tensors. Activation
ranges are moving averages during training, running min/max during calibration, and fixed after
`FreezeRanges` or `mot.strip`. Weight ranges are the last value (symmetric max |w| per channel).
"""

import functools

import keras
from keras import ops

from keras_mot import codec
from keras_mot.compression.base import WeightCompression
from keras_mot.compression.wrapper_state import CompressedWeights
from keras_mot.errors import UnsupportedLayerError, format_error
from keras_mot.layer_kinds import LayerKind
from keras_mot.layers import activations as act_table
from keras_mot.layers.base import adapter_for, resolve_attr
from keras_mot.quantization import bn_fold, integer_domain, kernel_exact, ranges
from keras_mot.quantization.mode import is_calibrating, is_estimating_bn, is_float_weights, is_simulating
from keras_mot.quantization.scheme import QuantScheme, get_scheme
from keras_mot.sparsity.mask_updates import MaskUpdates
from keras_mot.sparsity.spec import PruneSpec
from keras_mot.wrapper_grid import IntegerGrid
from keras_mot.wrapper_views import Points, QuantStateViews


def _deserialize(obj):
    if obj is None or isinstance(obj, keras.layers.Layer):
        return obj
    return keras.saving.deserialize_keras_object(obj)


SAME_AS_INPUT = "same_as_input"  # output point that reuses the input tensor's range


def _values(*variables):
    """The variables' current values as tensors (JAX's `jnp.where` & co. refuse Keras variables)."""
    return tuple(ops.convert_to_tensor(v) for v in variables)


def _decode_scheme(scheme):
    """A scheme name, `QuantScheme`, or its `keras_mot.codec` encoding (older files: a bare
    config mapping) -> `QuantScheme`."""
    if isinstance(scheme, dict):
        return codec.decode(scheme, expect=QuantScheme)
    return get_scheme(scheme)


@keras.saving.register_keras_serializable(package="keras_mot")
class Wrapper(QuantStateViews, IntegerGrid, MaskUpdates, CompressedWeights, keras.layers.Layer):
    """Adds fake quantization (and pruning masks) around one Keras layer.

    Built by `mot.quantize` / `mot.prune` / `mot.apply`; users rarely construct it directly.

    Args:
        layer: the wrapped Keras layer (its class must have a registered `LayerAdapter`).
        scheme: name or `QuantScheme` of the quantization scheme.
        bn: a `BatchNormalization` folded into `layer`'s weights, or `None`.
        fused_activation: `"relu"` / `"relu6"` taken from a following layer, or `None`.
        quantize_inputs: one bool per input tensor: fake-quantize it here (its producer did not).
        quantize_output: fake-quantize the output (False when a Concatenate consumer does it).
        quantize: whether to quantize at all (False for pruning-only wrappers).
        frozen: inference form produced by `mot.strip`: fixed ranges, no statistics updates.
        prune: a `PruneSpec` (pattern + schedule) for the layer's `"kernel"` weight, or `None`.
            The mask is recomputed by the `UpdateMasks` callback; `call` multiplies by it.
        call_keys: argument names of the wrapped layer's call when it takes tensors by keyword
            (e.g. `("query", "value", "attention_mask")`): the wrapper is called with a list in
            that order and hands the adapter a dict. `None`: positional input(s).
        compress: a `keras_mot.compression.WeightCompression` (e.g. `Cluster(16)`) projecting
            the masked `"kernel"` each step, before folding and fake quantization, or `None`.

    Example:
        >>> w = Wrapper(keras.layers.Dense(4), quantize_inputs=[True])
        >>> y = w(keras.ops.ones((2, 3)), training=True)
    """

    def __init__(
        self,
        layer,
        scheme="int8",
        bn=None,
        fused_activation=None,
        quantize_inputs=None,
        quantize_output=True,
        quantize=True,
        frozen=False,
        prune=None,
        call_keys=None,
        compress=None,
        **kwargs,
    ):
        kwargs.setdefault(
            "name",
            getattr(layer, "name", None)
            if not isinstance(layer, dict)
            else layer.get("config", {}).get("name"),
        )
        super().__init__(**kwargs)
        self.layer = _deserialize(layer)
        self.bn = _deserialize(bn)
        self.scheme = _decode_scheme(scheme)
        self.fused_activation = fused_activation
        self.quantize_inputs = list(quantize_inputs or [])
        self.quantize_output = bool(quantize_output)
        self.quantize = bool(quantize)
        self.frozen = bool(frozen)
        self.prune = codec.decode_field(prune, PruneSpec)
        self.call_keys = tuple(call_keys) if call_keys else None
        self.compress = codec.decode_field(compress, WeightCompression)
        self.adapter = adapter_for(self.layer)
        if self.adapter is None:
            raise UnsupportedLayerError(
                format_error(
                    "No keras_mot LayerAdapter is registered for this layer type.",
                    layer=self.layer.name,
                    received=type(self.layer).__name__,
                    fix="Register one with keras_mot.register_adapter, or exclude the "
                    "layer (exclude=[...] or annotate(..., quantize=None)).",
                )
            )
        self._points = self._plan_points()
        # Whether training traces the batch-statistics branch of a folded BatchNormalization:
        # follows `bn_frozen` (FreezeBatchNorm and weight loading set it), so that frozen
        # statistics do not pay for a branch that would return the fold unchanged.
        self._bn_statistics_live = True

    # ----------------------------------------------------------------- planning
    def _activation(self):
        if self.fused_activation:
            return self.fused_activation, None
        return self.adapter.activation(self.layer), self.adapter.activation_fn(self.layer)

    def _plan_points(self):
        """Ordered {point name: fixed-range kind or None} of the activation quantizers."""
        points = {}
        if not self.quantize:
            return points
        for i, flag in enumerate(self.quantize_inputs):
            if flag:
                points[f"input_{i}"] = None
        fixed_points = self.adapter.fixed_points(self.layer)
        for name in self.adapter.intermediate_points(self.layer):
            points[name] = fixed_points.get(name)
        name, _ = self._activation()
        entry = act_table.lookup(name)
        if entry is not None and not entry.fused:
            if self.adapter.kind != LayerKind.ACTIVATION:
                points["pre_activation"] = None
            for p in entry.internal_points():
                points[p] = "sigmoid" if p == "sigmoid" else None
        if self.quantize_output:
            points["output"] = entry.output_fixed() if entry is not None else None
            if self.adapter.same_scale_output and not self.frozen:
                points["output"] = SAME_AS_INPUT
        return points

    def activation_name(self):
        """Name of the activation applied after the wrapped op (fused or the layer's own)."""
        return self._activation()[0]

    def load_own_variables(self, store):
        """Keras weight loading; training then traces the BatchNormalization statistics as the
        loaded `bn_frozen` says (a model saved before its freeze step trains them live)."""
        super().load_own_variables(store)
        if self.bn is not None:
            self._bn_statistics_live = float(ops.convert_to_numpy(self.bn_frozen)) <= 0

    # ----------------------------------------------------------------- build
    def _keyed(self, values):
        """`values` (one per call argument) as the adapter receives them."""
        return dict(zip(self.call_keys, values)) if self.call_keys else values

    def build(self, input_shape):
        input_shape = self._keyed(input_shape)
        if not self.layer.built:
            self.adapter.build(self.layer, input_shape)
        if self.bn is not None and not self.bn.built:
            self.bn.build(self.layer.compute_output_shape(input_shape))
        self._range_vars = {}
        for name, fixed in self._points.items():
            if fixed is None:
                self._range_vars[name] = (
                    self.add_weight(name=f"{name}_min", shape=(), initializer="zeros", trainable=False),
                    self.add_weight(name=f"{name}_max", shape=(), initializer="zeros", trainable=False),
                )
        self._weight_vars = {}
        if self.quantize:
            for wname, ref in self._weight_refs().items():
                w, axis = ranges.flatten_channel_axes(resolve_attr(self.layer, ref.attr), ref.channel_axis)
                spec = self.scheme.weight_spec(ref.kind)
                shape = (w.shape[axis],) if (spec.per_channel and axis is not None) else ()
                self._weight_vars[wname] = (
                    self.add_weight(name=f"{wname}_min", shape=shape, initializer="zeros", trainable=False),
                    self.add_weight(name=f"{wname}_max", shape=shape, initializer="zeros", trainable=False),
                )
        self.initialized = self.add_weight(name="initialized", shape=(), initializer="zeros", trainable=False)
        self.ranges_frozen = self.add_weight(
            name="ranges_frozen", shape=(), initializer="zeros", trainable=False
        )
        # Folded BatchNormalization trains with the batch's statistics, as in float training,
        # until `FreezeBatchNorm(step=N)` sets this (bench/qat.py, 5 seeds: int8 90.7 % live vs
        # 89.5 % frozen from step 0, where the folded layers lose BN's scale invariance).
        self.bn_frozen = self.add_weight(name="bn_frozen", shape=(), initializer="zeros", trainable=False)
        self.masks = {}
        if self.prune is not None:
            refs = self.adapter.weights(self.layer)
            for wname in self.adapter.prunable_weights(self.layer):
                weight = resolve_attr(self.layer, refs[wname].attr)
                self.masks[wname] = self.add_weight(
                    name=f"{wname}_mask", shape=tuple(weight.shape), initializer="ones", trainable=False
                )
            if "kernel" in self.masks:
                self.kernel_mask = self.masks["kernel"]
            self.mask_step = self.add_weight(
                name="mask_step", shape=(), initializer=keras.initializers.Constant(-1.0), trainable=False
            )
        self._build_compression()
        self.built = True

    def _weight_refs(self):
        return {n: r for n, r in self.adapter.weights(self.layer).items() if r.quantize}

    # ----------------------------------------------------------------- quantization points
    def _point(self, name, x, training):
        if not self.quantize:
            return x
        spec = self.scheme.activation_spec()
        if name.startswith("constant"):
            x = ops.convert_to_tensor(x, "float32")
            return ranges.fake_quant(x, ops.minimum(ops.min(x), 0.0), ops.maximum(ops.max(x), 1e-6), spec)
        fixed = self._points.get(name)
        if fixed == SAME_AS_INPUT:
            ref = self._bias_input_range
            if ref is None:
                return x
            return ranges.round_to_grid_away_from_zero(x, ref.min, ref.max, ref.spec)
        if fixed is not None:
            lo, hi = ranges.fixed_range(fixed, spec)
            return ranges.fake_quant(x, lo, hi, spec, graph_op=self.frozen or not is_simulating())
        if name not in self._range_vars:
            return x
        var_min, var_max = self._range_vars[name]
        vmin, vmax = _values(var_min, var_max)
        if self.frozen:
            if self.adapter.same_scale_output and name == "output":
                return x  # the TFLite kernel keeps the input's scale and rounds by itself
            return ranges.fake_quant(x, vmin, vmax, spec)
        fake_quant = functools.partial(ranges.fake_quant, graph_op=not is_simulating())
        if is_calibrating():
            if is_estimating_bn():
                return x
            lo, hi = ranges.activation_batch_range(ops.stop_gradient(x), spec)
            init = self.initialized > 0
            var_min.assign(ops.where(init, ops.minimum(vmin, lo), lo))
            var_max.assign(ops.where(init, ops.maximum(vmax, hi), hi))
            return x
        if training:
            lo, hi = ranges.activation_batch_range(ops.stop_gradient(x), spec, self._nonnegative(name))
            decay = self.scheme.ema_decay
            init = self.initialized > 0
            new_lo = ops.where(init, vmin * decay + lo * (1.0 - decay), lo)
            new_hi = ops.where(init, vmax * decay + hi * (1.0 - decay), hi)
            keep = self.ranges_frozen > 0
            new_lo = ops.where(keep, vmin, new_lo)
            new_hi = ops.where(keep, vmax, new_hi)
            var_min.assign(new_lo)
            var_max.assign(new_hi)
            return fake_quant(x, new_lo, new_hi, spec)
        # Inference before any range was recorded: compute in float rather than on a 0..0 grid.
        return ops.where(self.initialized > 0, fake_quant(x, vmin, vmax, spec), x)

    def _nonnegative(self, name):
        """Whether point `name` only sees values >= 0 (the output of a fused ReLU / ReLU6)."""
        return name == "output" and self.fused_activation in ("relu", "relu6")

    def _on_grid_of(self, name, x):
        """`x` fake-quantized on point `name`'s current grid; the range is not updated."""
        if not self.quantize or is_calibrating():
            return x
        spec = self.scheme.activation_spec()
        fixed = self._points.get(name)
        if fixed is not None and fixed != SAME_AS_INPUT:
            lo, hi = ranges.fixed_range(fixed, spec)
            return ranges.fake_quant(x, lo, hi, spec, graph_op=self.frozen or not is_simulating())
        if name not in self._range_vars:
            return x
        vmin, vmax = _values(*self._range_vars[name])
        fake = ranges.fake_quant(x, vmin, vmax, spec, graph_op=self.frozen or not is_simulating())
        return fake if self.frozen else ops.where(self.initialized > 0, fake, x)

    def _quantize_weight(self, wname, w, training):
        """Fake-quantized weight and its scale (per channel or scalar; `None` if unquantized)."""
        if not self.quantize or wname not in self._weight_vars or (is_calibrating() and is_float_weights()):
            return w, None
        ref = self._weight_refs()[wname]
        spec = self.scheme.weight_spec(ref.kind)
        shape = w.shape
        flat, axis = ranges.flatten_channel_axes(w, ref.channel_axis)
        axis = axis if spec.per_channel else None
        vmin, vmax = self._weight_vars[wname]
        if self.frozen:
            lo, hi = vmin, vmax
        else:
            lo, hi = ranges.weight_range(ops.stop_gradient(flat), spec, axis)
            lo, hi = self.shared_weight_range(wname, lo, hi, spec, axis)
            if training or is_calibrating():
                vmin.assign(lo)
                vmax.assign(hi)
        q = ranges.fake_quant(flat, lo, hi, spec, axis=axis)
        return ops.reshape(q, shape), ranges.scale_of(lo, hi, spec)

    def folded_weights(self, training=None):
        """`({name: tensor}, bias)`: the weights the op reads before fake quantization
        (BatchNormalization folded), and the bias (`None` if the op has none)."""
        refs = self.adapter.weights(self.layer)
        weights = {
            name: ops.convert_to_tensor(resolve_attr(self.layer, ref.attr)) for name, ref in refs.items()
        }
        for wname, mask in getattr(self, "masks", {}).items():
            weights[wname] = weights[wname] * mask
        weights = self._compress_weights(weights, training)
        bias_attr = self.adapter.bias_attr(self.layer)
        bias = getattr(self.layer, bias_attr) if bias_attr else None
        if self.bn is not None:
            scale = bn_fold.bn_scale(self.bn)
            weights["kernel"] = bn_fold.fold_kernel(weights["kernel"], scale, refs["kernel"].channel_axis)
            bias = bn_fold.fold_bias(bias, self.bn, scale)
        return weights, bias

    def _weights(self, training):
        """Weights as the op reads them: folded, masked, fake-quantized; bias on its grid."""
        weights, bias = self.folded_weights(training)
        scales = {}
        for n in list(weights):
            weights[n], scales[n] = self._quantize_weight(n, weights[n], training)
        return weights, self._quantize_bias(bias, scales.get("kernel"))

    def _linear(self, inputs, point, training, defer_bias=False):
        """`(y, has_bias, bias)`: the wrapped op's output with its (int32-grid) bias if it has
        one; with `defer_bias`, the bias is returned for the caller to add (`None` when `y`
        already has it)."""
        input_scale = self._grid_input_scale(inputs)
        if input_scale is not None:
            weights, bias = self.folded_weights(training)
            kernel, scale = self._quantize_weight("kernel", weights["kernel"], training)
            y = integer_domain.linear_on_grid(
                lambda x, k: self.adapter.forward(self.layer, x, {"kernel": k}, point),
                inputs,
                kernel,
                scale,
                self._weight_refs()["kernel"].channel_axis,
                bias,
                input_scale,
                output_scale=self._linear_output_scale(),
            )
            return y, bias is not None, None
        weights, bias = self._weights(training)
        z = self.adapter.forward(self.layer, inputs, weights, point)
        if bias is None:
            return z, False, None
        if defer_bias:
            return z, True, bias
        return ops.add(z, ops.reshape(bias, (1,) * (len(z.shape) - 1) + (-1,))), True, None

    def call(self, inputs, training=None):
        if training and self.prune is not None and not is_estimating_bn():
            self._require_mask_updates()
        if training and not is_estimating_bn():
            self._require_compression_updates()
        point = Points(self, training)
        if self.quantize_inputs:
            if isinstance(inputs, (list, tuple)):
                inputs = [
                    point(f"input_{i}", x) if i < len(self.quantize_inputs) else x
                    for i, x in enumerate(inputs)
                ]
            else:
                inputs = point("input_0", inputs)
        bn_live = training and self.bn is not None and not self.frozen and self._bn_statistics_live
        # With live statistics the bias joins the renormalization's shift (one pass less each way).
        y, has_bias, bias = self._linear(self._keyed(inputs), point, training, defer_bias=bn_live)
        if has_bias and bn_live:
            y = bn_fold.batch_statistics_output(self.bn, y, self.bn_frozen <= 0, bias=bias)
        name, fn = self._activation()
        entry = act_table.lookup(name)
        if entry is None:  # no TFLite int8 op known: compute in float, quantize the result
            y = fn(y) if fn is not None else y
            return point("output", y) if self.quantize_output else y
        if entry.fused:
            y = (fn or (lambda t: t))(y) if not self.fused_activation else act_table.keras_function(name)(y)
            if not self.quantize_output:
                return y
            return kernel_exact.op_output(self, inputs, name, point("output", y))
        if self.adapter.kind != LayerKind.ACTIVATION:
            y = point("pre_activation", y)
        out = entry.apply(y, point, fn=fn, quantize_output=self.quantize_output)
        return kernel_exact.activation_output(self, entry, y, out)

    def compute_output_shape(self, input_shape):
        return self.adapter.compute_output_shape(self.layer, self._keyed(input_shape))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            layer=keras.saving.serialize_keras_object(self.layer),
            bn=keras.saving.serialize_keras_object(self.bn) if self.bn is not None else None,
            scheme=codec.encode(self.scheme),
            fused_activation=self.fused_activation,
            quantize_inputs=list(self.quantize_inputs),
            quantize_output=self.quantize_output,
            quantize=self.quantize,
            frozen=self.frozen,
            prune=codec.encode_field(self.prune),
            call_keys=list(self.call_keys) if self.call_keys else None,
            compress=codec.encode_field(self.compress),
        )
        return cfg
