"""mot.debug time vs one float evaluation pass, MobileNetV2 224x224 (random init), 64 images.

Run: python bench/debug.py [--images 64]
Prints a table: seconds for one float `predict` pass over the images, for `mot.debug` on the
float model (quantize + calibrate on the images, then tapped float and simulated int8 passes with
each layer re-run alone), and the ratio.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mot as mot  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None)
    x = np.random.default_rng(0).uniform(-1, 1, (args.images, 224, 224, 3)).astype("float32")
    model.predict(x[:32], verbose=0)  # build / trace once
    start = time.perf_counter()
    model.predict(x, batch_size=32, verbose=0)
    t_float = time.perf_counter() - start
    start = time.perf_counter()
    report = mot.debug(model, x, max_examples=args.images)
    t_debug = time.perf_counter() - start
    rows = [
        ("float evaluation pass", t_float, 1.0),
        ("mot.debug (post-training)", t_debug, t_debug / t_float),
    ]
    print(
        f"MobileNetV2 224x224, {args.images} images, {len(report.layers)} quantized layers, "
        f"{os.cpu_count()} CPUs"
    )
    print("| step | seconds | x float pass |\n|---|---|---|")
    for name, t, ratio in rows:
        print(f"| {name} | {t:.2f} | {ratio:.1f} |")
    print(f"worst layers: {report.worst(3)}; agreement {report.agreement:.3f}")


if __name__ == "__main__":
    main()
