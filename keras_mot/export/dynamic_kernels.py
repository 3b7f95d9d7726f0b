"""Serving kernels of `dynamic_int8`: int8 activations quantized on the fly, op on the codes.

For a Dense, EinsumDense, Conv or DepthwiseConv2D layer whose input the scheme quantizes
(`keras_mot.quantization.dynamic_int8.activation_axes`), the serving graph computes, per call:

    inv = 127 / (max |x| over the row + 1e-7)          # the Keras model's rule, same ops
    q = clip(round(x * inv), -127, 127)                # int8 codes, held in float32
    y = op(q, float(codes)) * weight_scales / inv      # then bias, activation

Both operands are integers of magnitude at most 127: their products and sums are exact in
float32 while a dot product has fewer than 1040 terms (127 * 127 * 1040 < 2**24), i.e. the same
accumulator an int8 x int8 -> int32 kernel computes. TensorFlow has that kernel for matmul
(`tf.linalg.matmul(..., output_type=tf.int32)`, BatchMatMulV3) but not for convolutions; on
this machine's CPU it ran 2-5x slower than the float32 matmul on the same codes
(`bench/dynamic_int8_matmul.py`), so every kernel here computes in float32 on the codes.

`install` is the hook `keras_mot.export.tf_serving` calls for every stored weight: layers with
dynamic activations get a kernel of this module; every other weight (an Embedding under
`dynamic_int8`, any weight-only scheme) goes to `keras_mot.export.serving_kernels.install`.

Example:
    >>> install(baked_dense, "kernel", codes_variable, scales_variable, layout, scheme)
    True
"""

import keras

from keras_mot.errors import ExportError, format_error
from keras_mot.export import serving_kernels
from keras_mot.quantization.dynamic_int8 import EPSILON, QMAX, activation_axes


def quantize_input(tf, x, axes):
    """`(q, inv)`: `x`'s int8 codes (float32 values) and its inverse scale per row."""
    axes = [a % x.shape.rank for a in axes]
    inv = tf.constant(float(QMAX), x.dtype) / (
        tf.reduce_max(tf.abs(x), axis=axes, keepdims=True) + tf.constant(EPSILON, x.dtype)
    )
    return tf.clip_by_value(tf.round(x * inv), -float(QMAX), float(QMAX)), inv


def _finish(owner, x, bias_shape=None):
    import tensorflow as tf

    if getattr(owner, "bias", None) is not None:
        b = tf.cast(tf.convert_to_tensor(owner.bias), x.dtype)
        x = x + (b if bias_shape is None else tf.reshape(b, bias_shape))
    return x if owner.activation is None else owner.activation(x)


def _dense(tf, owner, codes, scales, axes):
    def call(inputs, training=None):
        q, inv = quantize_input(tf, inputs, axes)
        rank = inputs.shape.rank
        w = tf.cast(codes, q.dtype)
        x = tf.matmul(q, w) if rank == 2 else tf.tensordot(q, w, [[rank - 1], [0]])
        x = x * tf.reshape(scales, (-1,)) / inv
        return _finish(owner, x)

    return call


def _einsum(tf, owner, codes, scales, layout, axes):
    lhs, out = owner.equation.replace(" ", "").split("->")
    letters = lhs.split(",")[0]
    kept = "".join(c for i, c in enumerate(letters) if i not in axes)
    rescale = f"{out},{kept}->{out}"  # each output element times its input row's 1 / inv

    def call(inputs, training=None):
        q, inv = quantize_input(tf, inputs, axes)
        x = tf.einsum(owner.equation, q, tf.cast(codes, q.dtype))
        s = serving_kernels.einsum_output_scales(tf, owner, codes, scales, layout)
        x = tf.einsum(rescale, x * s, 1.0 / tf.squeeze(inv, axes))
        return _finish(owner, x)

    return call


def _conv(tf, owner, codes, scales, axes):
    shape = serving_kernels.channel_shape(owner)

    def call(inputs):
        q, inv = quantize_input(tf, inputs, axes)  # inv: one per example, (B, 1, ..., 1)
        x = owner.convolution_op(q, tf.cast(codes, q.dtype))
        x = x * tf.reshape(scales, shape) / inv
        return _finish(owner, x, shape)

    return call


def _depthwise(tf, owner, codes, scales, axes):
    shape = serving_kernels.channel_shape(owner)
    channels = (1, 1) + tuple(int(d) for d in codes.shape[2:])  # (1, 1, in, multiplier)

    def call(inputs):
        q, inv = quantize_input(tf, inputs, axes)
        x = keras.ops.depthwise_conv(
            q,
            tf.cast(codes, q.dtype),
            strides=owner.strides,
            padding=owner.padding,
            dilation_rate=owner.dilation_rate,
            data_format=owner.data_format,
        )
        x = x * tf.reshape(tf.broadcast_to(scales, channels), shape) / inv
        return _finish(owner, x, shape)

    return call


def dynamic_kernel_for(tf, owner, leaf, codes, scales, layout, scheme):
    """The `dynamic_int8` replacement `call` of `owner`, or `None` where its input stays float.

    Raises:
        ExportError: a layer whose input the scheme quantizes but that has no kernel here
            (the SavedModel would silently differ from the Keras model).
    """
    axes = activation_axes(owner) if scheme.dynamic else None
    if axes is None:
        return None
    kind = serving_kernels.kernel_kind(owner, leaf, layout, scheme)
    if kind == "dense":
        return _dense(tf, owner, codes, scales, axes)
    if kind == "einsum":
        return _einsum(tf, owner, codes, scales, layout, axes)
    if kind == "conv":
        return _conv(tf, owner, codes, scales, axes)
    if kind == "depthwise":
        return _depthwise(tf, owner, codes, scales, axes)
    raise ExportError(
        format_error(
            f"Layer '{owner.name}' quantizes its input dynamically but its weight '{leaf}' has no "
            "dynamic_int8 serving kernel.",
            layer=owner.name,
            received=f"{type(owner).__name__}, kernel kind {kind!r}",
            fix="Quantize this layer with 'int8_weight_only' (annotate or a Recipe rule).",
        )
    )


def install(owner, leaf, codes, scales, layout, scheme):
    """Replaces `owner.call` with its serving kernel (this module's for dynamic activations,
    else `serving_kernels.install`'s); returns whether one applies.

    Example:
        >>> install(baked_conv, "kernel", codes, scales, layout, get_scheme("dynamic_int8"))
        True
    """
    import tensorflow as tf

    call = dynamic_kernel_for(tf, owner, leaf, codes, scales, layout, scheme)
    if call is None:
        return serving_kernels.install(owner, leaf, codes, scales, layout, scheme)
    object.__setattr__(owner, "call", call)
    return True
