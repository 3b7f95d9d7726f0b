"""Acceptance: keras.applications models, QAT on digits, exported fully-integer.

Each model is trained briefly in float on the embedded digits (32x32x3; BatchNormalization
momentum lowered to 0.9 so short runs have usable statistics), quantized with a calibration
pass, fine-tuned, converted with the real converter and run in the real interpreter on the
held-out validation + test splits. Asserts: no float compute op; top-1 agreement with the Keras QAT model
>= 99.5 %. Prints the max |logit difference| and accuracies.
"""

import time

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.export.convert import to_tflite
from keras_mot.export.inspect import float_compute_ops
from keras_mot.garden.digits import load_digits
from keras_mot.garden.graph_edit import rebuild
from tests.conftest import run_tflite

APPS = {
    # name: (constructor, input scale, float epochs, qat epochs[, qat learning rate])
    "MobileNetV2": (
        lambda: keras.applications.MobileNetV2(
            input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10, classifier_activation=None
        ),
        1.0,
        10,
        2,
    ),
    "MobileNetV3Small": (
        lambda: keras.applications.MobileNetV3Small(
            input_shape=(32, 32, 3), weights=None, classes=10, classifier_activation=None
        ),
        255.0,
        10,
        2,
    ),  # include_preprocessing: the model rescales 0..255 itself
    "EfficientNetB0": (
        lambda: keras.applications.EfficientNetB0(
            input_shape=(32, 32, 3), weights=None, classes=10, classifier_activation=None
        ),
        255.0,
        8,
        1,
    ),
    "ResNet50": (
        lambda: keras.applications.ResNet50(
            input_shape=(32, 32, 3), weights=None, classes=10, classifier_activation=None
        ),
        1.0,
        4,
        1,
    ),
}


def _low_momentum(model):
    def edit(class_name, config):
        if class_name == "BatchNormalization":
            config["momentum"] = 0.9

    return rebuild(model, edit=edit)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(APPS))
def test_qat_int8_export_is_fully_integer_and_agrees(name):
    make, scale, epochs, qat_epochs, *rest = APPS[name]
    qat_lr = rest[0] if rest else 2e-4
    x_train, y_train = load_digits("train", (32, 32), 3)
    # Held out: validation + test splits (539 images), so that 99.5 % allows two flips.
    x_val, y_val = load_digits("validation", (32, 32), 3)
    x_test, y_test = load_digits("test", (32, 32), 3)
    x_test, y_test = np.concatenate([x_val, x_test]), np.concatenate([y_val, y_test])
    x_train, x_test = x_train * scale, x_test * scale
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model = _low_momentum(make())
    model.compile(keras.optimizers.Adam(2e-3), loss, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    float_acc = model.evaluate(x_test, y_test, verbose=0)[1]

    qmodel = mot.quantize(model, "tflite_int8", calibration_data=x_train[:256])
    qmodel.compile(keras.optimizers.Adam(qat_lr), loss, metrics=["accuracy"], lint="off")
    qmodel.fit(x_train, y_train, epochs=qat_epochs, batch_size=64, verbose=0, callbacks=mot.callbacks(qmodel))
    qat_logits = np.asarray(qmodel.predict(x_test, verbose=0))

    t0 = time.time()
    tflite = to_tflite(qmodel, "tflite_int8")
    seconds = time.time() - t0
    assert float_compute_ops(tflite) == []
    tfl_logits = run_tflite(tflite, x_test)
    agreement = float(np.mean(tfl_logits.argmax(1) == qat_logits.argmax(1)))
    print(
        f"{name}: float acc {float_acc:.3f}, QAT acc {np.mean(qat_logits.argmax(1) == y_test):.3f}"
        f", int8 acc {np.mean(tfl_logits.argmax(1) == y_test):.3f}, agreement {agreement:.4f}, "
        f"max |logit diff| {np.abs(tfl_logits - qat_logits).max():.3f}, convert {seconds:.1f}s"
    )
    # Conv/Dense outputs are requantized as XNNPack does, scales computed as the converter does
    # (quantization/integer_domain.py), HARD_SWISH, ADD and MEAN emulated (int8_kernels.py): on
    # 2026-11-23 all four agreed 100 %, max |logit diff| 0.0 but MobileNetV3Small's 0.77 (an op
    # not emulated yet).
    assert agreement >= 0.995, f"{name}: agreement {agreement:.4f} below the 99.5 % target"
    # Agreement alone passes a model that fine-tuning broke (a live-BN variant once took
    # ResNet50 to 10.8 % with 100 % agreement). Fine-tuning at 2e-4 costs ResNet50 up to
    # ~7 points here (the rate is high for it); more than 10 means something broke.
    int8_acc = float(np.mean(tfl_logits.argmax(1) == y_test))
    assert int8_acc >= float_acc - 0.10, (
        f"{name}: int8 accuracy {int8_acc:.3f} more than 10 points below float {float_acc:.3f}"
    )
    if name == "MobileNetV2":  # acceptance: within 0.5 pt of float and not below PTQ int8
        ptq = to_tflite(model, "tflite_int8", representative_data=[x_train[:100]])
        ptq_acc = float(np.mean(run_tflite(ptq, x_test).argmax(1) == y_test))
        print(f"MobileNetV2: PTQ int8 acc {ptq_acc:.3f}")
        assert int8_acc >= float_acc - 0.005
        assert int8_acc >= ptq_acc, f"int8 QAT accuracy {int8_acc:.3f} below PTQ int8 {ptq_acc:.3f}"
