"""Instructions in model code: `mot.annotate` marks layers; `mot.apply` honours them.

The classifier head stays float, one conv is pruned to 2:4, the rest follows the recipe.

    python examples/annotate_model.py --out /tmp/annotate   (add --fast for a smoke run)
"""

import sys

import keras
from _common import compile_kwargs, digits, parse_args

import keras_mot as mot


def build():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = mot.annotate(
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"), prune=mot.NofM(2, 4)
    )(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = mot.annotate(keras.layers.Dense(10, name="head"), quantize=None)(x)
    return keras.Model(inputs, outputs)


def main(argv=None):
    args = parse_args(__doc__, argv, epochs=8, out="runs/annotate_model")
    x, y, x_val, y_val = digits()
    keras.utils.set_random_seed(0)
    recipe = mot.Recipe(
        target="tflite_int8",
        schedule=mot.ConstantSparsity(0.5, 0, frequency=10),
        rules=(mot.Rule("_default", quantize="target"),),
    )
    model = mot.apply(build(), recipe, calibration_data=x[:128])
    model.compile(**compile_kwargs())
    model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0, callbacks=mot.callbacks(model))

    result = mot.export(model, args.out, representative_data=(x_val, y_val), formats=("tflite",))
    layers = {row["layer"]: row for row in result.report["layers"]}
    print(
        "conv2 sparsity:", layers["conv2"]["sparsity"], "| head quant error:", layers["head"]["quant_error"]
    )
    # The float head is reported, not hidden: a float FULLY_CONNECTED in an int8 model.
    print("float compute ops:", [op["op"] for op in result.float_compute_ops])
    print(result.summary())
    return result


if __name__ == "__main__":
    sys.exit(0 if main().parity.ok else 1)
