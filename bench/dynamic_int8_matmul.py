"""Which matmul should a `dynamic_int8` serving graph run: an integer kernel on the int8 codes
or a float32 matmul on the same codes? Candidates, each with the per-call activation
quantization and the rescale:

    float32 on codes   `dynamic_int8`'s Dense kernel (any TensorFlow)
    onednn int8        `dynamic_int8_onednn`'s (`dynamic_kernels.int8_matmul`: oneDNN's
                       QuantizedMatMulWithBias, quint8 x qint8 -> qint32, blocks of 512 rows)
    int32 BatchMatMul  `tf.linalg.matmul(int8, int8, output_type=tf.int32)` (BatchMatMulV3)
    weight-only        the float32 matmul of the weight (what a float / weight-only layer costs)

Per shape (batch rows, in, out; the MLP's 1024 x 1024, the encoder's 128 x 512 and 512 x 128 on
32 sequences of 32 tokens): all candidates timed interleaved in one process (rounds of 5 calls,
round robin, 2 intra-op threads); the median of the per-round ratios to "float32 on codes" and
the largest difference to it (0: identical numbers).

Run (timing: one at a time on a shared machine):
    flock /tmp/bench.lock env PYTHONPATH=$PWD python bench/dynamic_int8_matmul.py [--rounds 40]
        [--shapes 32x64x1024,32x1024x10]
"""

import argparse
import time

import numpy as np

SHAPES = ((1, 1024, 1024), (32, 1024, 1024), (32, 512, 512), (1024, 128, 512), (1024, 512, 128))


def _kernels(tf, codes, scales):
    from keras_mot.export.dynamic_kernels import block_sums, int8_matmul

    sums = block_sums(codes.numpy())

    def quantize(x):
        inv = 127.0 / (tf.reduce_max(tf.abs(x), axis=-1, keepdims=True) + 1e-7)
        return tf.clip_by_value(tf.round(x * inv), -127.0, 127.0), inv

    @tf.function
    def float_on_codes(x):
        q, inv = quantize(x)
        return tf.matmul(q, tf.cast(codes, tf.float32)) * scales / inv

    @tf.function
    def onednn(x):
        q, inv = quantize(x)
        return int8_matmul(tf, q, codes, sums) * scales / inv

    @tf.function
    def int32(x):
        q, inv = quantize(x)
        acc = tf.linalg.matmul(tf.cast(q, tf.int8), codes, output_type=tf.int32)
        return tf.cast(acc, tf.float32) * scales / inv

    weight = tf.Variable(tf.cast(codes, tf.float32) * scales)

    @tf.function
    def weight_only(x):
        return tf.matmul(x, weight)

    return {
        "float32 on codes": float_on_codes,
        "onednn int8": onednn,
        "int32 BatchMatMul": int32,
        "weight-only": weight_only,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--shapes", default=None, help="e.g. 32x64x1024,32x1024x10 (batch x in x out)")
    args = parser.parse_args()
    shapes = SHAPES
    if args.shapes:
        shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(2)
    rng = np.random.default_rng(0)
    names = None
    rows = []
    for batch, k, n in shapes:
        codes = tf.Variable(rng.integers(-127, 128, (k, n)).astype(np.int8))
        scales = tf.constant(rng.uniform(1e-3, 1e-2, n).astype(np.float32))
        x = tf.constant(rng.normal(size=(batch, k)).astype(np.float32))
        kernels = _kernels(tf, codes, scales)
        names = list(kernels)
        ref = kernels["float32 on codes"](x).numpy()
        diff = {name: float(np.abs(fn(x).numpy() - ref).max()) for name, fn in kernels.items()}
        per_round = {name: [] for name in kernels}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                ts = []
                for _ in range(5):
                    start = time.perf_counter()
                    kernels[name](x).numpy()
                    ts.append(time.perf_counter() - start)
                per_round[name].append(float(np.median(ts)))
        base = np.array(per_round["float32 on codes"])
        for name in names:
            ms = 1000 * float(np.median(per_round[name]))
            ratio = float(np.median(np.array(per_round[name]) / base))
            rows.append((f"{batch} x {k} x {n}", name, ms, ratio, diff[name]))
    print(
        "| batch x in x out | kernel | median ms | × float32 on codes (paired) | max diff vs float32 on codes |"
    )
    print("|---|---|---|---|---|")
    for shape, name, ms, ratio, d in rows:
        print(f"| {shape} | {name} | {ms:.3f} | {ratio:.2f} | {d:.3g} |")


if __name__ == "__main__":
    main()
