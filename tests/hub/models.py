"""Small KerasHub backbones built from constructor arguments (no presets: offline)."""

import keras
import keras_hub
import numpy as np

M = keras_hub.models


def mobilenet_v3():
    return M.MobileNetBackbone(
        stackwise_expansion=[[1], [4, 3], [3, 3]],
        stackwise_num_blocks=[1, 2, 2],
        stackwise_num_filters=[[8], [12, 12], [16, 16]],
        stackwise_kernel_size=[[3], [3, 3], [5, 5]],
        stackwise_num_strides=[[2], [2, 1], [2, 1]],
        stackwise_se_ratio=[[0.25], [None, None], [0.25, 0.25]],
        stackwise_activation=[["relu"], ["relu", "relu"], ["hard_swish", "hard_swish"]],
        stackwise_padding=[[1], [1, 1], [2, 2]],
        output_num_filters=32,
        depthwise_filters=8,
        depthwise_stride=2,
        depthwise_residual=False,
        last_layer_filter=32,
        squeeze_and_excite=0.25,
        image_shape=(32, 32, 3),
    )


def mobilenet_v2_relu6():
    """V2-style: ReLU6 everywhere, no squeeze-excite (the layout XNNPack's sparse path targets)."""
    return M.MobileNetBackbone(
        stackwise_expansion=[[1], [6, 6], [6, 6]],
        stackwise_num_blocks=[1, 2, 2],
        stackwise_num_filters=[[8], [12, 12], [16, 16]],
        stackwise_kernel_size=[[3], [3, 3], [3, 3]],
        stackwise_num_strides=[[1], [2, 1], [2, 1]],
        stackwise_se_ratio=[[None], [None, None], [None, None]],
        stackwise_activation=[["relu6"], ["relu6", "relu6"], ["relu6", "relu6"]],
        stackwise_padding=[[1], [1, 1], [1, 1]],
        output_num_filters=32,
        depthwise_filters=8,
        depthwise_stride=1,
        depthwise_residual=False,
        last_layer_filter=32,
        squeeze_and_excite=None,
        input_activation="relu6",
        output_activation="relu6",
        image_shape=(32, 32, 3),
    )


def resnet():
    return M.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 32],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(32, 32, 3),
    )


def efficientnet():
    return M.EfficientNetBackbone(
        stackwise_width_coefficients=[1.0] * 2,
        stackwise_depth_coefficients=[1.0] * 2,
        stackwise_kernel_sizes=[3, 3],
        stackwise_num_repeats=[1, 2],
        stackwise_input_filters=[8, 8],
        stackwise_output_filters=[8, 16],
        stackwise_expansion_ratios=[1, 4],
        stackwise_squeeze_and_excite_ratios=[0.25, 0.25],
        stackwise_strides=[1, 2],
        stackwise_block_types=["v1", "v1"],
        stackwise_force_input_filters=[0, 0],
        stackwise_nores_option=[False, False],
        input_shape=(32, 32, 3),
        num_features=32,
    )


def densenet():
    return M.DenseNetBackbone(stackwise_num_repeats=[2, 2], image_shape=(32, 32, 3))


def vit():
    return M.ViTBackbone(
        image_shape=(32, 32, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
    )


def bert():
    return M.BertBackbone(
        vocabulary_size=50,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
    )


def distilbert():
    return M.DistilBertBackbone(
        vocabulary_size=50,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
    )


def albert():
    return M.AlbertBackbone(
        vocabulary_size=50,
        num_layers=2,
        num_heads=2,
        embedding_dim=8,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
    )


ALL = dict(
    resnet=resnet,
    densenet=densenet,
    mobilenet_v3=mobilenet_v3,
    mobilenet_v2_relu6=mobilenet_v2_relu6,
    efficientnet=efficientnet,
    vit=vit,
    bert=bert,
    distilbert=distilbert,
    albert=albert,
)

TEXT = ("bert", "distilbert", "albert")


def with_head(backbone, classes=10):
    """The backbone with a pooled classifier head (a plain Functional model)."""
    inputs = backbone.input
    out = backbone(inputs)
    if isinstance(out, dict):
        out = out.get("pooled_output", out.get("sequence_output"))
    if len(out.shape) == 4:
        out = keras.layers.GlobalAveragePooling2D()(out)
    elif len(out.shape) == 3:
        out = keras.layers.GlobalAveragePooling1D()(out)
    return keras.Model(inputs, keras.layers.Dense(classes, name="logits")(out))


def sample(model, n=32, length=16, seed=0):
    """Random inputs in the structure the model was built with (dict for the text models)."""
    rng = np.random.default_rng(seed)
    if isinstance(model.input, dict):
        data = {}
        for key in model.input:
            if key == "token_ids":
                data[key] = rng.integers(0, 50, (n, length)).astype("int32")
            elif key == "segment_ids":
                data[key] = rng.integers(0, 2, (n, length)).astype("int32")
            else:  # padding mask: some sequences padded
                mask = np.ones((n, length), "int32")
                mask[::2, length - 4 :] = 0
                data[key] = mask
        return data
    return rng.normal(size=(n,) + tuple(model.input.shape[1:])).astype("float32")
