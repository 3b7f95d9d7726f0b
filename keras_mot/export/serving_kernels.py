"""Serving kernels: quantized layers that compute on their integer codes, not on a float copy.

A weight stored per channel as `codes * scales` (one scale per output channel) gives
`op(x, codes * scales) == op(x, codes) * scales` for any op linear in the weight whose output
channels are the weight's channels (matmul, einsum, convolution, depthwise convolution): the
serving graph casts the int8 codes to the compute dtype, runs the op on them and multiplies its
output by the scales, before the bias and the activation. The codes are integers of at most 127
in magnitude, exact in float32 and in bfloat16; results match the dequantized weight's up to
float rounding. The per-call work on the weight is one cast (no multiply), and with bfloat16
compute the op runs in bfloat16.

Dense kernels larger than `CHUNK_ELEMENTS` are cast in blocks of rows, each block's matmul
summed, so that a cast block is read from cache (`chunked_matmul`). int4 Dense kernels (blocks
along the reduction axis) are unpacked, cast and scaled one block of rows at a time
(`int4_matmul`), and so are EinsumDense kernels whose einsum is a matmul of the flattened
input (`einsum_reduction_rank`); other int4 layers read their dequantized weight. Embeddings
gather first: only the looked-up rows' codes (int8, or packed int4 blocks) are unpacked and
scaled.

`install(owner, leaf, codes, scales, layout, scheme)` replaces `owner.call` on the baked model
that only the serving function runs (never the user's model) and returns False where no kernel
applies (the layer then reads its dequantized weight, as before).

Example:
    >>> install(baked_dense, "kernel", codes_variable, scales_variable, layout, scheme)
    True
"""

import keras
import numpy as np


def _scale_vector(tf, scales, channels):
    """Per-channel scales as a flat vector of `channels` entries."""
    return tf.reshape(scales, (channels,))


def _finish(tf, owner, x, bias_shape=None):
    bias = getattr(owner, "bias", None)
    if bias is not None:
        b = tf.cast(tf.convert_to_tensor(bias), x.dtype)
        x = x + (b if bias_shape is None else tf.reshape(b, bias_shape))
    activation = getattr(owner, "activation", None)
    return x if activation is None else activation(x)


# Weights larger than this many elements are cast and multiplied in blocks of rows: each block's
# cast (512 KiB in float32) is still in the core's cache when the matmul reads it, where a whole
# cast 1024x1024 kernel (4 MiB) is written to memory and read back (bench/serving_kernels.py).
CHUNK_ELEMENTS = 128 * 1024


def row_spans(rows, cols, multiple=1):
    """`[(start, stop)]` blocks of rows of a `(rows, cols)` weight, each about `CHUNK_ELEMENTS`
    elements and a multiple of `multiple` rows (one block where the weight is small).

    Example:
        >>> row_spans(1024, 1024)[:2]
        [(0, 128), (128, 256)]
    """
    step = max(multiple, CHUNK_ELEMENTS // max(cols, 1) // multiple * multiple)
    return [(a, min(a + step, rows)) for a in range(0, rows, step)]


def chunked_matmul(tf, x, codes):
    """`x @ cast(codes)` for 2-D `x` and int8 `codes (rows, cols)`, summed over row blocks
    (`row_spans`); slices of `codes` along its first axis share its buffer."""
    rows, cols = int(codes.shape[0]), int(codes.shape[1])
    spans = row_spans(rows, cols)
    if len(spans) == 1:
        return tf.matmul(x, tf.cast(codes, x.dtype))
    return tf.add_n([tf.matmul(x[:, a:b], tf.cast(codes[a:b], x.dtype)) for a, b in spans])


def _as_matrix(tf, inputs, units, fn):
    """`fn` on `inputs` flattened to 2-D, reshaped back to `(..., units)`."""
    if inputs.shape.rank == 2:
        return fn(inputs)
    flat = tf.reshape(inputs, [-1, int(inputs.shape[-1])])
    out = tf.reshape(fn(flat), tf.concat([tf.shape(inputs)[:-1], [units]], 0))
    return tf.ensure_shape(out, inputs.shape[:-1].concatenate([units]))


def _dense(tf, owner, codes, scales):
    def call(inputs, training=None):
        x = _as_matrix(tf, inputs, owner.units, lambda flat: chunked_matmul(tf, flat, codes))
        x = x * tf.cast(_scale_vector(tf, scales, owner.units), x.dtype)
        return _finish(tf, owner, x)

    return call


def int4_matmul(tf, x, packed, scales):
    """`x @ W` for 2-D `x` and the int4 weight `W (rows, cols)` stored as `packed` bytes
    `(padded_rows / 2, cols)` (row 2i in the low nibble) with `scales (blocks, cols)` (blocks of
    `padded_rows / blocks` rows, the scheme's block size or less on a short weight): the bytes
    are unpacked to int8 codes, then cast and scaled one block of rows (`row_spans`, whole
    scale blocks) at a time, in cache, and the blocks' products summed.

    Example:
        >>> int4_matmul(tf, tf.ones((2, 64)), packed, scales).shape
        TensorShape([2, 16])
    """
    rows, cols = 2 * int(packed.shape[0]), int(packed.shape[1])
    codes = unpack_int4(tf, packed)
    block = rows // int(scales.shape[0])
    pad = rows - int(x.shape[-1])
    if pad:
        x = tf.pad(x, [[0, 0], [0, pad]])
    parts = []
    for a, b in row_spans(rows, cols, multiple=block):
        whole = (a, b) == (0, rows)  # no slicing ops in the graph for a small weight
        c, s = (codes, scales) if whole else (codes[a:b], scales[a // block : b // block])
        w = tf.reshape(tf.cast(c, x.dtype), (-1, block, cols)) * tf.cast(tf.expand_dims(s, 1), x.dtype)
        parts.append(tf.matmul(x if whole else x[:, a:b], tf.reshape(w, (b - a, cols))))
    return parts[0] if len(parts) == 1 else tf.add_n(parts)


def _dense_int4(tf, owner, packed, scales):
    def call(inputs, training=None):
        x = _as_matrix(tf, inputs, owner.units, lambda flat: int4_matmul(tf, flat, packed, scales))
        return _finish(tf, owner, x)

    return call


def einsum_reduction_rank(owner, layout):
    """For an EinsumDense whose kernel is laid out `(reduction axes, channel axes)` and whose
    equation contracts the input's trailing axes with them in order (`"btd,dhk->bthk"`,
    `"bthk,hkd->btd"`): the number of reduction axes, the einsum being a matmul of the flattened
    input with the kernel's matrix. `None` otherwise.

    Example:
        >>> einsum_reduction_rank(EinsumDense("btd,dhk->bthk", (6, 2, 8)), WeightLayout((0,), (1, 2)))
        1
    """
    equation = owner.equation.replace(" ", "")
    if "..." in equation:
        return None
    lhs, out = equation.split("->")
    inp, kernel = lhs.split(",")
    r = len(layout.reduce_axes)
    reduction, channels = kernel[:r], kernel[r:]
    if layout.perm != tuple(range(len(kernel))) or not reduction or not inp.endswith(reduction):
        return None
    return r if out == inp[: len(inp) - r] + channels else None


def _einsum_int4(tf, owner, packed, scales, r):
    channel_dims = [int(d) for d in owner.kernel.shape[r:]]

    def call(inputs, training=None):
        flat = tf.reshape(inputs, [-1, int(np.prod(inputs.shape[-r:]))])
        x = tf.reshape(
            int4_matmul(tf, flat, packed, scales), tf.concat([tf.shape(inputs)[:-r], channel_dims], 0)
        )
        return _finish(tf, owner, tf.ensure_shape(x, inputs.shape[:-r].concatenate(channel_dims)))

    return call


def einsum_output_scales(tf, owner, codes, scales, layout):
    """The per-channel `scales` (kernel channel order) reshaped to broadcast on the output of
    EinsumDense `owner` (its output letters may order the channels differently).

    Example:
        >>> x = tf.einsum(owner.equation, inputs, codes_as_float) * einsum_output_scales(tf, owner, codes, scales, layout)
    """
    lhs, out = owner.equation.replace(" ", "").split("->")
    kernel = lhs.split(",")[1]
    channel_letters = [kernel[a] for a in layout.channel_axes]
    channel_dims = [int(codes.shape[a]) for a in layout.channel_axes]
    order = sorted(range(len(channel_letters)), key=lambda i: out.index(channel_letters[i]))
    broadcast = [channel_dims[channel_letters.index(c)] if c in channel_letters else 1 for c in out]
    return tf.reshape(tf.transpose(tf.reshape(scales, channel_dims), order), broadcast)


def _einsum(tf, owner, codes, scales, layout):
    def call(inputs, training=None):
        x = tf.einsum(owner.equation, inputs, tf.cast(codes, inputs.dtype))
        s = einsum_output_scales(tf, owner, codes, scales, layout)  # in the graph: scales stay variables
        return _finish(tf, owner, x * tf.cast(s, x.dtype))

    return call


def channel_shape(owner):
    """Shape that broadcasts one value per output channel on convolution `owner`'s output.

    Example:
        >>> channel_shape(conv2d_channels_last)
        (1, 1, 1, -1)
    """
    if owner.data_format == "channels_last":
        return (1,) * (owner.rank + 1) + (-1,)
    return (1, -1) + (1,) * owner.rank


def _conv(tf, owner, codes, scales):
    shape = channel_shape(owner)

    def call(inputs):
        x = owner.convolution_op(inputs, tf.cast(codes, inputs.dtype))
        x = x * tf.cast(tf.reshape(scales, shape), x.dtype)
        return _finish(tf, owner, x, shape)

    return call


def _depthwise(tf, owner, codes, scales):
    shape = channel_shape(owner)
    channels = (1, 1) + tuple(int(d) for d in codes.shape[2:])  # (1, 1, in, multiplier)

    def call(inputs):
        x = keras.ops.depthwise_conv(
            inputs,
            tf.cast(codes, inputs.dtype),
            strides=owner.strides,
            padding=owner.padding,
            dilation_rate=owner.dilation_rate,
            data_format=owner.data_format,
        )
        s = tf.reshape(tf.broadcast_to(scales, channels), shape)
        x = x * tf.cast(s, x.dtype)
        return _finish(tf, owner, x, shape)

    return call


def unpack_int4(tf, packed):
    """Packed int4 bytes `(P, ...)` to int8 codes `(2P, ...)` (row 2i: low nibble)."""
    low = tf.bitwise.right_shift(tf.bitwise.left_shift(packed, 4), 4)  # sign-extends
    high = tf.bitwise.right_shift(packed, 4)
    both = tf.stack([low, high], axis=1)
    if packed.shape.is_fully_defined():  # a static shape: no shape ops in the graph
        return tf.reshape(both, [2 * int(packed.shape[0])] + packed.shape[1:].as_list())
    return tf.reshape(both, tf.concat([[-1], tf.shape(packed)[1:]], 0))


def _embedding(tf, owner, codes, scales, scheme, original):
    dim = int(owner.output_dim)

    def rows(ids):
        if scheme.block_size is None:  # codes (vocab, dim), scales (vocab, 1)
            return tf.cast(tf.gather(codes, ids), tf.float32) * tf.gather(scales, ids)
        # codes: the (dim, vocab) matrix, packed along dim; scales (blocks, vocab)
        picked = tf.cast(unpack_int4(tf, tf.gather(codes, ids, axis=1)), tf.float32)
        blocks = int(scales.shape[0])
        grid = tf.reshape(picked, tf.concat([[blocks, -1], tf.shape(ids)], 0))
        grid = grid * tf.expand_dims(tf.gather(scales, ids, axis=1), 1)
        matrix = tf.reshape(grid, tf.concat([[-1], tf.shape(ids)], 0))[:dim]
        rank = len(ids.shape)
        out = tf.transpose(matrix, list(range(1, rank + 1)) + [0])
        return tf.ensure_shape(out, ids.shape.concatenate([dim]))  # static shape for what follows

    def call(inputs, *args, **kwargs):
        if args or any(kwargs.values()):  # e.g. a reversible embedding's reverse=True
            return original(inputs, *args, **kwargs)
        ids = inputs if inputs.dtype in (tf.int32, tf.int64) else tf.cast(inputs, tf.int32)
        return tf.cast(rows(ids), owner.compute_dtype)

    return call


_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def _plain(owner):
    """No LoRA, no Keras quantization mode: `call` is the layer's float computation."""
    mode = getattr(getattr(owner, "dtype_policy", None), "quantization_mode", None)
    return not getattr(owner, "lora_enabled", False) and mode is None


def kernel_kind(owner, leaf, layout, scheme):
    """Which serving kernel computes `owner`'s weight `leaf` on its codes (`"embedding"`,
    `"dense"`, `"einsum"`, `"conv"`, `"depthwise"`; int4 blocks: `"embedding"`, `"dense_int4"`, `"einsum_int4"`),
    or `None`: the weight is read dequantized.

    Example:
        >>> kernel_kind(dense, "kernel", WeightLayout((0,), (1,)), get_scheme("int8_weight_only"))
        'dense'
    """
    if not _plain(owner):
        return None
    if leaf == "embeddings" and isinstance(owner, keras.layers.Embedding):
        return "embedding" if layout.channel_axes == (0,) else None
    kind = type(owner)
    if leaf != "kernel":
        return None
    if scheme.block_size is not None:  # int4 blocks: matmuls only, others read dequantized
        if kind is keras.layers.Dense and layout.channel_axes == (1,):
            return "dense_int4"
        if kind is keras.layers.EinsumDense and einsum_reduction_rank(owner, layout):
            return "einsum_int4"
        return None
    if kind is keras.layers.Dense and layout.channel_axes == (1,):
        return "dense"
    if kind is keras.layers.EinsumDense:
        return "einsum"
    if kind in _CONVS and owner.data_format in ("channels_last", "channels_first"):
        return "conv" if layout.channel_axes == (owner.rank + 1,) else None
    if kind is keras.layers.DepthwiseConv2D and layout.channel_axes in ((2,), (2, 3)):
        return "depthwise"
    return None


def kernel_for(tf, owner, leaf, codes, scales, layout, scheme):
    """The replacement `call` for `owner` whose weight `leaf` is stored as `codes`/`scales`, or
    `None` where no serving kernel applies."""
    kind = kernel_kind(owner, leaf, layout, scheme)
    if kind == "embedding":
        return _embedding(tf, owner, codes, scales, scheme, owner.call)
    if kind == "einsum":
        return _einsum(tf, owner, codes, scales, layout)
    if kind == "dense_int4":
        return _dense_int4(tf, owner, codes, scales)
    if kind == "einsum_int4":
        return _einsum_int4(tf, owner, codes, scales, einsum_reduction_rank(owner, layout))
    if kind is None:
        return None
    return {"dense": _dense, "conv": _conv, "depthwise": _depthwise}[kind](tf, owner, codes, scales)


def install(owner, leaf, codes, scales, layout, scheme):
    """Replaces `owner.call` with its serving kernel; returns whether one applies.

    Example:
        >>> install(baked_conv, "kernel", codes, scales, layout, scheme)
    """
    import tensorflow as tf

    call = kernel_for(tf, owner, leaf, codes, scales, layout, scheme)
    if call is None:
        return False
    object.__setattr__(owner, "call", call)
    return True
