"""Model Garden experiment configs: typed schema, `load_config` and `dump_config`.

A config file is a Model Garden experiment (`runtime`, `task`, `trainer`; field names and defaults from
tensorflow/models official/core/config_definitions.py, official/vision/configs/image_classification.py,
official/projects/qat/vision/configs/common.py and official/projects/pruning/configs/image_classification.py)
plus an optional `keras_mot:` block for what Model Garden has no words for (deployment target, recipe rules,
data source, BatchNorm momentum, float warm-up steps, export settings).

Example:
    >>> cfg = load_config("model_garden_configs/mobilenetv2_qat_cpu.yaml", ["trainer.train_steps=5"])
    >>> cfg.task.model.backbone.get().model_id, cfg.trainer.train_steps, cfg.keras_mot.target
    ('MobileNetV2', 5, 'tflite_int8')
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional, Tuple, Union

import yaml

from keras_mot.errors import KerasMotError, format_error
from keras_mot.garden.mg_data import DataConfig
from keras_mot.garden.mg_model import ImageClassificationModel
from keras_mot.garden.mg_optimization import OptimizationConfig
from keras_mot.garden.schema import apply_overrides, from_dict, to_dict
from keras_mot.recipe import Rule

# Data sources keras_mot can read (keras_mot.garden.data registers one loader per name).
DATA_SOURCES = ("auto", "digits", "tfds", "tfrecord", "image_folder", "text")
PRUNING_SCHEDULES = ("PolynomialDecay", "ConstantSparsity")


def _d(cls, **kw):
    return dataclasses.field(default_factory=lambda: cls(**kw))


def _bad(path, what, received, fix):
    raise KerasMotError(format_error(f"Config key '{path}': {what}", received=received, fix=fix))


@dataclasses.dataclass
class RuntimeConfig:
    """`runtime`: keras_mot reads `mixed_precision_dtype` (float32 only: float16 / bfloat16 are
    refused with the reason), `run_eagerly`, `enable_xla` and `distribution_strategy`
    (`one_device`, `mirrored`, `multi_worker_mirrored` or, on JAX, `jax_data_parallel`; see
    `keras_mot.garden.distribution`); the rest is accepted."""

    distribution_strategy: str = "mirrored"
    enable_xla: bool = False
    gpu_thread_mode: Optional[str] = None
    dataset_num_private_threads: Optional[int] = None
    per_gpu_thread_count: int = 0
    tpu: Optional[str] = None
    num_gpus: int = 0
    worker_hosts: Optional[str] = None
    task_index: int = -1
    all_reduce_alg: Optional[str] = None
    num_packs: int = 1
    mixed_precision_dtype: Optional[str] = None
    loss_scale: Optional[Union[str, float]] = None
    run_eagerly: bool = False
    batchnorm_spatial_persistent: bool = False
    tpu_enable_xla_dynamic_padder: Optional[bool] = None
    num_cores_per_replica: int = 1
    default_shard_dim: int = -1


@dataclasses.dataclass
class TrainerConfig:
    """`trainer`: step counts, intervals and the optimizer config."""

    optimizer_config: OptimizationConfig = _d(OptimizationConfig)
    train_tf_while_loop: bool = True
    train_tf_function: bool = True
    eval_tf_function: bool = True
    eval_tf_while_loop: bool = False
    allow_tpu_summary: bool = False
    steps_per_loop: int = 1000
    summary_interval: int = 1000
    checkpoint_interval: int = 1000
    max_to_keep: int = 5
    continuous_eval_timeout: int = 60 * 60
    train_steps: int = 0
    validation_steps: int = -1
    validation_interval: int = 1000
    best_checkpoint_export_subdir: str = ""
    best_checkpoint_eval_metric: str = ""
    best_checkpoint_metric_comp: str = "higher"
    loss_upper_bound: float = 1e6
    recovery_begin_steps: int = 0
    recovery_max_trials: int = 0
    validation_summary_subdir: str = "validation"
    preemption_on_demand_checkpoint: bool = True

    def validate(self, path):
        """Checks step counts."""
        for key in ("train_steps", "steps_per_loop"):
            if getattr(self, key) < 0:
                _bad(f"{path}.{key}", "must be >= 0.", getattr(self, key), "Give a non-negative step count.")


@dataclasses.dataclass
class Losses:
    """`task.losses`."""

    loss_weight: float = 1.0
    one_hot: bool = True
    label_smoothing: float = 0.0
    l2_weight_decay: float = 0.0
    soft_labels: bool = False
    use_binary_cross_entropy: bool = False


@dataclasses.dataclass
class Evaluation:
    """`task.evaluation`."""

    top_k: int = 5
    precision_and_recall_thresholds: Optional[List[float]] = None
    report_per_class_precision_and_recall: bool = False


@dataclasses.dataclass
class Quantization:
    """`task.quantization`: its presence asks for quantization-aware training.

    `num_bits_weight` / `num_bits_activation` apply when `change_num_bits` is true (else 8/8).
    """

    version: str = "v2"
    pretrained_original_checkpoint: Optional[str] = None
    change_num_bits: bool = False
    num_bits_weight: int = 8
    num_bits_activation: int = 8
    quantize_detection_decoder: bool = False
    quantize_detection_head: bool = False

    def validate(self, path):
        """Checks bit widths."""
        for key in ("num_bits_weight", "num_bits_activation"):
            if not 2 <= getattr(self, key) <= 16:
                _bad(f"{path}.{key}", "must be between 2 and 16.", getattr(self, key), "Use e.g. 8.")


@dataclasses.dataclass
class PruningConfig:
    """`task.pruning`: its presence asks for magnitude pruning on the given schedule."""

    pretrained_original_checkpoint: Optional[str] = None
    pruning_schedule: str = "PolynomialDecay"
    begin_step: int = 0
    end_step: int = 1000
    initial_sparsity: float = 0.0
    final_sparsity: float = 0.1
    frequency: int = 100
    sparsity_m_by_n: Optional[Tuple[int, int]] = None

    def validate(self, path):
        """Checks the schedule name, sparsities and steps."""
        if self.pruning_schedule not in PRUNING_SCHEDULES:
            _bad(
                f"{path}.pruning_schedule",
                "unknown schedule.",
                repr(self.pruning_schedule),
                f"Use one of: {', '.join(PRUNING_SCHEDULES)}.",
            )
        for key in ("initial_sparsity", "final_sparsity"):
            if not 0.0 <= getattr(self, key) < 1.0:
                _bad(f"{path}.{key}", "must be in [0, 1).", getattr(self, key), "Use e.g. 0.8 for 80 %.")
        if self.end_step < self.begin_step:
            _bad(
                f"{path}.end_step",
                f"must be >= begin_step ({self.begin_step}).",
                self.end_step,
                "Raise end_step or lower begin_step.",
            )
        if self.frequency < 1:
            _bad(f"{path}.frequency", "must be >= 1.", self.frequency, "Use e.g. 100 steps.")
        if self.sparsity_m_by_n is not None:
            m, n = self.sparsity_m_by_n
            if not 0 < m < n:
                _bad(
                    f"{path}.sparsity_m_by_n",
                    "needs 0 < m < n (m zeros in every n weights).",
                    list(self.sparsity_m_by_n),
                    "Use e.g. [2, 4].",
                )


@dataclasses.dataclass
class ImageClassificationTask:
    """`task`: model, data, losses, and the `quantization` / `pruning` blocks."""

    model: ImageClassificationModel = _d(ImageClassificationModel)
    train_data: DataConfig = _d(DataConfig, is_training=True)
    validation_data: DataConfig = _d(DataConfig, is_training=False)
    losses: Losses = _d(Losses)
    evaluation: Evaluation = _d(Evaluation)
    init_checkpoint: Optional[str] = None
    init_checkpoint_modules: Union[str, List[str]] = "all"
    model_output_keys: Optional[List[int]] = dataclasses.field(default_factory=list)
    freeze_backbone: bool = False
    name: Optional[str] = None
    differential_privacy_config: Optional[Dict[str, Any]] = None
    allow_image_summary: bool = False
    quantization: Optional[Quantization] = None
    pruning: Optional[PruningConfig] = None


@dataclasses.dataclass
class DataSource:
    """`keras_mot.data`: which loader feeds the trainer.

    `source: auto` reads `task.*_data`: `tfds_name` -> TFDS, an `input_path` that is a directory -> image
    folder, another non-empty `input_path` -> TFRecord files, nothing -> the embedded digits.
    `text_*` size the generated text task of the `bert` backbone.
    """

    source: str = "auto"
    text_train_examples: int = 2048
    text_validation_examples: int = 512
    seed: int = 0

    def validate(self, path):
        """Checks the source name."""
        if self.source not in DATA_SOURCES:
            _bad(
                f"{path}.source",
                "unknown data source.",
                repr(self.source),
                f"Use one of: {', '.join(DATA_SOURCES)}.",
            )


@dataclasses.dataclass
class KerasMotConfig:
    """`keras_mot`: what Model Garden has no words for.

    Attributes:
        target: deployment target name (`keras_mot.targets`), e.g. `tflite_int8`, `xnnpack_sparse`.
        export_target: target of the exported `.tflite` when it differs from `target`.
        recipe: ordered rules (`{select: ..., quantize: ..., prune: ...}`), first match wins; each
            is checked as a `keras_mot.recipe.Rule` by `keras_mot.codec` and kept as written.
        data: data source override (`DataSource`).
        bn_momentum: BatchNormalization momentum; overrides `task.model.norm_activation.norm_momentum`.
        float_train_steps: steps of float training before QAT / pruning when no checkpoint is given.
        float_learning_rate: constant learning rate of that float training; `None` uses the
            trainer's learning rate (which then also drives QAT / pruning fine-tuning, usually
            lower: fine-tuning a trained model with a from-scratch rate undoes part of it).
        representative_examples: examples used for calibration and parity at export.
        export_formats: formats written by export.
        seed: seed for weights initialisation and data shuffling.
        name, description: free text for reports.
    """

    target: Optional[str] = None
    export_target: Optional[str] = None
    recipe: List[Dict[str, Any]] = dataclasses.field(default_factory=list, metadata={"codec": Rule})
    data: DataSource = _d(DataSource)
    bn_momentum: Optional[float] = None
    float_train_steps: int = 0
    float_learning_rate: Optional[float] = None
    representative_examples: int = 100
    export_formats: List[str] = dataclasses.field(default_factory=lambda: ["saved_model", "tflite"])
    seed: int = 0
    name: Optional[str] = None
    description: Optional[str] = None

    def validate(self, path):
        """Checks momentum range and learning rate (the rules are checked by `keras_mot.codec`)."""
        if self.bn_momentum is not None and not 0.0 <= self.bn_momentum < 1.0:
            _bad(f"{path}.bn_momentum", "must be in [0, 1).", self.bn_momentum, "Use e.g. 0.9.")
        if self.float_learning_rate is not None and not self.float_learning_rate > 0:
            _bad(
                f"{path}.float_learning_rate",
                "must be > 0.",
                self.float_learning_rate,
                "Use e.g. 0.002, or remove it to use the trainer's learning rate.",
            )


@dataclasses.dataclass
class ExperimentConfig:
    """A whole experiment: `runtime`, `task`, `trainer` (Model Garden) and `keras_mot`.

    Example:
        >>> cfg = ExperimentConfig()
        >>> cfg.task.quantization is None
        True
    """

    runtime: RuntimeConfig = _d(RuntimeConfig)
    task: ImageClassificationTask = _d(ImageClassificationTask)
    trainer: TrainerConfig = _d(TrainerConfig)
    keras_mot: KerasMotConfig = _d(KerasMotConfig)

    def validate(self, path):
        """Cross-block checks, before any training step."""
        dtype = self.runtime.mixed_precision_dtype
        if dtype not in (None, "float32", "float16", "bfloat16"):
            _bad(
                "runtime.mixed_precision_dtype",
                "is not a dtype keras_mot knows.",
                repr(dtype),
                "Use float32, float16 or bfloat16.",
            )
        if dtype in ("float16", "bfloat16"):
            why = (
                "quantization-aware training emulates int8 arithmetic in float32; a "
                f"{dtype} model would not train what ships"
                if "qat" in self.mode
                else "keras-mot train runs pruning and float training in float32 and would ignore it"
            )
            _bad(
                "runtime.mixed_precision_dtype",
                why + ".",
                repr(dtype),
                "Set runtime.mixed_precision_dtype: float32 (or remove the key).",
            )

    @property
    def mode(self):
        """`"qat"`, `"pruning"`, `"qat+pruning"` or `"float"`, from the task blocks present."""
        parts = [
            name
            for name, block in (("qat", self.task.quantization), ("pruning", self.task.pruning))
            if block is not None
        ]
        return "+".join(parts) or "float"

    @property
    def bn_momentum(self):
        """The BatchNormalization momentum to build with (`keras_mot.bn_momentum` wins)."""
        if self.keras_mot.bn_momentum is not None:
            return self.keras_mot.bn_momentum
        return self.task.model.norm_activation.norm_momentum


def config_from_dict(data, overrides=None):
    """Validates a raw mapping (as from `yaml.safe_load`) into an `ExperimentConfig`.

    Example:
        >>> config_from_dict({"trainer": {"train_steps": 3}}).trainer.train_steps
        3
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KerasMotError(
            format_error(
                "A config file must hold a mapping at the top level.",
                received=type(data).__name__,
                fix="Start the file with 'task:', 'trainer:' or 'runtime:'.",
            )
        )
    return from_dict(ExperimentConfig, apply_overrides(data, overrides))


def load_config(path, overrides=None):
    """Loads and validates a Model Garden experiment file (plus optional `keras_mot:` block).

    Args:
        path: YAML file.
        overrides: list of `"dotted.key=value"` strings applied before validation (values parsed as YAML),
            e.g. `["trainer.train_steps=5", "task.train_data.input_path=/data/train*"]`.

    Returns:
        `ExperimentConfig`.

    Raises:
        KerasMotError: missing file, invalid YAML, unknown key (lists the valid keys and the dotted path),
            wrong value type or out-of-range value.

    Example:
        >>> cfg = load_config("imagenet_resnet50_pruning_gpu.yaml", ["keras_mot.data.source=digits"])
        >>> cfg.mode, cfg.task.pruning.final_sparsity
        ('pruning', 0.8)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KerasMotError(
            format_error(
                "Config file not found.", received=repr(path), fix="Pass the path of a YAML experiment file."
            )
        )
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise KerasMotError(
                format_error(
                    f"Config file {path!r} is not valid YAML.",
                    received=str(e),
                    fix="Fix the YAML syntax at the position shown.",
                )
            ) from e
    try:
        return config_from_dict(data, overrides)
    except KerasMotError as e:
        raise KerasMotError(f"{path}: {e}") from None


def dump_config(cfg, compact=False):
    """Returns the config as plain data; `config_from_dict(dump_config(cfg)) == cfg`.

    Args:
        cfg: an `ExperimentConfig`.
        compact: leave out every value equal to its default.

    Example:
        >>> yaml.safe_dump(dump_config(cfg, compact=True))
    """
    return to_dict(cfg, compact=compact)
