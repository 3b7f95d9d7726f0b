"""Float (and int8) TFLite latency of a 512->2048->2048->512 MLP: dense vs 90 % zeros in
TFLite 1x4 blocks (Block(4, 1) on the Keras Dense kernels), 1 thread, median of N invokes.

Run: python bench/sparse_fc_latency.py [--invokes 200] [--int8]
Prints a table; every model is loaded and run in ai_edge_litert's Interpreter, and the
flatbuffer is checked with keras_mot.export.sparse_check.
"""

import argparse
import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_mot.export.sparse_check import inspect_sparsity
from keras_mot.sparsity import Block

WIDTHS = (512, 2048, 2048, 512)


def build(pattern=None, sparsity=0.9):
    """The MLP, with kernels zeroed by `pattern` (None = dense)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((WIDTHS[0],))
    x = inp
    for i, width in enumerate(WIDTHS[1:]):
        x = keras.layers.Dense(width, activation="relu" if i < 2 else None, name=f"fc{i}")(x)
    model = keras.Model(inp, x)
    if pattern is not None:
        for layer in model.layers[1:]:
            k, b = layer.get_weights()
            layer.set_weights([k * np.asarray(pattern.compute_mask(k, sparsity, "dense")), b])
    return model


def convert(model, sparse, int8):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    opts = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY] if sparse else []
    if int8:
        rng = np.random.default_rng(0)
        opts = [tf.lite.Optimize.DEFAULT] + opts
        conv.representative_dataset = lambda: (
            [rng.standard_normal((1, WIDTHS[0])).astype("float32")] for _ in range(16)
        )
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.optimizations = opts
    return conv.convert()


def latency_ms(tflite_bytes, invokes):
    """Median invoke time (ms) with 1 thread in ai_edge_litert, batch 1."""
    interp = Interpreter(model_content=tflite_bytes, num_threads=1)
    interp.allocate_tensors()
    d = interp.get_input_details()[0]
    interp.set_tensor(d["index"], np.random.default_rng(1).standard_normal(d["shape"]).astype(d["dtype"]))
    for _ in range(20):
        interp.invoke()
    times = []
    for _ in range(invokes):
        t0 = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invokes", type=int, default=200)
    parser.add_argument("--int8", action="store_true", help="also run int8 (1x16 blocks)")
    args = parser.parse_args()
    cases = [("float dense", None, False, False), ("float sparse 1x4", Block(4, 1), True, False)]
    if args.int8:
        cases += [("int8 dense", None, False, True), ("int8 sparse 1x16", Block(16, 1), True, True)]
    rows = []
    for name, pattern, sparse, int8 in cases:
        tfl = convert(build(pattern), sparse, int8)
        report = inspect_sparsity(tfl)
        fc = ",".join(f"v{v}" for v in report.versions("FULLY_CONNECTED"))
        blocks = {w.block_size for w in report.weights} - {None}
        zeros = np.mean([w.zeros_fraction for w in report.weights])
        rows.append(
            (
                name,
                fc,
                str(sorted(blocks)) if blocks else "-",
                zeros,
                len(tfl) / 1e6,
                latency_ms(tfl, args.invokes),
            )
        )
    base = {r[0].split()[0]: r[5] for r in rows if "dense" in r[0]}
    print(
        f"MLP {'-'.join(map(str, WIDTHS))}, batch 1, 1 thread, median of {args.invokes} "
        "invokes, ai_edge_litert Interpreter"
    )
    print(f"{'model':18} {'FC versions':12} {'blocks':10} {'zeros':>6} {'MB':>6} {'ms':>8} {'speed-up':>8}")
    for name, fc, blocks, zeros, mb, ms in rows:
        print(
            f"{name:18} {fc:12} {blocks:10} {zeros:6.1%} {mb:6.2f} {ms:8.3f} "
            f"{base[name.split()[0]] / ms:7.2f}x"
        )


if __name__ == "__main__":
    main()
