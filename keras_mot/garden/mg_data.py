"""Model Garden's input schema (`task.train_data`, `task.validation_data`).

Field names and defaults follow tensorflow/models official/core/config_definitions.py (DataConfig),
official/vision/configs/image_classification.py (DataConfig) and official/vision/configs/common.py
(augmentation and decoder blocks), so Model Garden experiment files load unchanged. keras_mot reads
`input_path`, `tfds_name`, `tfds_split`, `tfds_data_dir`, `global_batch_size`, `is_training`,
`drop_remainder`, `shuffle_buffer_size`, `cache`, `seed`, `image_field_key`, `label_field_key`; augmentation
keys are accepted but not applied.
"""

import dataclasses
from typing import Any, Dict, List, Optional, Tuple, Union

from keras_mot.garden.schema import OneOf


def _d(cls, **kw):
    return dataclasses.field(default_factory=lambda: cls(**kw))


@dataclasses.dataclass
class TfExampleDecoder:
    """`decoder.simple_decoder`."""

    regenerate_source_id: bool = False
    mask_binarize_threshold: Optional[float] = None
    attribute_names: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TfExampleDecoderLabelMap:
    """`decoder.label_map_decoder`."""

    regenerate_source_id: bool = False
    mask_binarize_threshold: Optional[float] = None
    label_map: str = ""


@dataclasses.dataclass
class DataDecoder(OneOf):
    """One-of: `type` + decoder block."""

    type: Optional[str] = "simple_decoder"
    simple_decoder: TfExampleDecoder = _d(TfExampleDecoder)
    label_map_decoder: TfExampleDecoderLabelMap = _d(TfExampleDecoderLabelMap)


@dataclasses.dataclass
class RandAugment:
    """`aug_type.randaug` (accepted; not applied by keras_mot)."""

    num_layers: int = 2
    magnitude: float = 10
    cutout_const: float = 40
    translate_const: float = 10
    magnitude_std: float = 0.0
    prob_to_apply: Optional[float] = None
    exclude_ops: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class AutoAugment:
    """`aug_type.autoaug` (accepted; not applied by keras_mot)."""

    augmentation_name: str = "v0"
    cutout_const: float = 100
    translate_const: float = 250


@dataclasses.dataclass
class Augmentation(OneOf):
    """One-of: `type` + augmentation block."""

    type: Optional[str] = None
    randaug: RandAugment = _d(RandAugment)
    autoaug: AutoAugment = _d(AutoAugment)


@dataclasses.dataclass
class RandomErasing:
    """`random_erasing` (accepted; not applied by keras_mot)."""

    probability: float = 0.25
    min_area: float = 0.02
    max_area: float = 1 / 3
    min_aspect: float = 0.3
    max_aspect: Optional[float] = None
    min_count: int = 1
    max_count: int = 1
    trials: int = 10


@dataclasses.dataclass
class MixupAndCutmix:
    """`mixup_and_cutmix` (accepted; not applied by keras_mot)."""

    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    prob: float = 1.0
    switch_prob: float = 0.5
    label_smoothing: float = 0.1


@dataclasses.dataclass
class DataConfig:
    """One input split: where the examples are and how they are batched.

    Example:
        >>> cfg.task.train_data.global_batch_size
        32
    """

    input_path: Union[str, List[str], Dict[str, Any]] = ""
    tfds_name: Union[str, Dict[str, Any]] = ""
    tfds_split: str = ""
    global_batch_size: int = 0
    is_training: Optional[bool] = None
    drop_remainder: bool = True
    shuffle_buffer_size: int = 10000
    cache: bool = False
    cycle_length: Optional[int] = 10
    block_length: int = 1
    deterministic: Optional[bool] = None
    sharding: bool = True
    enable_tf_data_service: bool = False
    tf_data_service_address: Optional[str] = None
    tf_data_service_job_name: Optional[str] = None
    tfds_data_dir: str = ""
    tfds_as_supervised: bool = False
    tfds_skip_decoding_feature: str = ""
    enable_shared_tf_data_service_between_parallel_trainers: bool = False
    apply_tf_data_service_before_batching: bool = False
    trainer_id: Optional[str] = None
    seed: Optional[int] = None
    prefetch_buffer_size: Optional[int] = None
    weights: Optional[Dict[str, Any]] = None
    dtype: str = "float32"
    is_multilabel: bool = False
    aug_rand_hflip: bool = True
    aug_crop: Optional[bool] = True
    crop_area_range: Optional[Tuple[float, float]] = (0.08, 1.0)
    aug_type: Optional[Augmentation] = None
    three_augment: bool = False
    color_jitter: float = 0.0
    random_erasing: Optional[RandomErasing] = None
    file_type: str = "tfrecord"
    image_field_key: str = "image/encoded"
    label_field_key: str = "image/class/label"
    decode_jpeg_only: bool = True
    mixup_and_cutmix: Optional[MixupAndCutmix] = None
    decoder: Optional[DataDecoder] = _d(DataDecoder)
    aug_policy: Optional[str] = None
    randaug_magnitude: Optional[int] = 10
    center_crop_fraction: Optional[float] = 0.875
    tf_resize_method: str = "bilinear"
