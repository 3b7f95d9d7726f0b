"""Op-compatibility lint before any training: which layers need Select TF ops or stay float.

python examples/lint_model.py
"""

import sys

import keras

import keras_mot as mot


def main(argv=None):
    inputs = keras.Input((16, 32))
    x = keras.layers.Dense(32)(inputs)
    x = keras.layers.LayerNormalization(name="norm")(x)  # NEG inside: float in int8
    x = keras.layers.LSTM(16, name="lstm")(x)  # dynamic batch: TensorList ops
    model = keras.Model(inputs, keras.layers.Dense(4)(x))

    reports = {}
    for target in ("tflite", "tflite_int8"):
        reports[target] = mot.lint(model, target=target)
        print(reports[target].format_table(min_severity="warning"))
        print()
    return reports


if __name__ == "__main__":
    main()
    sys.exit(0)
