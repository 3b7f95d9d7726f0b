"""Config schema: every shipped config and Model Garden's own files load; errors name keys and list valid ones."""

import glob
import os

import pytest
import yaml

from keras_mot.errors import KerasMotError
from keras_mot.garden.config import DATA_SOURCES, config_from_dict, dump_config, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "model_garden_configs", "*.yaml")))
REFERENCE = sorted(glob.glob("/work/shared/model_garden_reference/*.yaml"))

# Same schema as Model Garden's QAT MobileNetV3 TPU experiment (adamw + cosine, hflip keys, max_to_keep).
MG_STYLE_QAT = """
runtime: {distribution_strategy: 'tpu', mixed_precision_dtype: 'float32'}
task:
  model:
    num_classes: 1001
    input_size: [224, 224, 3]
    backbone: {type: 'mobilenet', mobilenet: {model_id: 'MobileNetV3Large', filter_size_scale: 1.0}}
    dropout_rate: 0.3
  losses: {l2_weight_decay: 1.0e-06, one_hot: true, label_smoothing: 0.1}
  train_data: {input_path: 'x/train*', is_training: true, global_batch_size: 4096, dtype: 'float32',
               aug_rand_hflip: true, drop_remainder: true}
  validation_data: {input_path: 'x/valid*', is_training: false, global_batch_size: 4096, drop_remainder: false}
  quantization: {pretrained_original_checkpoint: 'gs://**/ckpt-1', change_num_bits: true,
                 num_bits_weight: 4, num_bits_activation: 8}
trainer:
  train_steps: 62400
  validation_steps: 13
  max_to_keep: 200
  optimizer_config:
    learning_rate: {cosine: {alpha: 0.0, decay_steps: 62400, initial_learning_rate: 0.0003, name: CosineDecay,
                             offset: 0}, type: cosine}
    optimizer: {adamw: {amsgrad: false, beta_1: 0.9, beta_2: 0.999, epsilon: 1.0e-07, gradient_clip_norm: 1.0,
                        weight_decay_rate: 0.0}, type: adamw}
    warmup: {type: 'linear', linear: {warmup_steps: 0}}
"""


def _write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_shipped_config_loads_and_round_trips(path):
    cfg = load_config(path)
    assert cfg.mode in ("qat", "pruning")
    assert cfg.keras_mot.target in ("tflite_int8", "generic", "xnnpack_sparse")
    assert config_from_dict(dump_config(cfg)) == cfg
    assert config_from_dict(yaml.safe_load(yaml.safe_dump(dump_config(cfg, compact=True)))) == cfg


def test_required_configs_exist_with_cpu_variants():
    names = {os.path.basename(p)[:-5] for p in CONFIGS}
    required = {
        "mobilenetv2_qat",
        "mobilenetv2_pruning",
        "mobilenetv3small_qat",
        "mobilenetv3large_qat",
        "resnet50_qat",
        "resnet50_pruning",
        "efficientnetb0_qat",
        "bert_encoder_qat",
    }
    assert required <= names
    assert all(f"{n}_cpu" in names for n in required)
    assert (
        load_config(
            os.path.join(ROOT, "model_garden_configs", "resnet50_pruning.yaml")
        ).task.pruning.final_sparsity
        == 0.8
    )


@pytest.mark.parametrize("path", REFERENCE, ids=os.path.basename)
def test_model_garden_reference_files_load_unchanged(path):
    cfg = load_config(path)
    assert cfg.task.model.num_classes == 1001
    assert cfg.mode in ("qat", "pruning")
    block = cfg.task.quantization or cfg.task.pruning
    assert block.pretrained_original_checkpoint.startswith("gs://")
    cfg = load_config(
        path,
        [
            "task.train_data.input_path=/data/train*",
            "task.validation_data.input_path=[/data/a*, /data/b*]",
            f"task.{'quantization' if cfg.task.quantization else 'pruning'}"
            ".pretrained_original_checkpoint=null",
            "keras_mot.data.source=digits",
        ],
    )
    assert cfg.task.train_data.input_path == "/data/train*"
    assert cfg.task.validation_data.input_path == ["/data/a*", "/data/b*"]
    assert (cfg.task.quantization or cfg.task.pruning).pretrained_original_checkpoint is None
    assert cfg.keras_mot.data.source == "digits"


def test_reference_values_are_read():
    cfg = load_config("/work/shared/model_garden_reference/imagenet_resnet50_pruning_gpu.yaml")
    assert (cfg.task.pruning.final_sparsity, cfg.task.pruning.frequency, cfg.task.pruning.end_step) == (
        0.8,
        40,
        40000,
    )
    opt = cfg.trainer.optimizer_config
    assert opt.optimizer.type == "sgd" and opt.optimizer.get().momentum == 0.9
    assert opt.learning_rate.get().decay_steps == 2502 and opt.learning_rate.get().staircase is True


def test_model_garden_style_qat_file_loads(tmp_path):
    cfg = load_config(_write(tmp_path, MG_STYLE_QAT))
    assert cfg.task.model.backbone.get().model_id == "MobileNetV3Large"
    assert cfg.task.quantization.num_bits_weight == 4 and cfg.task.quantization.change_num_bits
    assert cfg.trainer.optimizer_config.optimizer.get().gradient_clip_norm == 1.0
    assert cfg.trainer.optimizer_config.learning_rate.type == "cosine"


@pytest.mark.parametrize(
    "override, dotted, listed",
    [
        ("task.model.backbon={}", "task.model.backbon", "backbone, dropout_rate"),
        (
            "trainer.optimizer_config.optimizer.sgd.momentun=0.9",
            "trainer.optimizer_config.optimizer.sgd.momentun",
            "nesterov, momentum",
        ),
        ("task.pruning.final_sparsty=0.5", "task.pruning.final_sparsty", "final_sparsity"),
        ("keras_mot.targett=tflite_int8", "keras_mot.targett", "target, export_target, recipe"),
        ("taskk.x=1", "taskk", "runtime, task, trainer, keras_mot"),
    ],
)
def test_unknown_key_names_path_and_lists_valid_keys(tmp_path, override, dotted, listed):
    path = "/work/shared/model_garden_reference/imagenet_resnet50_pruning_gpu.yaml"
    with pytest.raises(KerasMotError) as info:
        load_config(path, [override])
    message = str(info.value)
    assert f"Unknown config key '{dotted}'" in message
    assert listed in message


def test_unknown_key_in_file(tmp_path):
    path = _write(tmp_path, "task:\n  model:\n    num_clases: 3\n")
    with pytest.raises(KerasMotError, match=r"task.model.num_clases.*num_classes, input_size"):
        load_config(path)


def test_overrides_are_yaml_typed():
    cfg = config_from_dict(
        {},
        [
            "trainer.train_steps=5",
            "task.model.input_size=[8, 8, 1]",
            "task.pruning.sparsity_m_by_n=[2, 4]",
            "keras_mot.bn_momentum=0.9",
            "task.model.backbone.type=mobilenet",
            "keras_mot.recipe=[{select: _default}]",
            "runtime.loss_scale=128",
        ],
    )
    assert cfg.trainer.train_steps == 5
    assert cfg.task.model.input_size == [8, 8, 1]
    assert cfg.task.pruning.sparsity_m_by_n == (2, 4)
    assert cfg.bn_momentum == 0.9
    assert cfg.task.model.backbone.get().model_id == "MobileNetV2"
    assert cfg.keras_mot.recipe == [{"select": "_default"}]
    assert cfg.runtime.loss_scale == 128.0
    assert cfg.mode == "pruning"


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["trainer.train_steps"], "dotted.key=value"),
        (["trainer.train_steps=five"], r"trainer.train_steps.*expected int.*'five'"),
        (["task.model.input_size=[1]", "task.model.input_size.x=1"], "not a mapping"),
        (["task.model.backbone.type=lenet"], r"backbone.type.*Use one of: resnet"),
        (["task.pruning.final_sparsity=1.2"], r"final_sparsity.*\[0, 1\)"),
        (["task.pruning.end_step=-1"], "end_step"),
        (["task.pruning.pruning_schedule=Cubic"], "PolynomialDecay, ConstantSparsity"),
        (["task.pruning.sparsity_m_by_n=[2, 4, 8]"], "exactly 2 items"),
        (["task.quantization.num_bits_weight=1"], "between 2 and 16"),
        (["keras_mot.data.source=s3"], ", ".join(DATA_SOURCES)),
        (["keras_mot.recipe=[{quantize: int8}]"], "'select'"),
        (
            ["keras_mot.recipe=[{select: _default, prune: {type: Blok, rows: 4}}]"],
            r"keras_mot.recipe\[0\].*Unknown SparsityPattern type.*'Blok'.*Block, NofM, Unstructured",
        ),
        (["task.model.num_classes=true"], "expected int"),
        (["keras_mot.float_learning_rate=0"], r"float_learning_rate.*> 0"),
    ],
)
def test_bad_values_raise_clear_errors(overrides, match):
    with pytest.raises(KerasMotError, match=match):
        config_from_dict({}, overrides)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(KerasMotError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(KerasMotError, match="not valid YAML"):
        load_config(_write(tmp_path, "task: [1, 2\n"))
    with pytest.raises(KerasMotError, match="mapping at the top level"):
        load_config(_write(tmp_path, "- 1\n- 2\n"))


def test_bn_momentum_precedence():
    assert config_from_dict({}).bn_momentum == 0.99  # Model Garden's NormActivation default
    assert config_from_dict({}, ["task.model.norm_activation.norm_momentum=0.9"]).bn_momentum == 0.9
    assert (
        config_from_dict(
            {}, ["task.model.norm_activation.norm_momentum=0.9", "keras_mot.bn_momentum=0.8"]
        ).bn_momentum
        == 0.8
    )
