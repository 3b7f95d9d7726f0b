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
        lead = kernel.shape[: rank - len(channel_axis)]
        shape = (1,) * len(lead) + tuple(kernel.shape[rank - len(channel_axis) :])
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


def batch_statistics_output(bn, y, live, bias=None):
    """Training output of a folded conv/dense + BatchNormalization.

    `y` is the op's output with the moving-statistics fold (fake-quantized kernel, folded
    bias). Where `live` (a boolean scalar tensor) is true, `y` is renormalized with the batch's
    statistics (the correction of Krishnamoorthi 2018, sec. 3.2: multiply by
    sigma_moving / sigma_batch, shift by the batch mean): the value and the gradients (kernel,
    gamma, beta) are BatchNormalization's in float training, while the weight quantizer keeps
    seeing the stable moving-statistics fold; the moving statistics follow the batch's.
    Otherwise the result is `y` itself, bit for bit (the exported computation). One
    multiply-add over `y` either way (no `cond`: it made training steps ~25 % slower).

    `bias`: the folded (per-channel) bias when `y` does not include it yet. The result is then
    that of `y + bias`, the bias added in the same multiply-add (bit for bit where not `live`;
    where `live` the batch mean absorbs it and it gets no gradient): a training step saves the
    bias addition and its gradient's pass over `y`.

    The gradient must flow through the batch's mean and variance: with them held constant a
    ResNet50 fine-tuned to 0.09 training loss and evaluated at chance (10.8 %), its weights
    drifting along the directions that the batch normalization hides and the moving
    statistics do not follow. It is written out (`_renormalize`): automatic differentiation
    of the moments takes twice the passes over `y`.
    """
    axes = tuple(range(len(y.shape) - 1))
    scale = bn_scale(bn)
    use = ops.logical_and(live, ops.abs(scale) >= 1e-6)  # ~0-scale channels keep the fold
    safe = ops.where(use, scale, 1.0)
    frozen_y = ops.stop_gradient(y)
    mean_y = ops.mean(frozen_y, axis=axes)
    var_y = ops.relu(ops.mean(ops.square(frozen_y), axis=axes) - ops.square(mean_y))
    moving_mean = ops.cast(bn.moving_mean, "float32")
    moving_var = ops.cast(bn.moving_variance, "float32")
    beta = ops.add(bn.beta, 0.0) if bn.center else ops.zeros_like(moving_mean)  # a tensor
    bias = ops.zeros_like(moving_mean) if bias is None else ops.convert_to_tensor(bias, "float32")
    # Per channel y + bias = (u - moving_mean) * scale + beta, u the unfolded op's output (what
    # BatchNormalization sees): its batch mean is moving_mean + (mean_y + bias - beta) / scale,
    # its variance var_y / scale^2.
    var_u = var_y / ops.square(safe)
    sigma_moving = ops.sqrt(moving_var + bn.epsilon)
    z = _renormalize(y, safe, beta, bias, mean_y, var_y, var_u + bn.epsilon, sigma_moving, use)
    rate = 1.0 - bn.momentum  # an unused channel adds exactly 0 below
    shift = ops.stop_gradient(bias) - beta
    bn.moving_mean.assign(moving_mean + ops.where(use, (mean_y + shift) / safe, 0.0) * rate)
    bn.moving_variance.assign(moving_var + ops.where(use, var_u - moving_var, 0.0) * rate)
    return z


def _renormalize(y, scale, beta, bias, mean_y, var_y, var_eps, sigma_moving, use):
    """`correction * (y - mean_y) + beta` with `correction = sigma_moving / sqrt(var_eps)`
    (`y + bias` where not `use`), and BatchNormalization's gradients for `y`, `scale`, `beta`
    (`bias` only where not `use`: elsewhere the batch mean cancels it).

    `mean_y`, `var_y` are `y`'s batch moments per channel and `var_eps = var_y / scale^2 + eps`
    (no gradient; the backward pass below accounts for them). In `y`'s terms the layer is
    BatchNormalization with epsilon `eps * scale^2`, hence, per channel with n values and
    `h = y - mean_y`, upstream `g`:
    dy = correction * (g - mean(g)) - k * h with k = correction * mean(g h) / (var_eps scale^2),
    dscale = sum(g h) * correction * var_y / (var_eps scale^3), dbeta = sum(g).
    """
    axes = tuple(range(len(y.shape) - 1))
    shape = (1,) * (len(y.shape) - 1) + (-1,)
    # Constants of the custom gradient: TensorFlow passes no gradient through values a
    # custom-gradient function closes over; JAX refuses closures over differentiated values.
    mean_y, var_y, var_eps, sigma_moving = (
        ops.stop_gradient(t) for t in (mean_y, var_y, var_eps, sigma_moving)
    )
    correction = ops.where(use, sigma_moving * ops.rsqrt(var_eps), 1.0)

    @ops.custom_gradient
    def renormalize(y, scale, beta, bias):
        shift = ops.where(use, beta - correction * mean_y, bias)
        z = y * ops.reshape(correction, shape) + ops.reshape(shift, shape)

        def grad(*args, upstream=None):
            g = args[0] if upstream is None else upstream
            n = ops.cast(ops.size(g) // ops.shape(g)[-1], g.dtype)
            sum_g = ops.sum(g, axis=axes)
            sum_gh = ops.sum(g * y, axis=axes) - mean_y * sum_g
            s2 = var_eps * ops.square(scale)
            k = ops.where(use, correction * sum_gh / (n * s2), 0.0)
            offset = ops.where(use, k * mean_y - correction * sum_g / n, 0.0)
            dy = g * ops.reshape(correction, shape) - (y * ops.reshape(k, shape) - ops.reshape(offset, shape))
            dscale = ops.where(use, sum_gh * correction * var_y / (s2 * scale), 0.0)
            return dy, dscale, ops.where(use, sum_g, 0.0), ops.where(use, 0.0, sum_g)

        return z, grad

    return renormalize(y, scale, beta, bias)
