"""Model Garden's optimizer / learning-rate / warmup schema (`trainer.optimizer_config`).

Field names and defaults follow tensorflow/models official/modeling/optimization/configs/
optimization_config.py, optimizer_config.py and learning_rate_config.py, so Model Garden experiment files
load unchanged. `keras_mot.garden.training` turns them into Keras optimizers and schedules.
"""

import dataclasses
from typing import List, Optional

from keras_mot.garden.schema import OneOf


def _d(cls, **kw):
    return dataclasses.field(default_factory=lambda: cls(**kw))


@dataclasses.dataclass
class _Clip:
    clipnorm: Optional[float] = None
    clipvalue: Optional[float] = None
    global_clipnorm: Optional[float] = None


@dataclasses.dataclass
class SGDConfig(_Clip):
    """SGD (`optimizer.sgd`)."""

    name: str = "SGD"
    decay: float = 0.0
    nesterov: bool = False
    momentum: float = 0.0


@dataclasses.dataclass
class SGDExperimentalConfig(_Clip):
    """SGD, experimental variant (`optimizer.sgd_experimental`)."""

    name: str = "SGD"
    nesterov: bool = False
    momentum: float = 0.0
    jit_compile: bool = False


@dataclasses.dataclass
class RMSPropConfig(_Clip):
    """RMSprop (`optimizer.rmsprop`)."""

    name: str = "RMSprop"
    rho: float = 0.9
    momentum: float = 0.0
    epsilon: float = 1e-7
    centered: bool = False


@dataclasses.dataclass
class AdagradConfig(_Clip):
    """Adagrad (`optimizer.adagrad`)."""

    name: str = "Adagrad"
    initial_accumulator_value: float = 0.1
    epsilon: float = 1e-07


@dataclasses.dataclass
class AdamConfig(_Clip):
    """Adam (`optimizer.adam`)."""

    name: str = "Adam"
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-07
    amsgrad: bool = False


@dataclasses.dataclass
class AdamExperimentalConfig(AdamConfig):
    """Adam, experimental variant (`optimizer.adam_experimental`)."""

    jit_compile: bool = False


@dataclasses.dataclass
class AdamWeightDecayConfig(_Clip):
    """Adam with decoupled weight decay (`optimizer.adamw`)."""

    name: str = "AdamWeightDecay"
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-07
    amsgrad: bool = False
    weight_decay_rate: float = 0.0
    include_in_weight_decay: Optional[List[str]] = None
    exclude_from_weight_decay: Optional[List[str]] = None
    gradient_clip_norm: float = 1.0


@dataclasses.dataclass
class AdamWeightDecayExperimentalConfig(_Clip):
    """AdamW, experimental variant (`optimizer.adamw_experimental`)."""

    name: str = "AdamWeightDecayExperimental"
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-07
    amsgrad: bool = False
    weight_decay: float = 0.0
    global_clipnorm: float = 1.0
    jit_compile: bool = False


@dataclasses.dataclass
class LAMBConfig(_Clip):
    """LAMB (`optimizer.lamb`)."""

    name: str = "LAMB"
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-6
    weight_decay_rate: float = 0.0
    exclude_from_weight_decay: Optional[List[str]] = None
    exclude_from_layer_adaptation: Optional[List[str]] = None


@dataclasses.dataclass
class LARSConfig(_Clip):
    """LARS (`optimizer.lars`); accepted, not built by keras_mot."""

    name: str = "LARS"
    momentum: float = 0.9
    eeta: float = 0.001
    weight_decay_rate: float = 0.0
    nesterov: bool = False
    classic_momentum: bool = True
    exclude_from_weight_decay: Optional[List[str]] = None
    exclude_from_layer_adaptation: Optional[List[str]] = None


@dataclasses.dataclass
class SLIDEConfig(_Clip):
    """SLIDE (`optimizer.slide`); accepted, not built by keras_mot."""

    name: str = "SLIDE"
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-6
    weight_decay_rate: float = 0.0
    weight_decay_type: str = "inner"
    exclude_from_weight_decay: Optional[List[str]] = None
    exclude_from_layer_adaptation: Optional[List[str]] = None
    include_in_sparse_layer_adaptation: Optional[List[str]] = None
    sparse_layer_learning_rate: float = 0.1
    do_gradient_rescaling: bool = True
    norm_type: str = "layer"
    ratio_clip_norm: float = 1e5


@dataclasses.dataclass
class AdafactorConfig(_Clip):
    """Adafactor (`optimizer.adafactor`)."""

    name: str = "Adafactor"
    factored: bool = True
    multiply_by_parameter_scale: bool = True
    beta1: Optional[float] = None
    decay_rate: float = 0.8
    step_offset: int = 0
    clipping_threshold: float = 1.0
    min_dim_size_to_factor: int = 128
    epsilon1: float = 1e-30
    epsilon2: float = 1e-3
    weight_decay: Optional[float] = None
    include_in_weight_decay: Optional[str] = None


@dataclasses.dataclass
class EMAConfig(_Clip):
    """Exponential moving average of weights (`optimizer_config.ema`)."""

    name: str = "ExponentialMovingAverage"
    trainable_weights_only: bool = True
    average_decay: float = 0.99
    start_step: int = 0
    dynamic_decay: bool = True


@dataclasses.dataclass
class OptimizerConfig(OneOf):
    """One-of: `type` + the block of that optimizer."""

    type: Optional[str] = None
    sgd: SGDConfig = _d(SGDConfig)
    sgd_experimental: SGDExperimentalConfig = _d(SGDExperimentalConfig)
    adam: AdamConfig = _d(AdamConfig)
    adam_experimental: AdamExperimentalConfig = _d(AdamExperimentalConfig)
    adamw: AdamWeightDecayConfig = _d(AdamWeightDecayConfig)
    adamw_experimental: AdamWeightDecayExperimentalConfig = _d(AdamWeightDecayExperimentalConfig)
    lamb: LAMBConfig = _d(LAMBConfig)
    rmsprop: RMSPropConfig = _d(RMSPropConfig)
    lars: LARSConfig = _d(LARSConfig)
    adagrad: AdagradConfig = _d(AdagradConfig)
    slide: SLIDEConfig = _d(SLIDEConfig)
    adafactor: AdafactorConfig = _d(AdafactorConfig)


@dataclasses.dataclass
class ConstantLrConfig:
    """Constant learning rate."""

    name: str = "Constant"
    learning_rate: float = 0.1


@dataclasses.dataclass
class StepwiseLrConfig:
    """Piecewise-constant learning rate."""

    name: str = "PiecewiseConstantDecay"
    boundaries: Optional[List[int]] = None
    values: Optional[List[float]] = None
    offset: int = 0


@dataclasses.dataclass
class ExponentialLrConfig:
    """Exponential decay."""

    name: str = "ExponentialDecay"
    initial_learning_rate: Optional[float] = None
    decay_steps: Optional[int] = None
    decay_rate: Optional[float] = None
    staircase: Optional[bool] = None
    offset: int = 0


@dataclasses.dataclass
class PolynomialLrConfig:
    """Polynomial decay."""

    name: str = "PolynomialDecay"
    initial_learning_rate: Optional[float] = None
    decay_steps: Optional[int] = None
    end_learning_rate: float = 0.0001
    power: float = 1.0
    cycle: bool = False
    offset: int = 0


@dataclasses.dataclass
class CosineLrConfig:
    """Cosine decay."""

    name: str = "CosineDecay"
    initial_learning_rate: Optional[float] = None
    decay_steps: Optional[int] = None
    alpha: float = 0.0
    offset: int = 0


@dataclasses.dataclass
class DirectPowerLrConfig:
    """lr * step^power; accepted, not built by keras_mot."""

    name: str = "DirectPowerDecay"
    initial_learning_rate: Optional[float] = None
    power: float = -0.5


@dataclasses.dataclass
class PowerAndLinearDecayLrConfig:
    """Power then linear decay; accepted, not built by keras_mot."""

    name: str = "PowerAndLinearDecay"
    initial_learning_rate: Optional[float] = None
    total_decay_steps: Optional[int] = None
    power: float = -0.5
    linear_decay_fraction: float = 0.1
    offset: int = 0


@dataclasses.dataclass
class PowerDecayWithOffsetLrConfig:
    """Power decay after an offset; accepted, not built by keras_mot."""

    name: str = "PowerDecayWithOffset"
    initial_learning_rate: Optional[float] = None
    power: float = -0.5
    offset: int = 0
    pre_offset_learning_rate: float = 1.0e6


@dataclasses.dataclass
class StepCosineLrConfig:
    """Piecewise cosine; accepted, not built by keras_mot."""

    name: str = "StepCosineDecayWithOffset"
    boundaries: Optional[List[int]] = None
    values: Optional[List[float]] = None
    offset: int = 0


@dataclasses.dataclass
class LrConfig(OneOf):
    """One-of: `type` + the block of that learning-rate schedule."""

    type: Optional[str] = None
    constant: ConstantLrConfig = _d(ConstantLrConfig)
    stepwise: StepwiseLrConfig = _d(StepwiseLrConfig)
    exponential: ExponentialLrConfig = _d(ExponentialLrConfig)
    polynomial: PolynomialLrConfig = _d(PolynomialLrConfig)
    cosine: CosineLrConfig = _d(CosineLrConfig)
    power: DirectPowerLrConfig = _d(DirectPowerLrConfig)
    power_linear: PowerAndLinearDecayLrConfig = _d(PowerAndLinearDecayLrConfig)
    power_with_offset: PowerDecayWithOffsetLrConfig = _d(PowerDecayWithOffsetLrConfig)
    step_cosine_with_offset: StepCosineLrConfig = _d(StepCosineLrConfig)


@dataclasses.dataclass
class LinearWarmupConfig:
    """Linear warmup from `warmup_learning_rate`."""

    name: str = "linear"
    warmup_learning_rate: float = 0
    warmup_steps: Optional[int] = None


@dataclasses.dataclass
class PolynomialWarmupConfig:
    """Polynomial warmup."""

    name: str = "polynomial"
    power: float = 1
    warmup_steps: Optional[int] = None


@dataclasses.dataclass
class WarmupConfig(OneOf):
    """One-of: `type` + the block of that warmup."""

    type: Optional[str] = None
    linear: LinearWarmupConfig = _d(LinearWarmupConfig)
    polynomial: PolynomialWarmupConfig = _d(PolynomialWarmupConfig)


@dataclasses.dataclass
class OptimizationConfig:
    """`trainer.optimizer_config`: optimizer, optional EMA, learning rate, warmup.

    Example:
        >>> cfg.trainer.optimizer_config.learning_rate.get().initial_learning_rate
        0.0001
    """

    optimizer: OptimizerConfig = _d(OptimizerConfig)
    ema: Optional[EMAConfig] = None
    learning_rate: LrConfig = _d(LrConfig)
    warmup: WarmupConfig = _d(WarmupConfig)
