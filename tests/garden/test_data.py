"""Data sources on tiny data generated in a tmp dir."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mot.errors import KerasMotError
from keras_mot.garden.config import DATA_SOURCES, config_from_dict
from keras_mot.garden.data import SOURCES, build_dataset, make_text_task, resolve_source


def _cfg(*overrides, size=(16, 16, 3), batch=4):
    return config_from_dict(
        {
            "task": {
                "model": {"num_classes": 3, "input_size": list(size), "backbone": {"type": "mobilenet"}},
                "train_data": {"global_batch_size": batch, "shuffle_buffer_size": 64},
                "validation_data": {"global_batch_size": batch, "drop_remainder": False},
            }
        },
        list(overrides),
    )


def _images(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 10, 12, 3), dtype=np.uint8), np.arange(n) % 3


def test_registry_matches_config_vocabulary():
    assert set(SOURCES) | {"auto"} == set(DATA_SOURCES)


@pytest.mark.parametrize("size", [(32, 32, 3), (8, 8, 1)])
def test_digits_default(size):
    cfg = _cfg(size=size, batch=16)
    assert resolve_source(cfg) == "digits"
    x, y = next(iter(build_dataset(cfg, "train")))
    assert x.shape == (16, *size) and x.dtype == tf.float32 and y.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
    n_val = sum(int(b[1].shape[0]) for b in build_dataset(cfg, "validation"))
    assert 200 < n_val < 350  # the 15 % validation split, remainder kept


def test_tfrecord_model_garden_format(tmp_path):
    images, labels = _images()
    path = str(tmp_path / "train-00000-of-00001")
    with tf.io.TFRecordWriter(path) as writer:
        for image, label in zip(images, labels):
            feature = {
                "image/encoded": tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[tf.io.encode_png(image).numpy()])
                ),
                "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    cfg = _cfg(f"task.train_data.input_path={tmp_path}/train*")
    assert resolve_source(cfg) == "tfrecord"
    batches = list(build_dataset(cfg, "train", shuffle=False))
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert x.shape == (4, 16, 16, 3)  # drop_remainder (Model Garden default) drops 2 of 6
    np.testing.assert_array_equal(y, labels[:4])
    expected = tf.image.resize(images[:1].astype(np.float32) / 255.0, (16, 16)).numpy()
    np.testing.assert_allclose(x[:1], expected, atol=1e-5)
    with pytest.raises(KerasMotError, match="No TFRecord files match task.train_data.input_path"):
        build_dataset(_cfg(f"task.train_data.input_path={tmp_path}/missing*"), "train")


def test_image_folder(tmp_path):
    images, labels = _images()
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = tmp_path / ["cat", "dog", "eel"][label]
        folder.mkdir(exist_ok=True)
        (folder / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    (tmp_path / "notes.txt").write_text("ignored")
    cfg = _cfg(
        f"task.train_data.input_path={tmp_path}",
        f"task.validation_data.input_path={tmp_path}",
        size=(8, 8, 1),
    )
    assert resolve_source(cfg) == "image_folder"
    x, y = zip(*build_dataset(cfg, "validation"))
    y = np.concatenate(y)
    assert np.concatenate(x).shape == (6, 8, 8, 1)
    assert sorted(y.tolist()) == sorted(labels.tolist())
    with pytest.raises(KerasMotError, match="validation_data.input_path"):
        build_dataset(_cfg(f"task.train_data.input_path={tmp_path}"), "validation")


def test_tfds_gives_clear_error_when_unavailable(tmp_path):
    cfg = _cfg("task.train_data.tfds_name=mnist", f"task.train_data.tfds_data_dir={tmp_path}")
    assert resolve_source(cfg) == "tfds"
    with pytest.raises(KerasMotError, match="tensorflow-datasets|not on disk"):
        build_dataset(cfg, "train")


def test_text_task_is_deterministic_and_learnable_by_counting():
    x1, y1 = make_text_task(64, 24, 40, 4, seed=3)
    x2, y2 = make_text_task(64, 24, 40, 4, seed=3)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(make_text_task(64, 24, 40, 4, seed=4)[0], x1)
    counts = np.stack([(x1 == c + 1).sum(1) for c in range(4)], 1)
    np.testing.assert_array_equal(counts.argmax(1), y1)
    assert x1.min() >= 1 and x1.max() < 40
    with pytest.raises(KerasMotError, match="vocab_size"):
        make_text_task(4, 24, 8, 4)


def test_text_source_for_bert_config():
    cfg = config_from_dict(
        {
            "task": {
                "model": {
                    "num_classes": 4,
                    "input_size": [16],
                    "backbone": {"type": "bert", "bert": {"vocab_size": 50}},
                },
                "train_data": {"global_batch_size": 8},
            },
            "keras_mot": {"data": {"text_train_examples": 40}},
        }
    )
    assert resolve_source(cfg) == "text"
    x, y = next(iter(build_dataset(cfg, "train", repeat=True)))
    assert x.shape == (8, 16) and x.dtype == tf.int32
    assert sum(1 for _ in build_dataset(cfg, "train")) == 5
    with pytest.raises(KerasMotError, match="text backbone"):
        build_dataset(_cfg("keras_mot.data.source=text"), "train")


def test_batch_and_split_errors():
    with pytest.raises(KerasMotError, match="global_batch_size"):
        build_dataset(_cfg(batch=0), "train")
    with pytest.raises(KerasMotError, match="Unknown split"):
        build_dataset(_cfg(), "test")
