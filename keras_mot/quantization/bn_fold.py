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
