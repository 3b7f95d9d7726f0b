"""BatchNormalization folding math (pure keras.ops).

For `y = gamma * (conv(x, w) + b - mean) / sqrt(var + eps) + beta` the folded layer computes
`conv(x, w * s) + (b - mean) * s + beta` with `s = gamma / sqrt(var + eps)` per output channel.
The fake quantizer sees the folded weight, so the ranges trained are the ones TFLite stores.
"""

from keras import ops


def bn_scale(bn, variance=None):
    """Per-channel `s = gamma / sqrt(var + eps)` of a BatchNormalization layer."""
    var = bn.moving_variance if variance is None else variance
    s = ops.rsqrt(ops.cast(var, "float32") + bn.epsilon)
    if bn.scale:
        s = s * bn.gamma
    return s


def fold_kernel(kernel, scale, channel_axis):
    """Multiplies `kernel` by a per-output-channel `scale` along `channel_axis`.

    `channel_axis` may be a tuple of trailing axes whose flattened index is the output channel
    (depthwise kernels: (in, multiplier)).
    """
    rank = len(kernel.shape)
    if isinstance(channel_axis, tuple):
        lead = kernel.shape[:rank - len(channel_axis)]
        shape = (1,) * len(lead) + tuple(kernel.shape[rank - len(channel_axis):])
        return kernel * ops.reshape(scale, shape)
    shape = [1] * rank
    shape[channel_axis % rank] = -1
    return kernel * ops.reshape(scale, shape)


def fold_bias(bias, bn, scale):
    """Folded bias `(b - mean) * s + beta` (`bias` may be `None`)."""
    b = -ops.cast(bn.moving_mean, "float32")
    if bias is not None:
        b = b + bias
    b = b * scale
    if bn.center:
        b = b + bn.beta
    return b


def batch_statistics_output(bn, z, conv_bias=None):
    """Output of a folded conv/dense + BatchNormalization trained with batch statistics.

    `z` is the op's output with the moving-statistics-folded, fake-quantized kernel and no
    bias. It is renormalized with the batch's statistics (the correction of Krishnamoorthi
    2018, sec. 3.2: multiply by sigma_moving / sigma_batch, bias from the batch mean), so
    BatchNormalization trains as in float while the weight quantizer keeps seeing the stable
    moving-statistics fold; the moving statistics follow the batch's (`conv_bias` included).
    """
    shape = (1,) * (len(z.shape) - 1) + (-1,)
    axes = tuple(range(len(z.shape) - 1))
    scale = bn_scale(bn)
    tiny = ops.abs(scale) < 1e-6
    safe = ops.where(tiny, 1.0, scale)
    moving_var = ops.cast(bn.moving_variance, "float32")
    mean_u = ops.where(tiny, ops.cast(bn.moving_mean, "float32"), ops.mean(z, axis=axes) / safe)
    var_u = ops.where(tiny, moving_var, ops.var(z, axis=axes) / (safe * safe))
    inv_batch = ops.rsqrt(var_u + bn.epsilon)
    gamma = bn.gamma if bn.scale else 1.0
    beta = bn.beta if bn.center else 0.0
    correction = ops.sqrt(moving_var + bn.epsilon) * inv_batch
    batch_bias = beta - gamma * mean_u * inv_batch
    batch_mean = ops.stop_gradient(mean_u + (conv_bias if conv_bias is not None else 0.0))
    m = bn.momentum
    bn.moving_mean.assign(bn.moving_mean * m + batch_mean * (1.0 - m))
    bn.moving_variance.assign(bn.moving_variance * m + ops.stop_gradient(var_u) * (1.0 - m))
    return z * ops.reshape(correction, shape) + ops.reshape(batch_bias, shape)
