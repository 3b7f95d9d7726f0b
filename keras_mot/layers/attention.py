"""Adapter for `MultiHeadAttention`: its forward pass recomputed from its public sublayers.

TFLite has no attention op; the TF 2.21 converter lowers Keras 3 self-attention to (int8
tensors marked *):

    query* = FULLY_CONNECTED(x, Wq, bq) -> RESHAPE     (likewise key*, value*)
    query_scaled* = MUL(query, 1/sqrt(key_dim))
    scores* = BATCH_MATMUL(TRANSPOSE(query_scaled), TRANSPOSE(key))
    softmax* = SOFTMAX(scores)                     (fixed int8 range: scale 1/256, zero point -128)
    context* = BATCH_MATMUL(softmax, TRANSPOSE(value)) -> TRANSPOSE -> RESHAPE
    output* = FULLY_CONNECTED(context, Wo, bo)

(RESHAPE / TRANSPOSE keep their input's scale.) With an `attention_mask` (KerasHub's encoders
pass the padding mask this way), Keras' masked softmax becomes
`SELECT_V2(mask, scores, -1e9) -> SOFTMAX -> SELECT_V2(mask, softmax, 0)`; SELECT_V2 keeps its
input's int8 scale, so a masked score sits on the lowest code of the scores' grid (not at -1e9)
and keeps a small weight in the softmax's denominator. The wrapper computes exactly that, so
training sees what the int8 model computes. The projections are computed as 2-D matrix
products with the bias added before the reshape, so the converter fuses each bias into its
FULLY_CONNECTED (int32 bias) instead of emitting a separate int8 ADD, which Keras' EinsumDense
form `einsum -> reshape -> add` produces. Kernels are int8 per tensor (they are reshaped into the
FULLY_CONNECTED layout). Supported: attention over axis 1 of rank-3 inputs, with or without an
explicit `attention_mask` (no causal mask, no returned scores, no gate, no cache).
"""

import keras
from keras import ops

from keras_mot.errors import KerasMotError, format_error
from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, WeightRef, register_adapter

_PROJECTIONS = ("query", "key", "value")


@keras.saving.register_keras_serializable(package="keras_mot")
def gelu_tanh(x):
    """GELU with the tanh approximation, as a named, serializable activation.

    Keras 3 has no string name for `gelu(approximate=True)`; use this function as a layer's
    `activation` so keras_mot recognises it (the converter fuses it into TFLite GELU) and `.keras`
    files load with `safe_mode=True`.

    Example:
        >>> keras.layers.Dense(64, activation=gelu_tanh)
    """
    return keras.activations.gelu(x, approximate=True)


def _check(layer):
    axes = layer.attention_axes
    if axes not in (None, (1,), [1], (-2,), [-2]) or getattr(layer, "_use_gate", False):
        raise KerasMotError(
            format_error(
                f"MultiHeadAttention '{layer.name}': keras_mot quantizes attention over the sequence "
                "axis of (batch, length, width) inputs, without gating.",
                received=f"attention_axes={axes}, use_gate={getattr(layer, '_use_gate', False)}",
                fix="Use attention_axes=None, or exclude the layer from quantization.",
            )
        )


_ARGUMENTS = ("query", "value", "key", "attention_mask")
# Keyword arguments that may be given with their default value (nothing to model).
_DEFAULTS = {
    "return_attention_scores": False,
    "use_causal_mask": False,
    "cache": None,
    "cache_update_index": None,
}


def _shapes(input_shape):
    """(query, value[, key]) shapes from the wrapper's input shape."""
    if isinstance(input_shape, dict):
        return tuple(tuple(input_shape[k]) for k in _ARGUMENTS[:3] if k in input_shape)
    if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
        return tuple(tuple(s) for s in input_shape)
    return (tuple(input_shape), tuple(input_shape))


def _project(x, kernel, bias, heads_shape):
    """x (batch, length, width) @ kernel (width, *heads_shape) [+ bias] -> (batch, length, *heads_shape)."""
    width = x.shape[-1]
    flat = ops.matmul(ops.reshape(x, (-1, width)), ops.reshape(kernel, (width, -1)))
    if bias is not None:
        flat = ops.add(flat, ops.reshape(bias, (-1,)))
    length = x.shape[1] if x.shape[1] is not None else ops.shape(x)[1]
    return ops.reshape(flat, (-1, length) + tuple(heads_shape))


@register_adapter(keras.layers.MultiHeadAttention)
class MultiHeadAttentionAdapter(LayerAdapter):
    """MultiHeadAttention -> FULLY_CONNECTED x 4, MUL, BATCH_MATMUL x 2, SOFTMAX (all int8).

    Example:
        >>> x = keras.Input((16, 32))
        >>> model = keras.Model(x, keras.layers.MultiHeadAttention(2, 16)(x, x))
        >>> q = mot.quantize(model)
    """

    kind = LayerKind.ATTENTION
    tflite_ops = ("FULLY_CONNECTED", "MUL", "BATCH_MATMUL", "SOFTMAX")

    def call_inputs(self, layer, args, kwargs):
        bound = dict(zip(_ARGUMENTS[:3], args))
        for key, value in kwargs.items():
            if key == "training" or (key in _DEFAULTS and value is _DEFAULTS[key]):
                continue
            if key not in _ARGUMENTS or value is None and key != "key":
                return None
            if value is not None:
                bound[key] = value
        if "query" not in bound or "value" not in bound:
            return None
        keys = tuple(k for k in _ARGUMENTS if k in bound)
        return keys, [bound[k] for k in keys]

    def weights(self, layer):
        refs = {
            f"{name}_kernel": WeightRef(f"{name}_dense.kernel", -1, LayerKind.DENSE) for name in _PROJECTIONS
        }
        refs["output_kernel"] = WeightRef("output_dense.kernel", -1, LayerKind.DENSE)
        return refs

    def prunable_weights(self, layer):
        # All four projections are FULLY_CONNECTED in TFLite (module doc).
        return tuple(f"{name}_kernel" for name in _PROJECTIONS) + ("output_kernel",)

    def sparsity_kind(self, layer, name="kernel"):
        # q/k/v kernels (hidden, heads, head_dim) contract their first axis; the output kernel
        # (heads, head_dim, hidden) its first two (keras_mot.sparsity.layout).
        return LayerKind.EINSUM_IN2 if name == "output_kernel" else LayerKind.EINSUM

    def activation_fn(self, layer):
        return None

    def intermediate_points(self, layer):
        _check(layer)  # runs when the wrapper is created: unsupported configs fail at quantize()
        return ("query", "key", "value", "query_scaled", "scores", "softmax", "context")

    def fixed_points(self, layer):
        return {"softmax": "softmax"}

    def build(self, layer, input_shape):
        layer.build(*_shapes(input_shape))

    def compute_output_shape(self, layer, input_shape):
        return layer.compute_output_shape(*_shapes(input_shape))

    def forward(self, layer, inputs, weights, point):
        _check(layer)
        mask = None
        if isinstance(inputs, dict):
            query, value = inputs["query"], inputs["value"]
            key, mask = inputs.get("key", value), inputs.get("attention_mask")
        else:
            if not isinstance(inputs, (list, tuple)):
                inputs = [inputs, inputs]
            query, value = inputs[0], inputs[1]
            key = inputs[2] if len(inputs) > 2 else value
        heads = (layer.num_heads, layer.key_dim)
        q = point("query", _project(query, weights["query_kernel"], layer.query_dense.bias, heads))
        k = point("key", _project(key, weights["key_kernel"], layer.key_dense.bias, heads))
        v = point(
            "value",
            _project(
                value,
                weights["value_kernel"],
                layer.value_dense.bias,
                (layer.num_heads, layer.value_dim or layer.key_dim),
            ),
        )
        scale = ops.cast(1.0 / float(layer.key_dim) ** 0.5, q.dtype)
        q = point("query_scaled", ops.multiply(q, scale))
        scores = point("scores", ops.einsum("btnh,bsnh->bnts", q, k))
        keep = None
        if mask is not None:  # (batch, target, source) -> broadcast over heads
            keep = ops.expand_dims(ops.not_equal(ops.cast(mask, "int32"), 0), 1)
            scores = point.reuse("scores", ops.where(keep, scores, -1e9))
        probs = point("softmax", ops.softmax(scores, axis=-1))
        if keep is not None:
            probs = point.reuse("softmax", ops.where(keep, probs, 0.0))
        context = point("context", ops.einsum("bnts,bsnh->btnh", probs, v))
        out_kernel = weights["output_kernel"]
        length = context.shape[1] if context.shape[1] is not None else ops.shape(context)[1]
        flat = ops.reshape(context, (-1, length, context.shape[2] * context.shape[3]))
        y = _project(
            flat,
            ops.reshape(out_kernel, (-1, out_kernel.shape[-1])),
            layer.output_dense.bias,
            (out_kernel.shape[-1],),
        )
        return y
