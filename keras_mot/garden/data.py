"""Input pipelines for Model Garden configs: `build_dataset(config, split)` -> batched `tf.data.Dataset`.

Sources (registered in `SOURCES`, chosen by `keras_mot.data.source`, `auto` by default):

| source | reads | examples |
|---|---|---|
| digits | the embedded UCI digits (`keras_mot.garden.digits`), resized to `input_size` | float32 images in [0, 1] |
| tfds | a TFDS data set already on disk (`tfds_name`, `tfds_split`, `tfds_data_dir`; never downloads) | same |
| tfrecord | Model Garden image-classification TFRecords (`image/encoded`, `image/class/label`) | same |
| image_folder | a directory with one sub-directory of images per class (sorted names = labels 0..N-1) | same |
| text | a generated token task for the `bert` backbone, deterministic from `keras_mot.data.seed` | int32 ids |

`auto`: `tfds_name` set -> tfds; `input_path` a directory -> image_folder; other `input_path` -> tfrecord;
nothing -> digits (text for the `bert` backbone). Labels are int32 class ids.
"""

import os

import numpy as np
import tensorflow as tf

from keras_mot.errors import KerasMotError, format_error
from keras_mot.garden.digits import load_digits

SPLITS = ("train", "validation")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
SOURCES = {}


def register_source(name):
    """Decorator: registers `fn(config, split) -> unbatched tf.data.Dataset of (x, label)`.

    Example:
        >>> @register_source("my_source")
        ... def _mine(config, split): ...
    """

    def decorator(fn):
        SOURCES[name] = fn
        return fn

    return decorator


def _data_cfg(config, split):
    return config.task.train_data if split == "train" else config.task.validation_data


def _paths(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, str):
        value = [value]
    return [p.strip() for item in value for p in str(item).split(",") if p.strip()]


def resolve_source(config, split="train"):
    """Name of the source that feeds `split` (`keras_mot.data.source`, or the `auto` rule).

    Example:
        >>> resolve_source(load_config("model_garden_configs/mobilenetv2_qat_cpu.yaml"))
        'digits'
    """
    source = config.keras_mot.data.source
    if source != "auto":
        return source
    data = config.task.train_data
    if data.tfds_name:
        return "tfds"
    paths = _paths(data.input_path)
    if paths:
        return "image_folder" if len(paths) == 1 and os.path.isdir(paths[0]) else "tfrecord"
    return "text" if text_vocab_size(config) else "digits"


def text_vocab_size(config):
    """Vocabulary size of the model's text backbone (`bert`, or a KerasHub text backbone), else None.

    Example:
        >>> text_vocab_size(load_config("model_garden_configs/bert_encoder_qat_cpu.yaml"))
        128
    """
    backbone = config.task.model.backbone
    if backbone.type == "bert":
        return backbone.bert.vocab_size
    if backbone.type == "keras_hub":
        return backbone.keras_hub.args.get("vocabulary_size")
    return None


def _image_shape(config):
    size = list(config.task.model.input_size)
    if len(size) != 3 or size[2] not in (1, 3):
        raise KerasMotError(
            format_error(
                "Image sources need task.model.input_size = [height, width, channels] with 1 or 3 channels.",
                received=size,
                fix="Set e.g. input_size: [32, 32, 3].",
            )
        )
    return size


def _to_model_image(image, config):
    """uint8/float image of any size and channel count -> float32 [0, 1] of the model's input shape."""
    height, width, channels = _image_shape(config)
    image = tf.image.convert_image_dtype(image, tf.float32)
    if image.shape[-1] != channels:
        image = tf.image.grayscale_to_rgb(image) if channels == 3 else tf.image.rgb_to_grayscale(image)
    image = tf.image.resize(image, (height, width), method="bilinear")
    return tf.clip_by_value(image, 0.0, 1.0)


@register_source("digits")
def _digits(config, split):
    height, width, channels = _image_shape(config)
    x, y = load_digits(split, image_size=(height, width), channels=channels)
    return tf.data.Dataset.from_tensor_slices((x, y))


@register_source("tfds")
def _tfds(config, split):
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise KerasMotError(
            format_error(
                "The 'tfds' data source needs the tensorflow-datasets package, which is not installed.",
                received="import tensorflow_datasets failed",
                fix="pip install tensorflow-datasets, or use a TFRecord / image-folder input_path.",
            )
        ) from e
    data = _data_cfg(config, split)
    name = data.tfds_name or config.task.train_data.tfds_name
    tfds_split = data.tfds_split or ("train" if split == "train" else "validation")
    data_dir = data.tfds_data_dir or config.task.train_data.tfds_data_dir or None
    try:
        ds = tfds.load(name, split=tfds_split, data_dir=data_dir, as_supervised=True, download=False)
    except Exception as e:  # tfds raises several types for "not prepared"
        raise KerasMotError(
            format_error(
                f"TFDS data set {name!r} (split {tfds_split!r}) is not on disk under {data_dir or '~/tensorflow_datasets'}.",
                received=f"{type(e).__name__}: {e}",
                fix="Prepare it first (tfds build), or set task.*_data.tfds_data_dir to where it is.",
            )
        ) from e
    return ds.map(lambda image, label: (_to_model_image(image, config), tf.cast(label, tf.int32)))


def _files(config, split, kind):
    data = _data_cfg(config, split)
    paths = _paths(data.input_path)
    key = f"task.{'train' if split == 'train' else 'validation'}_data.input_path"
    if not paths:
        raise KerasMotError(
            format_error(
                f"The {kind!r} source needs {key}.",
                received="''",
                fix=f"Override it, e.g. --set {key}=/data/{split}*",
            )
        )
    return key, paths


@register_source("tfrecord")
def _tfrecord(config, split):
    key, patterns = _files(config, split, "tfrecord")
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise KerasMotError(
            format_error(
                f"No TFRecord files match {key}.",
                received=patterns,
                fix=f"Point {key} at existing files (patterns allowed), or set keras_mot.data.source=digits.",
            )
        )
    data = _data_cfg(config, split)
    features = {
        data.image_field_key: tf.io.FixedLenFeature([], tf.string),
        data.label_field_key: tf.io.FixedLenFeature([], tf.int64),
    }
    channels = _image_shape(config)[2]

    def parse(record):
        example = tf.io.parse_single_example(record, features)
        image = tf.io.decode_image(example[data.image_field_key], channels=channels, expand_animations=False)
        return _to_model_image(image, config), tf.cast(example[data.label_field_key], tf.int32)

    return tf.data.TFRecordDataset(files).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def list_image_folder(root):
    """Returns `(files, labels, class_names)` of a class-per-sub-directory image folder.

    Example:
        >>> files, labels, names = list_image_folder("flowers/train")
        >>> names[:2]
        ['daisy', 'rose']
    """
    if not os.path.isdir(root):
        raise KerasMotError(
            format_error(
                "Image folder not found.",
                received=repr(root),
                fix="Give a directory with one sub-directory per class.",
            )
        )
    names = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    files, labels = [], []
    for label, name in enumerate(names):
        for f in sorted(os.listdir(os.path.join(root, name))):
            if f.lower().endswith(IMAGE_EXTENSIONS):
                files.append(os.path.join(root, name, f))
                labels.append(label)
    if not files:
        raise KerasMotError(
            format_error(
                "Image folder holds no images in class sub-directories.",
                received=repr(root),
                fix=f"Put {', '.join(IMAGE_EXTENSIONS)} files in <root>/<class>/.",
            )
        )
    return files, labels, names


@register_source("image_folder")
def _image_folder(config, split):
    key, paths = _files(config, split, "image_folder")
    files, labels, _ = list_image_folder(paths[0])
    channels = _image_shape(config)[2]

    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        return _to_model_image(image, config), label

    ds = tf.data.Dataset.from_tensor_slices((files, np.asarray(labels, np.int32)))
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)


def make_text_task(num_examples, sequence_length, vocab_size, num_classes, seed=0):
    """Generates a token-classification task: the label is the class whose key token occurs most often.

    Token ids `1..num_classes` are the class keys (`1 + c` for class `c`); the rest of each sequence is
    filler drawn from `[num_classes + 1, vocab_size)`. Every sequence holds its class key three times and
    the keys of two other classes once, at random positions, so the label depends on counting tokens.

    Returns:
        `(tokens int32 (N, L), labels int32 (N,))`, identical for identical arguments.

    Example:
        >>> x, y = make_text_task(4, 16, 64, 4)
        >>> x.shape, y.shape
        ((4, 16), (4,))
    """
    if vocab_size <= 2 * num_classes + 1 or sequence_length < 5 or num_classes < 3:
        raise KerasMotError(
            format_error(
                "The text task needs vocab_size > 2 * num_classes + 1, sequence_length >= 5, num_classes >= 3.",
                received=f"vocab_size={vocab_size}, sequence_length={sequence_length}, num_classes={num_classes}",
                fix="Raise backbone.bert.vocab_size or task.model.input_size.",
            )
        )
    rng = np.random.default_rng(seed)
    tokens = rng.integers(num_classes + 1, vocab_size, size=(num_examples, sequence_length))
    labels = rng.integers(0, num_classes, size=num_examples)
    for i, label in enumerate(labels):
        others = rng.choice([c for c in range(num_classes) if c != label], size=2, replace=False)
        keys = [label] * 3 + list(others)
        positions = rng.choice(sequence_length, size=len(keys), replace=False)
        tokens[i, positions] = np.asarray(keys) + 1
    return tokens.astype(np.int32), labels.astype(np.int32)


@register_source("text")
def _text(config, split):
    model = config.task.model
    vocab_size = text_vocab_size(config)
    if not vocab_size or len(model.input_size) != 1:
        raise KerasMotError(
            format_error(
                "The 'text' source feeds a text backbone (bert, or keras_hub with vocabulary_size) with "
                "task.model.input_size = [sequence_length].",
                received=f"backbone {model.backbone.type!r}, input_size {list(model.input_size)}",
                fix="Use a text backbone, or another data source.",
            )
        )
    opts = config.keras_mot.data
    n = opts.text_train_examples if split == "train" else opts.text_validation_examples
    x, y = make_text_task(
        n, model.input_size[0], vocab_size, model.num_classes, seed=opts.seed * 2 + (split != "train")
    )
    return tf.data.Dataset.from_tensor_slices((x, y))


def build_dataset(config, split="train", batch_size=None, shuffle=None, repeat=False, drop_remainder=None):
    """Builds the batched input pipeline of one split.

    Args:
        config: an `ExperimentConfig`.
        split: `"train"` (reads `task.train_data`) or `"validation"` (reads `task.validation_data`).
        batch_size: defaults to the split's `global_batch_size`.
        shuffle: defaults to the split's `is_training`; the buffer is `shuffle_buffer_size`, the seed
            `seed` (or `keras_mot.seed`).
        repeat: repeat forever (the trainer counts `trainer.train_steps`).
        drop_remainder: defaults to the split's `drop_remainder`.

    Returns:
        `tf.data.Dataset` of `(inputs, labels)` batches, prefetched.

    Raises:
        KerasMotError: unknown split, missing files or packages, bad batch size.

    Example:
        >>> ds = build_dataset(load_config("model_garden_configs/mobilenetv2_qat_cpu.yaml"), "train")
        >>> x, y = next(iter(ds))
    """
    if split not in SPLITS:
        raise KerasMotError(
            format_error("Unknown split.", received=repr(split), fix=f"Use one of: {SPLITS}.")
        )
    data = _data_cfg(config, split)
    source = resolve_source(config, split)
    if source not in SOURCES:
        raise KerasMotError(
            format_error(
                "Unknown data source.", received=repr(source), fix=f"Use one of: {', '.join(SOURCES)}."
            )
        )
    ds = SOURCES[source](config, split)
    batch_size = batch_size or data.global_batch_size
    if batch_size < 1:
        raise KerasMotError(
            format_error(
                f"task.{split}_data.global_batch_size must be >= 1.",
                received=batch_size,
                fix="Set e.g. global_batch_size: 32.",
            )
        )
    if data.cache:
        ds = ds.cache()
    if data.is_training if shuffle is None else shuffle:
        seed = data.seed if data.seed is not None else config.keras_mot.seed
        ds = ds.shuffle(max(1, data.shuffle_buffer_size), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(
        batch_size, drop_remainder=data.drop_remainder if drop_remainder is None else drop_remainder
    )
    return ds.prefetch(tf.data.AUTOTUNE)
