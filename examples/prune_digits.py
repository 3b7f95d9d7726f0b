"""Pruning a small MLP on the digits for TFLite's sparse FULLY_CONNECTED kernel (1x4 blocks).

python examples/prune_digits.py --out /tmp/prune_digits  (add --fast for a smoke run)
"""

import sys

import keras
from _common import compile_kwargs, digits, parse_args

import keras_mot as mot


def main(argv=None):
    args = parse_args(__doc__, argv, epochs=12, out="runs/prune_digits")
    x, y, x_val, y_val = digits()
    x, x_val = x.reshape(-1, 64), x_val.reshape(-1, 64)
    keras.utils.set_random_seed(0)

    inputs = keras.Input((64,))
    h = keras.layers.Dense(128, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Dense(64, activation="relu")(h)))
    model.compile(**compile_kwargs())
    model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=0)

    steps = args.epochs * (len(x) // 32)
    pruned = mot.prune(
        model,
        target="tflite_sparse_fc",  # Block(4, 1) on Dense kernels
        schedule=mot.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=max(2, steps // 2), frequency=10),
    )
    pruned.compile(**compile_kwargs(1e-3))
    pruned.fit(
        x, y, epochs=args.epochs, batch_size=32, verbose=0, callbacks=mot.callbacks(pruned)
    )  # UpdateMasks
    print("pruned accuracy:", round(pruned.evaluate(x_val, y_val, verbose=0)[1], 3))

    result = mot.export(pruned, args.out, representative_data=(x_val, y_val))
    print(result.summary())
    print(
        "sparsity:",
        result.report["overall_sparsity"],
        [w["stored"] for w in result.report["sparse_storage"]["weights"]],
    )
    return result


if __name__ == "__main__":
    sys.exit(0 if main().ok else 1)
