"""Optimizer / schedule / loss built from configs."""

import glob
import os

import keras
import pytest

from keras_mot.errors import KerasMotError
from keras_mot.garden.config import config_from_dict, load_config
from keras_mot.garden.training import (
    LinearWarmup,
    build_learning_rate,
    build_loss,
    build_optimizer,
    one_hot_labels,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(
    "path",
    sorted(glob.glob(os.path.join(ROOT, "model_garden_configs", "*.yaml")))
    + sorted(glob.glob("/work/shared/model_garden_reference/*.yaml")),
    ids=os.path.basename,
)
def test_every_config_gives_an_optimizer_and_loss(path):
    cfg = load_config(path)
    assert isinstance(build_optimizer(cfg), keras.optimizers.Optimizer)
    assert isinstance(build_loss(cfg), keras.losses.Loss)


def test_learning_rate_argument_replaces_the_schedule():
    cfg = load_config("/work/shared/model_garden_reference/imagenet_resnet50_pruning_gpu.yaml")
    opt = build_optimizer(cfg, learning_rate=0.005)
    assert isinstance(opt, keras.optimizers.SGD) and opt.momentum == 0.9
    assert float(opt.learning_rate) == pytest.approx(0.005)


def test_values_are_carried_over():
    cfg = load_config("/work/shared/model_garden_reference/imagenet_resnet50_pruning_gpu.yaml")
    opt = build_optimizer(cfg)
    assert isinstance(opt, keras.optimizers.SGD) and opt.momentum == 0.9
    lr = build_learning_rate(cfg)
    assert float(lr(0)) == pytest.approx(0.01) and float(lr(2502)) == pytest.approx(0.009)
    assert one_hot_labels(cfg)
    cfg = config_from_dict(
        {},
        [
            "trainer.optimizer_config.learning_rate.type=cosine",
            "trainer.optimizer_config.learning_rate.cosine.initial_learning_rate=0.1",
            "trainer.optimizer_config.learning_rate.cosine.decay_steps=100",
            "trainer.optimizer_config.warmup.type=linear",
            "trainer.optimizer_config.warmup.linear.warmup_steps=10",
        ],
    )
    lr = build_learning_rate(cfg)
    assert float(lr(0)) == pytest.approx(0.0) and float(lr(5)) == pytest.approx(0.05, rel=1e-2)
    assert float(lr(10)) == pytest.approx(float(lr.after(10))) and float(lr.after(0)) == pytest.approx(0.1)
    restored = LinearWarmup.from_config(lr.get_config())
    assert float(restored(50)) == pytest.approx(float(lr(50)))


def test_unsupported_types_name_the_supported_ones():
    with pytest.raises(KerasMotError, match="lars.*sgd, adam"):
        build_optimizer(config_from_dict({}, ["trainer.optimizer_config.optimizer.type=lars"]))
    with pytest.raises(KerasMotError, match="power.*constant, exponential"):
        build_learning_rate(config_from_dict({}, ["trainer.optimizer_config.learning_rate.type=power"]))
