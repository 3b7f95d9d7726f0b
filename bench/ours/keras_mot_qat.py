"""keras_mot side of bench/qat.py: QAT on Keras 3 with `keras_mot.quantize`.

Same architecture, data, optimiser, epochs and measurements as bench/peer/tfmot_qat.py (the
protocol lives in bench/qat_protocol.py); only quantize / callbacks / convert differ:

    qmodel = mot.quantize(model, target="tflite_int8", calibration_data=x_cal)
    qmodel.fit(..., callbacks=mot.callbacks(qmodel))
    tflite_bytes = to_tflite(qmodel, target="tflite_int8")   # float32 I/O

Prints one JSON object on the last line of stdout. When the keras_mot QAT API is not available
yet, the JSON is {"side": "keras_mot", "unavailable": "<why>"} and nothing is measured.

`--freeze-bn-at N` (this side only) freezes folded BatchNormalization statistics from QAT step N
(`mot.callbacks(qmodel, freeze_bn_at=N)`; default: live for the whole fine-tuning, the library
default); the result records it as "freeze_bn_at".

Usage:
    python bench/ours/keras_mot_qat.py --epochs 8 --qat-epochs 2
    python bench/ours/keras_mot_qat.py --freeze-bn-at 0   # statistics frozen from the start
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402
import qat_protocol  # noqa: E402

TARGET = "tflite_int8"


def _load_api():
    """Returns (mot, to_tflite), or raises ImportError/AttributeError naming what is missing."""
    import keras_mot as mot
    from keras_mot.export.convert import to_tflite

    for name in ("quantize", "callbacks"):
        if not hasattr(mot, name):
            raise AttributeError(f"keras_mot.{name} does not exist yet")
    return mot, to_tflite


def main(argv=None):
    """Runs the protocol on the keras_mot side and prints the JSON result."""
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--freeze-bn-at", type=int, default=None)
    own_args, rest = own.parse_known_args(argv)
    args = qat_protocol.parse_args(rest, description=__doc__.splitlines()[0])
    try:
        mot, to_tflite = _load_api()
    except (ImportError, AttributeError) as e:
        common.emit({"side": "keras_mot", "unavailable": f"{type(e).__name__}: {e}"})
        return
    import keras
    import tensorflow as tf

    side = qat_protocol.Side(
        name="keras_mot",
        quantize=lambda model, x_cal: mot.quantize(model, target=TARGET, calibration_data=x_cal),
        callbacks=lambda qmodel: list(mot.callbacks(qmodel, freeze_bn_at=own_args.freeze_bn_at)),
        convert=lambda qmodel: to_tflite(qmodel, target=TARGET),
        versions={
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "keras_mot": getattr(mot, "__version__", "?"),
        },
    )
    result = qat_protocol.run(keras, tf, side, args)
    result["freeze_bn_at"] = own_args.freeze_bn_at
    common.emit(result)


if __name__ == "__main__":
    main()
