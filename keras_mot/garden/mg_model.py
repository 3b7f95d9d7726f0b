"""Model Garden's image-classification model schema (`task.model`), with every backbone it defines.

Field names and defaults follow tensorflow/models official/vision/configs/backbones.py,
official/vision/configs/common.py (NormActivation) and official/vision/configs/image_classification.py
(ImageClassificationModel), so Model Garden experiment files load unchanged. keras_mot adds two backbone
types: `keras_hub` (any KerasHub backbone by class name) and `bert` (field names from
official/nlp/configs/encoders.py BertEncoderConfig), its own text model.
Which of these keras_mot can build is decided by `keras_mot.garden.builders`, not here.
"""

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from keras_mot.garden.schema import OneOf


def _d(cls, **kw):
    return dataclasses.field(default_factory=lambda: cls(**kw))


@dataclasses.dataclass
class ResNet:
    """`backbone.resnet`."""

    model_id: int = 50
    depth_multiplier: float = 1.0
    stem_type: str = "v0"
    se_ratio: float = 0.0
    stochastic_depth_drop_rate: float = 0.0
    scale_stem: bool = True
    resnetd_shortcut: bool = False
    replace_stem_max_pool: bool = False
    bn_trainable: bool = True


@dataclasses.dataclass
class DilatedResNet:
    """`backbone.dilated_resnet` (accepted; not built)."""

    model_id: int = 50
    output_stride: int = 16
    multigrid: Optional[List[int]] = None
    stem_type: str = "v0"
    last_stage_repeats: int = 1
    se_ratio: float = 0.0
    stochastic_depth_drop_rate: float = 0.0
    resnetd_shortcut: bool = False
    replace_stem_max_pool: bool = False


@dataclasses.dataclass
class RevNet:
    """`backbone.revnet` (accepted; not built)."""

    model_id: int = 56


@dataclasses.dataclass
class EfficientNet:
    """`backbone.efficientnet`."""

    model_id: str = "b0"
    se_ratio: float = 0.0
    stochastic_depth_drop_rate: float = 0.0


@dataclasses.dataclass
class MobileNet:
    """`backbone.mobilenet`: `model_id` such as MobileNetV2, MobileNetV3Small, MobileNetV3Large."""

    model_id: str = "MobileNetV2"
    filter_size_scale: float = 1.0
    stochastic_depth_drop_rate: float = 0.0
    output_stride: Optional[int] = None
    output_intermediate_endpoints: bool = False


@dataclasses.dataclass
class SpineNet:
    """`backbone.spinenet` (accepted; not built)."""

    model_id: str = "49"
    stochastic_depth_drop_rate: float = 0.0
    min_level: int = 3
    max_level: int = 7


@dataclasses.dataclass
class SpineNetMobile:
    """`backbone.spinenet_mobile` (accepted; not built)."""

    model_id: str = "49"
    stochastic_depth_drop_rate: float = 0.0
    se_ratio: float = 0.2
    expand_ratio: int = 6
    min_level: int = 3
    max_level: int = 7
    use_keras_upsampling_2d: bool = False


@dataclasses.dataclass
class MobileDet:
    """`backbone.mobiledet` (accepted; not built)."""

    model_id: str = "MobileDetCPU"
    filter_size_scale: float = 1.0


@dataclasses.dataclass
class Transformer:
    """`backbone.vit.transformer`."""

    mlp_dim: int = 1
    num_heads: int = 1
    num_layers: int = 1
    attention_dropout_rate: float = 0.0
    dropout_rate: float = 0.1


@dataclasses.dataclass
class VisionTransformer:
    """`backbone.vit` (accepted; not built)."""

    model_name: str = "vit-b16"
    pooler: str = "token"
    representation_size: int = 0
    hidden_size: int = 1
    patch_size: int = 16
    transformer: Transformer = _d(Transformer)
    init_stochastic_depth_rate: float = 0.0
    original_init: bool = True
    pos_embed_shape: Optional[Tuple[int, int]] = None
    output_encoded_tokens: bool = True
    output_2d_feature_maps: bool = False
    layer_scale_init_value: float = 0.0


@dataclasses.dataclass
class BertEncoder:
    """`backbone.bert` (keras_mot extension): a small BERT-style encoder over token ids.

    `task.model.input_size` is `[sequence_length]` for this backbone.
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_attention_heads: int = 12
    hidden_activation: str = "gelu"
    intermediate_size: int = 3072
    dropout_rate: float = 0.1
    attention_dropout_rate: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    embedding_size: Optional[int] = None
    norm_first: bool = False


@dataclasses.dataclass
class KerasHubBackbone:
    """`backbone.keras_hub` (keras_mot extension): any KerasHub backbone, by class name and arguments.

    The backbone is built from its constructor arguments (random init; presets need a download).
    `task.model.input_size` is the image shape (passed as `image_shape` / `input_shape` unless `args`
    sets it) or `[sequence_length]` for text backbones (those with `vocabulary_size`), which then
    read token ids only: the padding mask is `token_ids != 0` and segment ids are 0.

    Example:
        >>> KerasHubBackbone(class_name="ViTBackbone", args={"patch_size": 8, "num_layers": 2,
        ...     "num_heads": 2, "hidden_dim": 16, "mlp_dim": 32}).class_name
        'ViTBackbone'
    """

    class_name: str = ""
    args: Dict[str, Any] = dataclasses.field(default_factory=dict)
    output: Optional[str] = None  # key of a dict output (default: pooled_output, else sequence_output)


@dataclasses.dataclass
class Backbone(OneOf):
    """One-of: `type` + the block of that backbone.

    Example:
        >>> cfg.task.model.backbone.get().model_id
        'MobileNetV2'
    """

    type: Optional[str] = None
    resnet: ResNet = _d(ResNet)
    dilated_resnet: DilatedResNet = _d(DilatedResNet)
    revnet: RevNet = _d(RevNet)
    efficientnet: EfficientNet = _d(EfficientNet)
    spinenet: SpineNet = _d(SpineNet)
    spinenet_mobile: SpineNetMobile = _d(SpineNetMobile)
    mobilenet: MobileNet = _d(MobileNet)
    mobiledet: MobileDet = _d(MobileDet)
    vit: VisionTransformer = _d(VisionTransformer)
    bert: BertEncoder = _d(BertEncoder)
    keras_hub: KerasHubBackbone = _d(KerasHubBackbone)


@dataclasses.dataclass
class NormActivation:
    """`task.model.norm_activation`: keras_mot applies `norm_momentum` to every BatchNormalization."""

    activation: str = "relu"
    use_sync_bn: bool = True
    norm_momentum: float = 0.99
    norm_epsilon: float = 0.001


@dataclasses.dataclass
class ImageClassificationModel:
    """`task.model`: classifier over a backbone; keras_mot's head is dropout + Dense(num_classes) logits."""

    num_classes: int = 0
    input_size: List[int] = dataclasses.field(default_factory=list)
    backbone: Backbone = _d(Backbone, type="resnet")
    dropout_rate: float = 0.0
    norm_activation: NormActivation = _d(NormActivation, use_sync_bn=False)
    add_head_batch_norm: bool = False
    kernel_initializer: str = "random_uniform"
    output_softmax: bool = False
