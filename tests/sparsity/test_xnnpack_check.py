"""XNNPack sparse-cluster checker on real conversions, and the Keras stem rewrite helper."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mot.export.sparse_check import verify
from keras_mot.export.xnnpack_check import check_cluster, same_padding, stem_rewrite
from keras_mot.sparsity import Unstructured


def _net(stem="pad", size=32, sparsity=0.8, trunk_extra=None):
    keras.utils.set_random_seed(0)
    inp = keras.Input((size, size, 3))
    if stem == "pad":
        x = keras.layers.ZeroPadding2D(1)(inp)
        x = keras.layers.Conv2D(16, 3, strides=2, padding="valid", name="stem")(x)
    else:
        x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="stem")(inp)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Conv2D(32, 1, activation="relu", name="pw")(x)
    if trunk_extra is not None:
        x = trunk_extra(x)
    y = keras.layers.Conv2D(32, 1, name="pw2")(x)
    x = keras.layers.Add()([x, y])
    out = keras.layers.Dense(10, name="fc")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, out)
    for name in ("pw", "pw2"):
        layer = model.get_layer(name)
        k, b = layer.get_weights()
        layer.set_weights([k * np.asarray(Unstructured().compute_mask(k, sparsity, "conv")), b])
    return model


def _convert(model, sparse=True):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if sparse:
        conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return conv.convert()


def _status(findings):
    return {f.code: f.severity for f in findings}


def test_eligible_model_meets_every_condition():
    status = _status(check_cluster(_convert(_net())))
    assert status == {
        "xnn-entry": "info",
        "xnn-exit": "info",
        "xnn-body": "info",
        "xnn-sparsity": "info",
        "xnn-densify": "info",
        "xnn-x86": "info",
    }


def test_same_stem_fails_entry_and_helper_gives_inexact_rewrite_on_even_input():
    model = _net(stem="same", size=32)
    findings = check_cluster(_convert(model))
    assert _status(findings)["xnn-entry"] == "error"
    entry = next(f for f in findings if f.code == "xnn-entry")
    assert "SAME padding at stride 2" in entry.message and "ZeroPadding2D(1)" in entry.fix
    (stem,) = stem_rewrite(model)
    assert stem.code == "xnn-same-stem" and stem.layer == "stem"
    assert "NOT numerically exact" in stem.fix and "(0, 1)" in stem.fix


def test_odd_input_rewrite_is_exact_but_converter_folds_it_back():
    findings = check_cluster(_convert(_net(stem="pad", size=33)))
    assert _status(findings)["xnn-entry"] == "error"  # PAD folded into SAME
    (stem,) = stem_rewrite(_net(stem="same", size=33))
    assert "numerically exact" in stem.fix and "folds" in stem.fix


def test_low_sparsity_and_missing_densify():
    status = _status(check_cluster(_convert(_net(sparsity=0.5))))
    assert status["xnn-sparsity"] == "error" and status["xnn-entry"] == "info"
    status = _status(check_cluster(_convert(_net(), sparse=False)))
    assert status["xnn-densify"] == "error"


def test_incompatible_op_breaks_the_cluster():
    extra = keras.layers.Conv2D(32, 3, padding="same", name="conv3x3")  # 3x3 s1 conv
    findings = check_cluster(_convert(_net(trunk_extra=extra)))
    body = next(f for f in findings if f.code == "xnn-body")
    assert body.severity == "error" and "3x3 CONV_2D" not in body.message
    assert "CONV_2D" in body.message and "conv3x3" in body.message


def test_verify_for_xnnpack_target_includes_cluster_and_weights():
    codes = [f.code for f in verify(_convert(_net()), "xnnpack_sparse")]
    assert codes.count("zeros-ok") == 2 and "xnn-entry" in codes


def test_the_cluster_check_follows_the_target_record_not_its_name():
    import dataclasses

    from keras_mot import targets
    from keras_mot.errors import KerasMotError

    tflite_bytes = _convert(_net())
    renamed = dataclasses.replace(targets.get("xnnpack_sparse"), name="my_arm_sparse")
    assert "xnn-entry" in [f.code for f in verify(tflite_bytes, renamed)]
    without = dataclasses.replace(renamed, export_checks=())
    assert "xnn-entry" not in [f.code for f in verify(tflite_bytes, without)]
    with pytest.raises(KerasMotError, match="no_such_check"):
        verify(tflite_bytes, dataclasses.replace(renamed, export_checks=("no_such_check",)))


def test_mobilenet_v2_stem_and_correct_pad_are_reported():
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35)
    findings = stem_rewrite(model)
    assert findings[0].layer == "Conv1" and findings[0].code == "xnn-same-stem"
    assert {f.code for f in findings[1:]} == {"xnn-asymmetric-pad"}


@pytest.mark.parametrize(
    "size,kernel,stride,expected",
    [(224, 3, 2, (0, 1)), (225, 3, 2, (1, 1)), (32, 3, 1, (1, 1)), (32, 5, 2, (1, 2)), (7, 1, 1, (0, 0))],
)
def test_same_padding(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected
