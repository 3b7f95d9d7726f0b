"""Architecture builders for Model Garden configs, keyed by `(backbone.type, model_id)`.

Each builder returns a Functional model from the input to pooled features; `build_model` adds the
classifier head (dropout + Dense(num_classes) logits), applies the BatchNormalization momentum of the config
by rebuilding from the edited model config (KerasHub backbones, which are not flat, get it set on
each BatchNormalization layer in place: they are freshly built, so nothing trained is touched), and returns one flat Functional `keras.Model`.

| key | architecture |
|---|---|
| ("mobilenet", "mobilenetv2") | keras.applications.MobileNetV2, alpha = filter_size_scale |
| ("mobilenet", "mobilenetv3small" / "mobilenetv3large") | keras.applications.MobileNetV3*, no built-in rescaling |
| ("resnet", "50") | keras.applications.ResNet50 |
| ("resnet", "18") | hand-built ResNet-18 (v1 basic blocks), widths x depth_multiplier |
| ("efficientnet", "b0".."b7") | keras.applications.EfficientNetB*, built-in rescaling/normalization removed |
| ("efficientnet", "lite0") | EfficientNetB0 with ReLU6 and no squeeze-excite (the Lite0 recipe) |
| ("bert", any) | `keras_mot.garden.text_encoder` |
| ("keras_hub", any) | any KerasHub backbone by class name and arguments (`keras_mot.garden.hub_backbone`) |

Images are expected in [0, 1] (what `keras_mot.garden.data` yields); no builder adds a preprocessing layer.
"""

import keras

from keras_mot.errors import KerasMotError, format_error
from keras_mot.garden.graph_edit import rebuild
from keras_mot.garden.hub_backbone import build_keras_hub_features
from keras_mot.garden.text_encoder import build_bert_features

BUILDERS = {}


def register_builder(backbone_type, model_id):
    """Decorator: registers `fn(input_size, block, cfg) -> features model` for a backbone key.

    Example:
        >>> @register_builder("mobilenet", "MyNet")
        ... def _my_net(input_size, block, cfg): ...
    """
    key = (backbone_type, str(model_id).lower())

    def decorator(fn):
        BUILDERS[key] = fn
        return fn

    return decorator


def _application(fn, **extra):
    def build(input_size, block, cfg):
        return fn(weights=None, include_top=False, pooling="avg", input_shape=tuple(input_size), **extra)

    return build


@register_builder("mobilenet", "MobileNetV2")
def _mobilenet_v2(input_size, block, cfg):
    return keras.applications.MobileNetV2(
        weights=None,
        include_top=False,
        pooling="avg",
        input_shape=tuple(input_size),
        alpha=block.filter_size_scale,
    )


def _mobilenet_v3(fn):
    def build(input_size, block, cfg):
        return fn(
            weights=None,
            include_top=False,
            pooling="avg",
            input_shape=tuple(input_size),
            alpha=block.filter_size_scale,
            include_preprocessing=False,
        )

    return build


register_builder("mobilenet", "MobileNetV3Small")(_mobilenet_v3(keras.applications.MobileNetV3Small))
register_builder("mobilenet", "MobileNetV3Large")(_mobilenet_v3(keras.applications.MobileNetV3Large))


@register_builder("resnet", 50)
def _resnet50(input_size, block, cfg):
    if block.depth_multiplier != 1.0:
        raise KerasMotError(
            format_error(
                "keras.applications.ResNet50 has fixed widths.",
                received=f"depth_multiplier={block.depth_multiplier}",
                fix="Use backbone.resnet.depth_multiplier: 1.0, or model_id: 18 (which scales widths).",
            )
        )
    return keras.applications.ResNet50(
        weights=None, include_top=False, pooling="avg", input_shape=tuple(input_size)
    )


def _basic_block(x, filters, stride, name):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = keras.layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(
        x
    )
    y = keras.layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_bn2")(y)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


@register_builder("resnet", 18)
def _resnet18(input_size, block, cfg):
    widths = [max(8, int(round(w * block.depth_multiplier))) for w in (64, 128, 256, 512)]
    inputs = keras.Input(shape=tuple(input_size), name="image")
    x = keras.layers.Conv2D(widths[0], 7, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, filters in enumerate(widths):
        for i in range(2):
            x = _basic_block(x, filters, 2 if (i == 0 and stage > 0) else 1, f"stage{stage + 1}_block{i + 1}")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, x, name="resnet18")


_EFFICIENTNETS = {f"b{i}": getattr(keras.applications, f"EfficientNetB{i}") for i in range(8)}


def _efficientnet(fn, lite=False):
    def build(input_size, block, cfg):
        model = fn(weights=None, include_top=False, pooling="avg", input_shape=tuple(input_size))

        def drop(class_name, name):
            return class_name in ("Rescaling", "Normalization") or (lite and "_se_" in name)

        def edit(class_name, config):
            if lite and config.get("activation") in ("swish", "silu"):
                config["activation"] = "relu6"

        return rebuild(model, edit=edit, drop=drop)

    return build


for _id, _fn in _EFFICIENTNETS.items():
    register_builder("efficientnet", _id)(_efficientnet(_fn))
register_builder("efficientnet", "lite0")(_efficientnet(keras.applications.EfficientNetB0, lite=True))


@register_builder("bert", "*")
def _bert(input_size, block, cfg):
    return build_bert_features(input_size, block)


@register_builder("keras_hub", "*")
def _keras_hub(input_size, block, cfg):
    return build_keras_hub_features(input_size, block)


def _lookup(backbone):
    block = backbone.get()
    model_id = getattr(block, "model_id", "*")
    for key in ((backbone.type, str(model_id).lower()), (backbone.type, "*")):
        if key in BUILDERS:
            return BUILDERS[key], block
    known = ", ".join(f"{t}/{m}" for t, m in sorted(BUILDERS))
    raise KerasMotError(
        format_error(
            "No keras_mot builder for this backbone.",
            received=f"type={backbone.type!r}, model_id={model_id!r}",
            fix=f"Use one of: {known} (or register one with keras_mot.garden.builders.register_builder).",
        )
    )


def _check_model_config(model_cfg):
    if model_cfg.num_classes < 1:
        raise KerasMotError(
            format_error(
                "task.model.num_classes must be >= 1.",
                received=model_cfg.num_classes,
                fix="Set e.g. num_classes: 10.",
            )
        )
    if not model_cfg.input_size:
        raise KerasMotError(
            format_error(
                "task.model.input_size is not set.",
                received="[]",
                fix="Set e.g. input_size: [32, 32, 3] (or [seq_len] for bert).",
            )
        )
    if model_cfg.add_head_batch_norm:
        raise KerasMotError(
            format_error(
                "task.model.add_head_batch_norm is not supported by keras_mot builders.",
                received="true",
                fix="Set it to false.",
            )
        )


def build_model(config):
    """Builds the Keras model an experiment config describes (random init, logits output).

    Args:
        config: an `ExperimentConfig` (`keras_mot.garden.load_config`).

    Returns:
        A flat Functional `keras.Model`: input of shape `task.model.input_size`, output
        `(batch, num_classes)` logits (softmax probabilities if `task.model.output_softmax`). Every
        BatchNormalization has momentum `config.bn_momentum` (`keras_mot.bn_momentum`, else
        `task.model.norm_activation.norm_momentum`).

    Raises:
        KerasMotError: no builder for the backbone, or an invalid model config.

    Example:
        >>> model = build_model(load_config("model_garden_configs/mobilenetv2_qat_cpu.yaml"))
        >>> model.output.shape
        (None, 10)
    """
    model_cfg = config.task.model
    _check_model_config(model_cfg)
    builder, block = _lookup(model_cfg.backbone)
    features = builder(list(model_cfg.input_size), block, config)
    x = features.output
    if model_cfg.dropout_rate > 0:
        x = keras.layers.Dropout(model_cfg.dropout_rate, name="head_dropout")(x)
    x = keras.layers.Dense(
        model_cfg.num_classes,
        kernel_initializer=model_cfg.kernel_initializer,
        activation="softmax" if model_cfg.output_softmax else None,
        name="logits",
    )(x)
    model = keras.Model(features.input, x, name=f"{model_cfg.backbone.type}_classifier")
    momentum = config.bn_momentum
    if model_cfg.backbone.type == "keras_hub":
        for layer in model._flatten_layers(include_self=False):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = momentum
        return model

    def set_momentum(class_name, layer_config):
        if class_name == "BatchNormalization":
            layer_config["momentum"] = momentum

    return rebuild(model, edit=set_momentum)
