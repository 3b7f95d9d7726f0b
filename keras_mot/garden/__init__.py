"""Model Garden bridge: experiment configs, architecture builders and data pipelines.

Example:
    >>> from keras_mot import garden
    >>> cfg = garden.load_config("model_garden_configs/mobilenetv2_qat_cpu.yaml", ["trainer.train_steps=5"])
    >>> model = garden.build_model(cfg)
    >>> train = garden.build_dataset(cfg, "train", repeat=True)
"""

from keras_mot.garden.builders import BUILDERS, build_model, register_builder
from keras_mot.garden.config import ExperimentConfig, config_from_dict, dump_config, load_config
from keras_mot.garden.data import SOURCES, build_dataset, make_text_task, register_source, resolve_source
from keras_mot.garden.digits import load_digits
from keras_mot.garden.training import build_learning_rate, build_loss, build_optimizer, one_hot_labels

__all__ = [
    "BUILDERS",
    "ExperimentConfig",
    "SOURCES",
    "build_dataset",
    "build_model",
    "config_from_dict",
    "build_learning_rate",
    "build_loss",
    "build_optimizer",
    "dump_config",
    "load_config",
    "load_digits",
    "one_hot_labels",
    "make_text_task",
    "register_builder",
    "register_source",
    "resolve_source",
]
