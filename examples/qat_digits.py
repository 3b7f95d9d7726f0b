"""Quantization-aware training of a small CNN on the embedded digits, exported to int8 TFLite.

python examples/qat_digits.py --out /tmp/qat_digits      (add --fast for a smoke run)
"""

import sys

import keras
from _common import compile_kwargs, digits, parse_args, small_cnn

import keras_mot as mot


def main(argv=None):
    args = parse_args(__doc__, argv, epochs=15, out="runs/qat_digits")
    x, y, x_val, y_val = digits()
    keras.utils.set_random_seed(0)

    model = small_cnn()
    model.compile(**compile_kwargs())
    model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0)
    print("float accuracy:", round(model.evaluate(x_val, y_val, verbose=0)[1], 3))

    qat = mot.quantize(model, target="tflite_int8", calibration_data=x[:256])
    qat.compile(**compile_kwargs(1e-3))  # prints the lint verdict for tflite_int8
    qat.fit(x, y, epochs=max(1, args.epochs // 3), batch_size=32, verbose=0, callbacks=mot.callbacks(qat))
    print("QAT accuracy:", round(qat.evaluate(x_val, y_val, verbose=0)[1], 3))

    result = mot.export(qat, args.out, representative_data=(x_val, y_val))
    print(result.summary())
    return result


if __name__ == "__main__":
    sys.exit(0 if main().ok else 1)
