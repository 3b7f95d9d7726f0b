"""Lint time vs real TFLite conversion time for MobileNetV2 224x224 (builtins and full int8).

Run: python bench/lint.py [--runs 3]
Prints a table: seconds for `keras_mot.lint.lint` and for `TFLiteConverter` per target, and the
ratio. Goal: lint <= 0.5 s and >= 10x faster than the conversion.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mot.lint import lint  # noqa: E402


def _convert(model, int8):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: (
            [rng.normal(size=(1, 224, 224, 3)).astype("float32")] for _ in range(8)
        )
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return conv.convert()


def _best(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None)
    print(f"MobileNetV2 224x224, {model.count_params() / 1e6:.2f} M params, best of {args.runs} runs")
    print(f"{'target':14} {'verdict':16} {'lint s':>8} {'convert s':>10} {'ratio':>7}")
    for target, int8 in (("tflite", False), ("tflite_int8", True)):
        lint(model, target)  # first call pays one-off imports / table loading
        t_lint, report = _best(lambda: lint(model, target), args.runs)
        t_conv, _ = _best(lambda: _convert(model, int8), max(1, args.runs - 1))
        print(f"{target:14} {report.verdict:16} {t_lint:8.3f} {t_conv:10.2f} {t_conv / t_lint:6.1f}x")


if __name__ == "__main__":
    main()
