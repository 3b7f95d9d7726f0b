"""The garden trainer: recipes from configs, and every CPU config trained a few steps + exported."""

import glob
import os

import pytest

import keras_mot as mot
from keras_mot.errors import KerasMotError
from keras_mot.garden import load_config
from keras_mot.garden.trainer import build_recipe, train

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "model_garden_configs")
# A few eager steps, small batches, parity on 64 validation examples, .tflite only.
FAST = [
    "trainer.train_steps=1",
    "keras_mot.float_train_steps=0",
    "runtime.run_eagerly=true",
    "trainer.steps_per_loop=1",
    "task.train_data.global_batch_size=8",
    "keras_mot.representative_examples=8",
    "keras_mot.export_formats=[tflite]",
]
# Pruning configs: reach the final sparsity within the two steps.
PRUNING_FAST = [
    "trainer.train_steps=2",
    "task.pruning.begin_step=0",
    "task.pruning.end_step=1",
    "task.pruning.frequency=1",
]
# Structural XNNPack sparse-inference conditions a keras.applications MobileNetV2 does not meet
# (SAME-padded stride-2 stem, < 2/3 zeros): reported, they make that export "not ok".
XNN_CODES = {"xnn-entry", "xnn-body", "xnn-exit", "xnn-sparsity", "xnn-densify"}
# ResNet-50 pruning: only its own (float, generic) export; the extra post-training int8
# conversion of 23 M parameters costs ~60-100 s here (the int8 path is covered by the others).
EXPORT_TARGETS = {"resnet50_pruning_cpu": ["generic"]}
# tests/cli/test_cli.py runs mobilenetv2_qat_cpu end to end through `keras-mot train`.
COVERED_BY_CLI = {"mobilenetv2_qat_cpu"}
CPU_CONFIGS = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(CONFIGS, "*_cpu.yaml")))


def _config(name, overrides=()):
    return load_config(os.path.join(CONFIGS, f"{name}.yaml"), list(overrides))


def test_recipe_for_qat_config():
    recipe = build_recipe(_config("mobilenetv2_qat_cpu"), "tflite_int8")
    (rule,) = recipe.rules
    assert recipe.target == "tflite_int8" and rule.quantize == "target" and rule.prune is None


def test_recipe_for_pruning_config_uses_its_schedule():
    cfg = _config("resnet50_pruning_cpu")
    recipe = build_recipe(cfg, "generic")
    p = cfg.task.pruning
    s = recipe.schedule
    assert isinstance(s, mot.PolynomialDecay)
    assert (s.initial_sparsity, s.final_sparsity, s.begin_step, s.end_step, s.frequency) == (
        p.initial_sparsity,
        p.final_sparsity,
        p.begin_step,
        p.end_step,
        p.frequency,
    )
    assert recipe.rules[0].prune == "target" and recipe.rules[0].quantize is None
    nofm = build_recipe(_config("resnet50_pruning_cpu", ["task.pruning.sparsity_m_by_n=[2,4]"]), "generic")
    assert isinstance(nofm.rules[0].prune, mot.NofM) and nofm.rules[0].prune.sparsity == 0.5


def test_recipe_errors_and_bits():
    with pytest.raises(KerasMotError, match="float models"):
        build_recipe(_config("mobilenetv2_qat_cpu"), "tflite")
    bits = ["task.quantization.change_num_bits=true", "task.quantization.num_bits_weight=4"]
    with pytest.raises(KerasMotError, match="4 bits"):
        build_recipe(_config("mobilenetv2_qat_cpu", bits), "tflite_int8")
    a16 = ["task.quantization.change_num_bits=true", "task.quantization.num_bits_activation=16"]
    assert build_recipe(_config("mobilenetv2_qat_cpu", a16), "tflite_int8").rules[0].quantize == "int16x8"


def test_recipe_rules_from_keras_mot_block():
    rules = (
        '[{select: "class:Dense", quantize: null}, '
        "{select: _default, quantize: int8, prune: {type: Block, rows: 4, cols: 1}}]"
    )
    recipe = build_recipe(_config("mobilenetv2_qat_cpu", [f"keras_mot.recipe={rules}"]), "tflite_int8")
    assert [r.select for r in recipe.rules] == ["class:Dense", "_default"]
    assert recipe.rules[1].prune == mot.Block(4, 1)


def test_float_phase_uses_float_learning_rate(tmp_path, monkeypatch):
    """Float training runs at `keras_mot.float_learning_rate`, QAT at the trainer's rate."""
    import keras_mot.garden.trainer as trainer_module

    used = []
    real = trainer_module.build_optimizer

    def recording(config, learning_rate=None):
        opt = real(config, learning_rate)
        used.append(float(opt.learning_rate))
        return opt

    monkeypatch.setattr(trainer_module, "build_optimizer", recording)
    overrides = [o for o in FAST if "float_train_steps" not in o] + [
        "keras_mot.float_train_steps=1",
        "keras_mot.float_learning_rate=0.003",
        "trainer.optimizer_config.learning_rate.constant.learning_rate=0.0003",
    ]
    train(
        os.path.join(CONFIGS, "mobilenetv2_qat_cpu.yaml"),
        out=tmp_path,
        overrides=overrides,
        verbose=0,
        lint="off",
        reference=False,
        checkpoints=False,
        max_examples=16,
    )
    assert used == [pytest.approx(0.003), pytest.approx(0.0003)]


@pytest.mark.slow  # 10-60 s per architecture (ResNet-50: 23 M parameters to convert)
@pytest.mark.parametrize("name", [c for c in CPU_CONFIGS if c not in COVERED_BY_CLI])
def test_cpu_config_trains_and_exports(tmp_path, name):
    overrides = FAST + (PRUNING_FAST if "pruning" in name else [])
    result = train(
        os.path.join(CONFIGS, f"{name}.yaml"),
        out=tmp_path,
        overrides=overrides,
        verbose=0,
        lint="off",
        reference=False,
        checkpoints=False,
        max_examples=64,
        export_targets=EXPORT_TARGETS.get(name),
    )
    assert result.exports, name
    for target, export in result.exports.items():
        assert export.parity.ok, (target, export.parity)
        errors = {f.code for f in export.findings if f.severity == "error"}
        assert export.ok or errors <= XNN_CODES, (target, errors)
    if "tflite_int8" in result.exports:
        int8 = result.exports["tflite_int8"]
        assert int8.ok and int8.float_compute_ops == [] and int8.verdict == "full_int8"
    assert (tmp_path / "results.json").exists()
    if result.mode == "pruning":
        final = load_config(os.path.join(CONFIGS, f"{name}.yaml")).task.pruning.final_sparsity
        primary = result.exports[result.target]
        assert primary.report["overall_sparsity"] == pytest.approx(final, abs=0.05)


def test_mirrored_distribution_strategy_trains(tmp_path, monkeypatch):
    """`runtime.distribution_strategy: mirrored`: models built and compiled under MirroredStrategy."""
    import keras
    import tensorflow as tf

    import keras_mot.garden.trainer as trainer_module

    compiled = []
    real = trainer_module._compile

    def recording(model, *args, **kwargs):
        real(model, *args, **kwargs)
        compiled.append(model.distribute_strategy)

    monkeypatch.setattr(trainer_module, "_compile", recording)
    overrides = FAST + ["runtime.distribution_strategy=mirrored"]
    result = train(
        os.path.join(CONFIGS, "mobilenetv2_qat_cpu.yaml"),
        out=tmp_path,
        overrides=overrides,
        verbose=0,
        lint="off",
        reference=False,
        checkpoints=True,
        max_examples=64,
        export_targets=["tflite_int8"],
    )
    assert len(compiled) == 2
    assert all(isinstance(s, tf.distribute.MirroredStrategy) for s in compiled)
    for target, export in result.exports.items():
        assert export.parity.ok and export.ok, (target, export.parity, result.table)
    keras.saving.load_model(os.path.join(tmp_path, "checkpoints", "qat.keras"), safe_mode=True)


def test_unknown_distribution_strategy_is_refused(tmp_path):
    with pytest.raises(KerasMotError) as err:
        train(
            os.path.join(CONFIGS, "mobilenetv2_qat_cpu.yaml"),
            out=tmp_path,
            overrides=FAST + ["runtime.distribution_strategy=tpu"],
            verbose=0,
        )
    message = str(err.value)
    assert "'tpu'" in message and "multi_worker_mirrored" in message and "one_device" in message
    assert not os.path.exists(os.path.join(tmp_path, "config.yaml"))


def test_jax_data_parallel_is_refused_on_another_backend(tmp_path):
    """`jax_data_parallel` is keras.distribution on JAX: refused on this (TensorFlow) backend."""
    import keras

    if keras.backend.backend() == "jax":
        pytest.skip("this process runs the JAX backend (tests/backends/test_distribution.py runs it)")
    with pytest.raises(KerasMotError) as err:
        train(
            os.path.join(CONFIGS, "mobilenetv2_qat_cpu.yaml"),
            out=tmp_path,
            overrides=FAST + ["runtime.distribution_strategy=jax_data_parallel"],
            verbose=0,
        )
    message = str(err.value)
    assert "'jax_data_parallel'" in message and f"KERAS_BACKEND={keras.backend.backend()}" in message
    assert "KERAS_BACKEND=jax" in message
    assert not os.path.exists(os.path.join(tmp_path, "config.yaml"))
