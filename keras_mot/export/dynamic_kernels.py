"""Serving kernels of `dynamic_int8`: int8 activations quantized on the fly, op on the codes.

For a Dense, EinsumDense, Conv or DepthwiseConv2D layer whose input the scheme quantizes
(`keras_mot.quantization.dynamic_int8.activation_axes`), the serving graph computes, per call:

    inv = 127 / (max |x| over the row + 1e-7)          # the Keras model's rule, same ops
    q = clip(round(x * inv), -127, 127)                # int8 codes, held in float32
    y = op(q, float(codes)) * weight_scales / inv      # then bias, activation

Both operands are integers of magnitude at most 127: their products and sums are exact in
float32 while a dot product has fewer than 1040 terms (127 * 127 * 1040 < 2**24), i.e. the same
accumulator an int8 x int8 -> int32 kernel computes. Under `dynamic_int8_onednn` a Dense layer
with at least `ONEDNN_MIN_ELEMENTS` weights runs that integer kernel (`int8_matmul`): oneDNN's
`QuantizedMatMulWithBias` (quint8 x qint8 -> qint32; AMX / VNNI on CPUs that have them) on
`q + 128`, its bias `-128 * column sums of the codes` removing the offset. That op passes its
int32 sums through float32 before adding the bias, so the reduction axis is cut into blocks of
`EXACT_ROWS` rows (255 * 127 * 512 < 2**24) whose exact int32 results are summed: the result is
the integer dot product, identical to the float32 matmul on the codes wherever that one is
exact. The op has a kernel only where TensorFlow runs oneDNN's custom ops (x86 builds, unless
`TF_ENABLE_ONEDNN_OPTS=0`): elsewhere the signature fails with "Missing 0-th output from
QuantizedMatMulWithBias", which is why `dynamic_int8` (the float32 matmul on the codes, any
TensorFlow) stays the default. Einsum and convolutions have no int8 kernel that takes a
variable filter in TensorFlow: they compute in float32 on the codes (`bench/dynamic_int8_matmul.py`,
`bench/serving_kernels.py` time the candidates).

`install` is the hook `keras_mot.export.tf_serving` calls for every stored weight: layers with
dynamic activations get a kernel of this module; every other weight (an Embedding under
`dynamic_int8`, any weight-only scheme) goes to `keras_mot.export.serving_kernels.install`.

Example:
    >>> install(baked_dense, "kernel", codes_variable, scales_variable, layout, scheme)
    True
"""

import keras
import numpy as np

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


# oneDNN's int8 matmul costs about 0.2-0.3 ms more per call than a float32 matmul here (weight
# reorder, primitive setup): it gains on large weights only (1024 x 1024: 0.8x the float32
# matmul on the codes at batch 32; 64 x 1024 and 1024 x 10: 1.5-2x; bench/dynamic_int8_matmul.py).
ONEDNN_MIN_ELEMENTS = 512 * 1024

# Rows of the reduction axis per QuantizedMatMulWithBias call: |sum of (q + 128) * code| stays
# below 2**24 (255 * 127 * 512), where the op's float32 pass loses nothing (module doc).
EXACT_ROWS = 512


def block_sums(codes):
    """Column sums of int8 `codes (rows, cols)` per block of `EXACT_ROWS` rows, int32
    `(blocks, cols)`: `int8_matmul`'s offset correction, computed once at export.

    Example:
        >>> block_sums(np.ones((600, 2), np.int8)).tolist()
        [[512, 512], [88, 88]]
    """
    values = np.asarray(codes, np.int32)
    return np.stack(
        [values[a : a + EXACT_ROWS].sum(0, dtype=np.int32) for a in range(0, len(values), EXACT_ROWS)]
    )


def int8_matmul(tf, q, codes, sums):
    """`q @ codes` for 2-D `q` (int8 codes in [-127, 127] held as float32) and int8 `codes
    (rows, cols)` (a variable; `sums = block_sums(codes)`), in `q`'s dtype: the exact integer sums of oneDNN's quint8 x qint8
    matmul on blocks of `EXACT_ROWS` rows (needs oneDNN's custom ops; module doc).

    Example:
        >>> codes = tf.Variable([[1], [2]], dtype=tf.int8)
        >>> int8_matmul(tf, tf.constant([[127.0, -3.0]]), codes, block_sums(codes.numpy()))
        <tf.Tensor: shape=(1, 1), dtype=float32, numpy=array([[121.]], dtype=float32)>
    """
    rows, cols = int(codes.shape[0]), int(codes.shape[1])
    a = tf.bitcast(tf.cast(q + 128.0, tf.uint8), tf.quint8)
    b = tf.bitcast(tf.convert_to_tensor(codes), tf.qint8)
    parts = []
    for block, start in enumerate(range(0, rows, EXACT_ROWS)):
        stop = min(start + EXACT_ROWS, rows)
        whole = (start, stop) == (0, rows)
        bias = tf.bitcast(tf.constant(-128 * sums[block]), tf.qint32)
        out = tf.raw_ops.QuantizedMatMulWithBias(
            a=a if whole else a[:, start:stop],
            b=b if whole else b[start:stop],
            bias=bias,
            min_a=0.0,
            max_a=255.0,
            min_b=-127.0,
            max_b=127.0,
            Toutput=tf.qint32,
            input_quant_mode="SCALED",
        )[0]
        parts.append(tf.bitcast(out, tf.int32))
    acc = parts[0] if len(parts) == 1 else tf.add_n(parts)
    return tf.ensure_shape(tf.cast(acc, q.dtype), q.shape[:1].concatenate([cols]))


def _float_product(tf, codes):
    """`q @ codes` in float32 on the codes (any TensorFlow; exact while the dot product has
    fewer than 1040 terms, module doc)."""

    def product(q):
        rank = q.shape.rank
        w = tf.cast(codes, q.dtype)  # in the traced call: the codes stay an int8 variable
        return tf.matmul(q, w) if rank == 2 else tf.tensordot(q, w, [[rank - 1], [0]])

    return product


def _onednn_product(tf, codes):
    """`q @ codes` on oneDNN's int8 matmul (`int8_matmul`), inputs of any rank."""
    units, depth = int(codes.shape[1]), int(codes.shape[0])
    sums = block_sums(codes.numpy())  # at install (eager), constants of the graph

    def product(q):
        if q.shape.rank == 2:
            return int8_matmul(tf, q, codes, sums)
        x = int8_matmul(tf, tf.reshape(q, [-1, depth]), codes, sums)
        x = tf.reshape(x, tf.concat([tf.shape(q)[:-1], [units]], 0))
        return tf.ensure_shape(x, q.shape[:-1].concatenate([units]))

    return product


def _dense(tf, owner, scales, axes, product):
    def call(inputs, training=None):
        q, inv = quantize_input(tf, inputs, axes)
        x = product(q) * tf.reshape(scales, (-1,)) / inv
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
        large = int(np.prod(codes.shape)) >= ONEDNN_MIN_ELEMENTS
        product = _onednn_product if scheme.integer_matmul and large else _float_product
        return _dense(tf, owner, scales, axes, product(tf, codes))
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
