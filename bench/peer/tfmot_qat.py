"""Peer side of bench/qat.py: tensorflow-model-optimization 0.8.1 QAT on tf_keras.

Runs ONLY inside the peer virtualenv made by bench/peer_env.sh (tfmot needs legacy Keras and
sets TF_USE_LEGACY_KERAS=1 for its process). Never imports keras_mot. Trains MobileNetV2
(alpha 0.35, 32x32x3, 10 classes, weights=None, BN momentum 0.9) on the embedded digits data,
applies `tfmot.quantization.keras.quantize_model`, fine-tunes, converts to int8 TFLite with
`Optimize.DEFAULT` and checks the result in the interpreter (protocol: bench/qat_protocol.py).

Usage:
    TF_USE_LEGACY_KERAS=1 $(bash bench/peer_env.sh) bench/peer/tfmot_qat.py --epochs 8 --qat-epochs 2

Prints one JSON object on the last line of stdout.
"""

import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402
import qat_protocol  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras as keras  # noqa: E402


def _quantize(model, x_calibration):
    # tfmot has no calibration step: activation ranges start at 0..0 and move during training.
    del x_calibration
    return tfmot.quantization.keras.quantize_model(model)


def _convert(qmodel):
    # Optimize.DEFAULT alone: the fake-quant ops carry the ranges. Setting
    # supported_ops=[TFLITE_BUILTINS_INT8] without a representative dataset raises in TF 2.21.
    conv = tf.lite.TFLiteConverter.from_keras_model(qmodel)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    return conv.convert()


def main(argv=None):
    """Runs the protocol on the tfmot side and prints the JSON result."""
    args = qat_protocol.parse_args(argv, description=__doc__.splitlines()[0])
    side = qat_protocol.Side(
        name="tfmot",
        quantize=_quantize,
        callbacks=lambda qmodel: [],
        convert=_convert,
        versions={
            "tensorflow": tf.__version__,
            "tf_keras": keras.__version__,
            "tensorflow_model_optimization": str(tfmot.__version__),
        },
    )
    common.emit(qat_protocol.run(keras, tf, side, args))


if __name__ == "__main__":
    main()
