"""Keras optimizer, learning-rate schedule and loss from a config (`trainer.optimizer_config`, `task.losses`).

Registries keyed by Model Garden's `type` names; types Model Garden defines but Keras lacks raise an error
naming the supported ones.

Example:
    >>> optimizer = build_optimizer(cfg)
    >>> loss = build_loss(cfg)
"""

import keras

from keras_mot.errors import KerasMotError, format_error

# Model Garden lr type -> (Keras schedule class, fields passed through). Offsets are not supported.
LEARNING_RATES = {
    "exponential": (
        keras.optimizers.schedules.ExponentialDecay,
        ("initial_learning_rate", "decay_steps", "decay_rate", "staircase"),
    ),
    "stepwise": (keras.optimizers.schedules.PiecewiseConstantDecay, ("boundaries", "values")),
    "polynomial": (
        keras.optimizers.schedules.PolynomialDecay,
        ("initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle"),
    ),
    "cosine": (keras.optimizers.schedules.CosineDecay, ("initial_learning_rate", "decay_steps", "alpha")),
}
# Model Garden optimizer type -> (Keras optimizer class, {keras argument: Model Garden field}).
OPTIMIZERS = {
    "sgd": (keras.optimizers.SGD, {"momentum": "momentum", "nesterov": "nesterov"}),
    "adam": (
        keras.optimizers.Adam,
        {"beta_1": "beta_1", "beta_2": "beta_2", "epsilon": "epsilon", "amsgrad": "amsgrad"},
    ),
    "adamw": (
        keras.optimizers.AdamW,
        {
            "beta_1": "beta_1",
            "beta_2": "beta_2",
            "epsilon": "epsilon",
            "amsgrad": "amsgrad",
            "weight_decay": "weight_decay_rate",
            "global_clipnorm": "gradient_clip_norm",
        },
    ),
    "rmsprop": (
        keras.optimizers.RMSprop,
        {"rho": "rho", "momentum": "momentum", "epsilon": "epsilon", "centered": "centered"},
    ),
    "adagrad": (
        keras.optimizers.Adagrad,
        {"initial_accumulator_value": "initial_accumulator_value", "epsilon": "epsilon"},
    ),
    "lamb": (keras.optimizers.Lamb, {"beta_1": "beta_1", "beta_2": "beta_2", "epsilon": "epsilon"}),
}


@keras.saving.register_keras_serializable(package="keras_mot")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear ramp from `warmup_learning_rate` to the schedule `after` over `warmup_steps`, then `after`.

    Example:
        >>> float(LinearWarmup(0.1, 10)(5))
        0.05
    """

    def __init__(self, after, warmup_steps, warmup_learning_rate=0.0):
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        self.after = after
        self.warmup_steps = int(warmup_steps)
        self.warmup_learning_rate = float(warmup_learning_rate)

    def _target(self, step):
        return self.after(step) if callable(self.after) else self.after

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        target = keras.ops.cast(self._target(step), "float32")
        ramp = self.warmup_learning_rate + (target - self.warmup_learning_rate) * step / self.warmup_steps
        return keras.ops.where(step < self.warmup_steps, ramp, target)

    def get_config(self):
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {
            "after": after,
            "warmup_steps": self.warmup_steps,
            "warmup_learning_rate": self.warmup_learning_rate,
        }


def _unsupported(key, value, supported):
    return KerasMotError(
        format_error(
            f"'{key}' is accepted in configs but keras_mot cannot build it.",
            received=repr(value),
            fix=f"Use one of: {', '.join(supported)}.",
        )
    )


def build_learning_rate(config):
    """A float or Keras schedule from `trainer.optimizer_config.learning_rate` (+ linear `warmup`).

    Example:
        >>> build_learning_rate(cfg)  # constant 0.002 in the CPU configs
        0.002
    """
    opt = config.trainer.optimizer_config
    lr = opt.learning_rate
    if lr.type in (None, "constant"):
        value = lr.constant.learning_rate
        rate = value
    elif lr.type in LEARNING_RATES:
        cls, fields = LEARNING_RATES[lr.type]
        block = lr.get()
        rate = cls(**{f: getattr(block, f) for f in fields if getattr(block, f) is not None})
        value = block.values[0] if lr.type == "stepwise" else block.initial_learning_rate
    else:
        raise _unsupported(
            "trainer.optimizer_config.learning_rate.type", lr.type, ["constant", *LEARNING_RATES]
        )
    warmup = opt.warmup.get() if opt.warmup.type == "linear" else None
    if warmup is not None and warmup.warmup_steps:
        return LinearWarmup(rate, warmup.warmup_steps, warmup.warmup_learning_rate)
    return rate


def build_optimizer(config, learning_rate=None):
    """A Keras optimizer from `trainer.optimizer_config` (default: SGD, as in Model Garden's factories).

    `learning_rate` (a constant) replaces the configured schedule when given.

    Example:
        >>> type(build_optimizer(load_config("model_garden_configs/mobilenetv2_qat_cpu.yaml"))).__name__
        'Adam'
    """
    optimizer = config.trainer.optimizer_config.optimizer
    kind = optimizer.type or "sgd"
    if kind not in OPTIMIZERS:
        raise _unsupported("trainer.optimizer_config.optimizer.type", kind, OPTIMIZERS)
    cls, fields = OPTIMIZERS[kind]
    block = getattr(optimizer, kind)
    kwargs = {arg: getattr(block, f) for arg, f in fields.items() if getattr(block, f) is not None}
    for clip in ("clipnorm", "clipvalue", "global_clipnorm"):
        if getattr(block, clip) is not None:
            kwargs[clip] = getattr(block, clip)
    if "global_clipnorm" in kwargs and "clipnorm" in kwargs:
        del kwargs["clipnorm"]
    if learning_rate is None:
        learning_rate = build_learning_rate(config)
    return cls(learning_rate=learning_rate, **kwargs)


def build_loss(config):
    """Cross-entropy on logits for int labels; `label_smoothing` needs one-hot labels (see `one_hot_labels`).

    Example:
        >>> build_loss(cfg)
        <SparseCategoricalCrossentropy ...>
    """
    smoothing = config.task.losses.label_smoothing
    from_logits = not config.task.model.output_softmax
    if smoothing:
        return keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def one_hot_labels(config):
    """True when `build_loss` expects one-hot labels (map `y -> keras.ops.one_hot(y, num_classes)`)."""
    return bool(config.task.losses.label_smoothing)
