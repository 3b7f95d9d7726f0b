"""Export one trained float model to several targets and compare size and parity.

python examples/export_model.py --out /tmp/export_model  (add --fast for a smoke run)
"""

import os
import sys

import keras
from _common import compile_kwargs, digits, parse_args, small_cnn

import keras_mot as mot

TARGETS = ("tflite", "tflite_float16", "tflite_dynamic", "tflite_int8", "tflite_int16x8")


def main(argv=None):
    args = parse_args(__doc__, argv, epochs=10, out="runs/export_model")
    x, y, x_val, y_val = digits()
    keras.utils.set_random_seed(0)
    model = small_cnn()
    model.compile(**compile_kwargs())
    model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0)

    results = {}
    print(f"{'target':16} {'ok':3} {'bytes':>7} {'agreement':>9} {'accuracy':>8}")
    for target in TARGETS:
        # int8 / int16x8 calibrate on training data; parity runs on the validation split.
        r = mot.export(
            model,
            os.path.join(args.out, target),
            target=target,
            representative_data=(x_val, y_val),
            calibration_data=x[:256],
            formats=("tflite",),
        )
        results[target] = r
        print(
            f"{target:16} {'yes' if r.ok else 'NO':3} {r.sizes['tflite']['raw']:7d} "
            f"{r.parity.agreement:9.1%} {r.parity.tflite_accuracy:8.1%}"
        )
    return results


if __name__ == "__main__":
    sys.exit(0 if all(r.ok for r in main().values()) else 1)
