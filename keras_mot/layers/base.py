"""`LayerAdapter`: what keras_mot needs to know about one layer family, and its registry.

An adapter names a layer's quantizable weights and their output-channel axis, and recomputes
the layer's forward pass with transformed weights through public seams (`keras.ops.conv`,
`keras.ops.matmul`, ...). It never patches the layer. Adapters are registered by layer (or
operation) class; adding a layer type means adding a module that calls `register_adapter`.
"""

import dataclasses
from typing import Optional

import keras
from keras import ops

from keras_mot.layer_kinds import LayerKind


@dataclasses.dataclass(frozen=True)
class WeightRef:
    """A weight an adapter exposes: attribute name on the layer and its output-channel axis.

    Attributes:
        attr: attribute name on the layer (e.g. `"kernel"`, `"depthwise_kernel"`).
        channel_axis: axis of the kernel that indexes output channels (per-channel ranges,
            BatchNormalization folding), or `None` when it has none.
        kind: the layer family used by sparsity patterns and schemes (`LayerKind.CONV`,
            `LayerKind.DENSE`, ...; a `LayerKind` equals its string).
        quantize: whether the weight is fake-quantized (biases are not: TFLite derives them).
    """

    attr: str
    channel_axis: Optional[int]
    kind: str
    quantize: bool = True


class LayerAdapter:
    """Base class: one subclass per layer family.

    Class attributes:
        kind: layer family (a `keras_mot.LayerKind`: `LayerKind.CONV`, `LayerKind.DENSE`,
            `LayerKind.MERGE`, ...; a new family may use its own string).
        fuses_relu: TFLite fuses a following ReLU/ReLU6 into this op.
        folds_batchnorm: a following BatchNormalization can be folded into the weights.
        same_scale_output: the output keeps the input's quantization parameters but is
            re-rounded onto that grid (AVERAGE_POOL_2D, RESIZE_BILINEAR).
        shares_input_range: TFLite requires the inputs to have the output's scale
            (CONCATENATION); producers feeding only this layer skip their own output range.
        tflite_ops: TFLite builtin(s) the layer becomes (documentation and lint).
        quantizes_inputs: inputs that no producer quantized get a quantization point here
            (False for layers reading integer ids, e.g. Embedding).
    """

    kind = LayerKind.GENERIC
    same_scale_output = False
    fuses_relu = False
    folds_batchnorm = False
    shares_input_range = False
    tflite_ops = ()
    quantizes_inputs = True

    def weights(self, layer):
        """`{name: WeightRef}` of the weights the forward pass reads (may be empty)."""
        return {}

    def prunable_weights(self, layer):
        """Names (keys of `weights`) of the weights pruning masks; default: the `"kernel"`."""
        return ("kernel",) if "kernel" in self.weights(layer) else ()

    def sparsity_kind(self, layer, name="kernel"):
        """Layout family of weight `name` for sparsity patterns (`keras_mot.sparsity.layout`);
        `None` when no block pattern maps onto the runtime op. Defaults to the weight's kind."""
        refs = self.weights(layer)
        return refs[name].kind if name in refs else None

    def bias_attr(self, layer):
        """Attribute name of the bias (folded with BatchNormalization), or `None`."""
        return None

    def activation(self, layer):
        """Name of the activation the layer applies after its op (`"linear"` for none)."""
        return "linear"

    def bias_input_point(self, layer):
        """Name of the wrapper's own point whose scale the bias uses (`None`: the input's)."""
        return None

    def activation_fn(self, layer):
        """The callable computing `activation(layer)` with the layer's parameters, or `None`."""
        return getattr(layer, "activation", None)

    def intermediate_points(self, layer):
        """Names of int8 tensors TFLite materializes inside the layer (before the output)."""
        return ()

    def fixed_points(self, layer):
        """`{point name: fixed-range kind}` for intermediate points whose int8 range the TFLite
        kernel fixes (e.g. `{"softmax": "softmax"}`); other intermediate points learn a range."""
        return {}

    def output_channel_count(self, layer):
        """Number of output channels (for BatchNormalization folding)."""
        return None

    def call_inputs(self, layer, args, kwargs):
        """`(keys, inputs)`: how a wrapper around `layer` receives one call's tensors.

        `keys` is `None` when the wrapper takes the positional input(s) as they are, or a tuple
        of argument names when the call passes tensors by keyword (the wrapper then hands
        `forward` a dict). Returns `None` when the call uses arguments the adapter does not
        model (the layer is then left float, with a finding).

        Example:
            >>> adapter.call_inputs(dense, (x,), {})     # (None, x)
        """
        if any(v is not None for k, v in kwargs.items() if k != "training"):
            return None
        if len(args) == 1:
            return None, args[0]
        return None, list(args)

    def build(self, layer, input_shape):
        """Builds the wrapped layer from the wrapper's input shape (a list for several inputs)."""
        layer.build(input_shape)

    def compute_output_shape(self, layer, input_shape):
        """The wrapped layer's output shape for the wrapper's input shape."""
        return layer.compute_output_shape(input_shape)

    def forward(self, layer, inputs, weights, point):
        """Computes the layer's op, without its bias and activation.

        Args:
            layer: the wrapped Keras layer.
            inputs: the (possibly fake-quantized) inputs, as the layer's call receives them.
            weights: `{name: tensor}` transformed weights (masked, folded, fake-quantized), as
                `weights(layer)` names them. The bias (`bias_attr`) is not included: the
                wrapper adds it to the result, rounded to TFLite's int32 grid.
            point: `point(name, tensor)` fake-quantizes an intermediate tensor.
        """
        raise NotImplementedError


_ADAPTERS = {}


def register_adapter(*types):
    """Class decorator: registers an adapter class for the given layer/operation types.

    Example:
        >>> @register_adapter(MyLayer)
        ... class MyLayerAdapter(LayerAdapter):
        ...     kind = "elementwise"
        ...     def forward(self, layer, inputs, weights, point):
        ...         return layer.call(inputs)
    """

    def decorate(cls):
        instance = cls()
        for t in types:
            _ADAPTERS[t] = instance
        return cls

    return decorate


def adapter_for(obj):
    """The adapter registered for `obj`'s class (nearest in the MRO), or `None`.

    Types may also be registered by their Keras-registered name (`"keras_mot>PositionEmbedding"`),
    so that an adapter module need not import the module defining the layer.
    """
    for klass in type(obj).__mro__:
        if klass in _ADAPTERS:
            return _ADAPTERS[klass]
    if _ADAPTERS and any(isinstance(k, str) for k in _ADAPTERS):
        return _ADAPTERS.get(keras.saving.get_registered_name(type(obj)))
    return None


def registered_types():
    """All layer/operation types that have an adapter (name-registered ones excluded)."""
    return tuple(t for t in _ADAPTERS if not isinstance(t, str))


def registered_adapters():
    """`{type: adapter}` for every type registered by class (name-registered ones excluded).

    Example:
        >>> registered_adapters()[keras.layers.Dense].tflite_ops
        ('FULLY_CONNECTED',)
    """
    return {t: a for t, a in _ADAPTERS.items() if not isinstance(t, str)}


def resolve_attr(obj, path):
    """`getattr` that follows dotted paths (`"query_dense.kernel"`: a sublayer's weight).

    Example:
        >>> resolve_attr(mha_layer, "query_dense.kernel").shape
    """
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def channel_broadcast(vector, rank, axis):
    """Reshapes a per-channel vector to broadcast along `axis` of a rank-`rank` tensor."""
    shape = [1] * rank
    shape[axis % rank] = -1
    return ops.reshape(vector, shape)
