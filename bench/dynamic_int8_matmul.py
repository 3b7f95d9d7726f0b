"""Which matmul should a `dynamic_int8` serving graph run: TensorFlow's int8 x int8 -> int32
matmul (`tf.linalg.matmul(..., output_type=tf.int32)`, BatchMatMulV3) or a float32 matmul on
the same int8 codes? Both include the per-call activation quantization and the rescale; the
float32 matmul of the dequantized weight (what `int8_weight_only` computes) is the peer.

Prints, per shape (batch, in, out): median ms of each, the ratios and the largest difference
between the two dynamic kernels (0: the float32 matmul on codes is exact here).

Run (timing: one at a time on a shared machine):
    flock /tmp/bench.lock python bench/dynamic_int8_matmul.py [--runs 200]
"""

import argparse
import time

import numpy as np

SHAPES = ((1, 512, 512), (32, 512, 512), (32, 784, 256), (128, 1024, 1024))


def _kernels(tf, codes, scales):
    def quantize(x):
        inv = 127.0 / (tf.reduce_max(tf.abs(x), axis=-1, keepdims=True) + 1e-7)
        return tf.clip_by_value(tf.round(x * inv), -127.0, 127.0), inv

    @tf.function
    def int32(x):
        q, inv = quantize(x)
        acc = tf.linalg.matmul(tf.cast(q, tf.int8), codes, output_type=tf.int32)
        return tf.cast(acc, tf.float32) * scales / inv

    @tf.function
    def float_on_codes(x):
        q, inv = quantize(x)
        return tf.matmul(q, tf.cast(codes, tf.float32)) * scales / inv

    @tf.function
    def weight_only(x):
        return tf.matmul(x, tf.cast(codes, tf.float32) * scales)

    return {"int32 matmul": int32, "float32 on codes": float_on_codes, "weight-only (peer)": weight_only}


def _median_ms(fn, x, runs):
    fn(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(x).numpy()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    import tensorflow as tf

    rng = np.random.default_rng(0)
    print(
        "| batch x in x out | int32 matmul ms | float32 on codes ms | weight-only ms | int32 / float | max diff |"
    )
    print("|---|---|---|---|---|---|")
    for batch, k, n in SHAPES:
        codes = tf.constant(rng.integers(-127, 128, (k, n)).astype(np.int8))
        scales = tf.constant(rng.uniform(1e-3, 1e-2, n).astype(np.float32))
        x = tf.constant(rng.normal(size=(batch, k)).astype(np.float32))
        kernels = _kernels(tf, codes, scales)
        ms = {name: _median_ms(fn, x, args.runs) for name, fn in kernels.items()}
        diff = float(tf.reduce_max(tf.abs(kernels["int32 matmul"](x) - kernels["float32 on codes"](x))))
        ratio = ms["int32 matmul"] / ms["float32 on codes"]
        print(
            f"| {batch} x {k} x {n} | {ms['int32 matmul']:.3f} | {ms['float32 on codes']:.3f} | "
            f"{ms['weight-only (peer)']:.3f} | {ratio:.2f}x | {diff:.3g} |"
        )


if __name__ == "__main__":
    main()
