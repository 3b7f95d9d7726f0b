"""Adapter for `EinsumDense`, the projection layer of Keras 3 attention blocks.

The TF 2.21 converter lowers `einsum(x, kernel)` with a constant kernel to FULLY_CONNECTED
(BatchMatMul with a constant 2-D right-hand side, legalize_tf.cc) between RESHAPE / TRANSPOSE ops
that keep their input's scale; equations with a batch axis shared with the kernel stay
BATCH_MATMUL. Either way TFLite takes a per-tensor int8 kernel here (the kernel is reshaped /
transposed into the op's layout, which a per-channel range cannot follow), so the kernel kind is
`"dense"` (per tensor in the `int8` scheme).

A bias over the last output axis only (shape `(units,)`) is the wrapper's bias: it is rounded to
TFLite's int32 grid like a Dense bias. A bias over several axes (e.g. `bias_axes="de"` in `"abc,cde->abde"`) is added after the RESHAPE
by a separate int8 ADD in TFLite (converter output on TF 2.21), so the einsum result gets its own
quantization point and the bias is added inside the forward pass.
"""

import keras
from keras import ops

from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, WeightRef, register_adapter


def activation_name(layer):
    """Keras name of a layer's activation (`"linear"` when it has none)."""
    fn = getattr(layer, "activation", None)
    return "linear" if fn is None else getattr(fn, "__name__", str(fn))


def einsum_sparsity_kind(equation):
    """`LayerKind.EINSUM` / `LayerKind.EINSUM_IN2` / `"einsum_in3"` ... when `equation`
    contracts the kernel's leading k axes with the input's trailing k axes in the same order
    (the converter then lowers it to a FULLY_CONNECTED whose input axis is those axes flattened
    row-major); else `None`.

    Example:
        >>> str(einsum_sparsity_kind("abc,cde->abde")), str(einsum_sparsity_kind("abcd,cde->abe"))
        ('einsum', 'einsum_in2')
        >>> einsum_sparsity_kind("abc,acd->abd") is None   # batch axis shared with the kernel
        True
    """
    try:
        lhs, out = equation.replace(" ", "").split("->")
        x, kernel = lhs.split(",")
    except ValueError:
        return None
    if "." in equation:
        return None
    contracted = [c for c in kernel if c not in out]
    k = len(contracted)
    if k == 0 or kernel[:k] != "".join(contracted) or x[-k:] != kernel[:k] or any(c in x for c in kernel[k:]):
        return None
    if k <= 2:
        return LayerKind.EINSUM if k == 1 else LayerKind.EINSUM_IN2
    return f"einsum_in{k}"  # no layout registered: pruning says so (get_layout)


@register_adapter(keras.layers.EinsumDense)
class EinsumDenseAdapter(LayerAdapter):
    """EinsumDense -> FULLY_CONNECTED (or BATCH_MATMUL) + RESHAPE, per-tensor int8 kernel.

    Example:
        >>> q = mot.quantize(keras.Sequential([keras.Input((8, 16)),
        ...     keras.layers.EinsumDense("abc,cd->abd", (8, 4), bias_axes="d")]))
    """

    kind = LayerKind.DENSE
    fuses_relu = True
    tflite_ops = ("FULLY_CONNECTED", "BATCH_MATMUL")

    def weights(self, layer):
        return {"kernel": WeightRef("kernel", -1, LayerKind.DENSE)}

    def sparsity_kind(self, layer, name="kernel"):
        return einsum_sparsity_kind(layer.equation)

    def bias_attr(self, layer):
        bias = getattr(layer, "bias", None)
        return "bias" if bias is not None and len(bias.shape) == 1 else None

    def activation(self, layer):
        return activation_name(layer)

    def intermediate_points(self, layer):
        # A bias over several axes is added after the converter's RESHAPE as a separate int8 ADD.
        bias = getattr(layer, "bias", None)
        return ("einsum",) if bias is not None and len(bias.shape) > 1 else ()

    def bias_input_point(self, layer):
        return None

    def output_channel_count(self, layer):
        return int(layer.kernel.shape[-1])

    def forward(self, layer, inputs, weights, point):
        y = ops.einsum(layer.equation, inputs, weights["kernel"])
        bias = getattr(layer, "bias", None)
        if bias is not None and self.bias_attr(layer) is None:
            y = ops.add(point("einsum", y), bias)
        return y
