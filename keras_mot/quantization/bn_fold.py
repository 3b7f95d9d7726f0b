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


def batch_statistics_output(bn, y, live):
    """Training output of a folded conv/dense + BatchNormalization.

    `y` is the op's output with the moving-statistics fold (fake-quantized kernel, folded
    bias). Where `live` (a boolean scalar tensor) is true, `y` is renormalized with the batch's
    statistics (the correction of Krishnamoorthi 2018, sec. 3.2: multiply by
    sigma_moving / sigma_batch, shift by the batch mean): the value and the gradients (kernel,
    gamma, beta) are BatchNormalization's in float training, while the weight quantizer keeps
    seeing the stable moving-statistics fold; the moving statistics follow the batch's.
    Otherwise the result is `y` itself, bit for bit (the exported computation). One
    multiply-add over `y` either way (no `cond`: it made training steps ~25 % slower).

    The gradient must flow through the batch's mean and variance: with them held constant a
    ResNet50 fine-tuned to 0.09 training loss and evaluated at chance (10.8 %), its weights
    drifting along the directions that the batch normalization hides and the moving
    statistics do not follow.
    """
    shape = (1,) * (len(y.shape) - 1) + (-1,)
    axes = tuple(range(len(y.shape) - 1))
    scale = bn_scale(bn)
    use = ops.logical_and(live, ops.abs(scale) >= 1e-6)  # ~0-scale channels keep the fold
    safe = ops.where(use, scale, 1.0)
    mean_y = ops.mean(y, axis=axes)
    var_y = ops.maximum(ops.mean(ops.square(y), axis=axes) - ops.square(mean_y), 0.0)
    moving_mean = ops.cast(bn.moving_mean, "float32")
    moving_var = ops.cast(bn.moving_variance, "float32")
    # Per channel y = (u - moving_mean) * scale + beta, u the unfolded op's output (what
    # BatchNormalization sees): its batch mean is moving_mean + offset, its variance var_u.
    beta = bn.beta if bn.center else 0.0
    offset = (mean_y - beta) / safe
    var_u = var_y / (safe * safe)
    correction = ops.where(use, ops.sqrt(moving_var + bn.epsilon)
                           * ops.rsqrt(var_u + bn.epsilon), 1.0)
    # correction * y + shift = gamma * (u - batch mean) / sigma_batch + beta.
    shift = ops.where(use, beta * (1.0 - correction) - correction * scale * offset, 0.0)
    m = bn.momentum
    new_mean = moving_mean * m + ops.stop_gradient(moving_mean + offset) * (1.0 - m)
    new_var = moving_var * m + ops.stop_gradient(var_u) * (1.0 - m)
    bn.moving_mean.assign(ops.where(use, new_mean, bn.moving_mean))
    bn.moving_variance.assign(ops.where(use, new_var, bn.moving_variance))
    return y * ops.reshape(correction, shape) + ops.reshape(shift, shape)
