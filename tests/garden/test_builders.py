"""Every CPU-sized config builds a model that runs a forward pass and a training step."""

import glob
import os

import keras
import numpy as np
import pytest

from keras_mot.errors import KerasMotError
from keras_mot.garden.builders import BUILDERS, build_model
from keras_mot.garden.config import config_from_dict, load_config
from keras_mot.garden.data import build_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CPU_CONFIGS = sorted(glob.glob(os.path.join(ROOT, "model_garden_configs", "*_cpu.yaml")))


@pytest.mark.parametrize("path", CPU_CONFIGS, ids=os.path.basename)
def test_cpu_config_builds_runs_and_trains(path):
    cfg = load_config(path, ["task.train_data.global_batch_size=8"])
    keras.utils.set_random_seed(0)
    model = build_model(cfg)
    x, y = next(iter(build_dataset(cfg, "train")))
    assert tuple(model.input_shape[1:]) == tuple(cfg.task.model.input_size)
    logits = model(x, training=False)
    assert tuple(logits.shape) == (8, cfg.task.model.num_classes)
    assert not np.allclose(keras.ops.sum(keras.ops.softmax(logits), -1), 0)  # logits, not probabilities of 0
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=True,
    )
    before = [w.numpy().copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    momenta = {
        layer.momentum
        for layer in model._flatten_layers()  # nested KerasHub blocks too
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    assert momenta <= {0.9}  # every BatchNormalization, if the model has any (ViT, BERT: none)
    if cfg.task.model.backbone.type in ("mobilenet", "resnet", "efficientnet"):
        assert momenta == {0.9}


def _image_cfg(backbone, block, **model):
    return config_from_dict(
        {
            "task": {
                "model": {
                    "num_classes": 5,
                    "input_size": [32, 32, 3],
                    "backbone": {"type": backbone, backbone: block},
                    **model,
                }
            }
        }
    )


def test_efficientnet_has_no_imagenet_preprocessing_and_lite0_no_squeeze_excite():
    b0 = build_model(_image_cfg("efficientnet", {"model_id": "b0"}))
    assert not [l for l in b0.layers if type(l).__name__ in ("Rescaling", "Normalization")]
    assert any("_se_" in l.name for l in b0.layers)
    lite = build_model(_image_cfg("efficientnet", {"model_id": "lite0"}))
    assert not [l for l in lite.layers if "_se_" in l.name]
    activations = {
        l.get_config().get("activation") for l in lite.layers if isinstance(l, keras.layers.Activation)
    }
    assert activations == {"relu6"}
    assert lite.count_params() < b0.count_params()


def test_filter_size_scale_and_head_options():
    small = build_model(_image_cfg("mobilenet", {"model_id": "MobileNetV2", "filter_size_scale": 0.35}))
    wide = build_model(_image_cfg("mobilenet", {"model_id": "MobileNetV2", "filter_size_scale": 0.5}))
    assert small.count_params() < wide.count_params()
    model = build_model(
        _image_cfg(
            "resnet", {"model_id": 18, "depth_multiplier": 0.125}, dropout_rate=0.2, output_softmax=True
        )
    )
    assert model.get_layer("head_dropout").rate == 0.2
    out = model(np.zeros((2, 32, 32, 3), "float32"))
    np.testing.assert_allclose(np.sum(out, -1), 1.0, rtol=1e-5)


def test_default_momentum_is_model_garden_default():
    model = build_model(_image_cfg("resnet", {"model_id": 18, "depth_multiplier": 0.125}))
    assert {l.momentum for l in model.layers if isinstance(l, keras.layers.BatchNormalization)} == {0.99}


def test_bert_model_saves_and_loads_in_safe_mode(tmp_path):
    cfg = load_config(os.path.join(ROOT, "model_garden_configs", "bert_encoder_qat_cpu.yaml"))
    model = build_model(cfg)
    path = str(tmp_path / "bert.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).integers(0, 128, (2, 32)).astype("int32")
    np.testing.assert_allclose(model.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize(
    "override, match",
    [
        (["task.model.backbone.type=spinenet"], r"No keras_mot builder.*mobilenet/mobilenetv2"),
        (["task.model.backbone.mobilenet.model_id=MobileNetMultiAVG"], "MobileNetMultiAVG"),
        (["task.model.num_classes=0"], "num_classes"),
        (["task.model.input_size=[]"], "input_size"),
        (["task.model.add_head_batch_norm=true"], "add_head_batch_norm"),
    ],
)
def test_unbuildable_configs_raise_clear_errors(override, match):
    cfg = load_config(os.path.join(ROOT, "model_garden_configs", "mobilenetv2_qat_cpu.yaml"), override)
    with pytest.raises(KerasMotError, match=match):
        build_model(cfg)


def test_registry_covers_required_architectures():
    for key in [
        ("mobilenet", "mobilenetv2"),
        ("mobilenet", "mobilenetv3small"),
        ("mobilenet", "mobilenetv3large"),
        ("resnet", "50"),
        ("resnet", "18"),
        ("efficientnet", "b0"),
        ("efficientnet", "lite0"),
        ("bert", "*"),
    ]:
        assert key in BUILDERS
