"""Serving-kernel candidates for int8 weight-only layers, timed against the float layer.

One layer at a time (the MLP's Dense 1024x1024 + ReLU, and the conv model's Conv2D 256->256 3x3
on 8x8 + ReLU), at batch 1 and 32: the float layer and every candidate way of computing it from
int8 codes (per output channel scales) in TensorFlow, each a `tf.function`, all timed
interleaved in one process (rounds of 5 calls each, round robin, order reversed every other round), 1
inter-op / 2 intra-op threads as in `bench/saved_model.py`. Prints the median and
10th-percentile ms (the latter less sensitive to other jobs on shared cores), the median (and
25th-75th percentile) of the per-round ratio to float (paired: a round's median over float's in
the same round) and the max |diff| to the float32 result of the dequantized weight (numerics).

Candidates:
    rows (adopted) `serving_kernels.chunked_matmul`: cast_f32 on blocks of ~128K weight
                  elements along the reduction axis, partial products summed
    int4_*        an int4 weight (blocks of 128 rows): `int4_deq` unpacks, casts and scales the
                  whole weight, then matmul; `int4_blocks` is `serving_kernels.int4_matmul`
                  (unpack to int8 codes, then cast and scale a block of rows at a time);
                  `int4_nibbles` unpacks a block at a time, low / high nibbles multiplied
                  by the even / odd input columns (its diff column is against the int8 float weight: int4 rounding)
    cast_f32      the op on `cast(codes, float32)`, output `* scales`, `+ bias`, relu (the
                  kernel `serving_kernels` had)
    *_xla         the same function with `jit_compile=True`
    deq_f32       `cast(codes) * scales` (the dequantized weight), then op + bias_add + relu
                  (the form grappler fuses into one oneDNN op)
    chunks{k}     cast_f32 on k column blocks of the weight (cast output stays in cache)
    bf16          x and codes cast to bfloat16, op in bfloat16, output to float32 (changes
                  numerics: bfloat16 compute)
    dyn_int8      activations quantized per tensor on the fly, `BatchMatMulV3` int8 x int8 ->
                  int32 (changes numerics: dynamic-range int8). In this TensorFlow build
                  `QuantizedMatMul` takes quint8 x quint8 only, Einsum and Conv2D no int8.
    dyn_onednn    `dynamic_int8_onednn`'s Dense kernel: activations per row, oneDNN's
                  `QuantizedMatMulWithBias` (changes numerics: dynamic-range int8)
    cast_only     the int8 -> float32 conversion of the whole weight alone (no matmul; the
                  result written to memory): the work a float32-compute weight-only call adds
    dequantize_op `tf.raw_ops.Dequantize` (SCALED, exact) instead of Cast, whole kernel
    bf16_int8     `BatchMatMulV3` bfloat16 x int8 -> bfloat16 on the codes (no conversion op;
                  changes numerics: bfloat16 output)
    rows_float    the adopted row blocks on the float32 weight (no cast): `rows` minus the
                  conversions, i.e. what the blocking alone costs against one matmul

Run:
    flock /tmp/bench.lock python bench/serving_kernels.py [--rounds 40] [--layers dense,conv]
        [--only rows,bf16,int4_deq]
"""

import argparse
import time

import numpy as np
import tensorflow as tf

from keras_mot.export.dynamic_kernels import block_sums, int8_matmul
from keras_mot.export.serving_kernels import chunked_matmul, int4_matmul, row_spans, unpack_int4
from keras_mot.quantization.weight_only import pack_int4


def _dense_candidates(c, s, b, w):
    """Dense `(in, out)`: codes `c` int8, scales `s` `(out,)`, bias `b`, float weight `w`."""
    out = int(c.shape[1])

    def float_(x):
        return tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w), b))

    def cast_f32(x):
        return tf.nn.relu(tf.matmul(x, tf.cast(c, tf.float32)) * s + b)

    def deq_f32(x):
        return tf.nn.relu(tf.nn.bias_add(tf.matmul(x, tf.cast(c, tf.float32) * s), b))

    def chunks(k):
        def fn(x):
            parts = tf.split(c, k, axis=1)
            y = tf.concat([tf.matmul(x, tf.cast(p, tf.float32)) for p in parts], 1)
            return tf.nn.relu(y * s + b)

        return fn

    def rows(k):
        step = int(c.shape[0]) // k

        def fn(x):
            parts = [
                tf.matmul(x[:, i * step : (i + 1) * step], tf.cast(c[i * step : (i + 1) * step], tf.float32))
                for i in range(k)
            ]
            return tf.nn.relu(tf.add_n(parts) * s + b)

        return fn

    def bf16(x):
        y = tf.matmul(tf.cast(x, tf.bfloat16), tf.cast(c, tf.bfloat16))
        return tf.nn.relu(tf.cast(y, tf.float32) * s + b)

    def dyn_int8(x):
        # per-tensor symmetric activation scale, as TFLite dynamic range / Keras int8 do
        m = tf.maximum(tf.reduce_max(tf.abs(x)), 1e-12) / 127.0
        q = tf.cast(tf.clip_by_value(tf.round(x / m), -127.0, 127.0), tf.int8)
        acc = tf.raw_ops.BatchMatMulV3(x=q, y=c, Tout=tf.int32)
        return tf.nn.relu(tf.cast(acc, tf.float32) * (m * s) + b)

    def adopted(x):
        return tf.nn.relu(chunked_matmul(tf, x, c) * s + b)

    def rows_float(x):  # the adopted blocking on the float32 weight: the matmuls without the casts
        spans = row_spans(int(w.shape[0]), out)
        return tf.nn.relu(tf.add_n([tf.matmul(x[:, a:z], w[a:z]) for a, z in spans]) + b)

    def dequantize_op(x):  # tf.raw_ops.Dequantize (SCALED, range +-127: scale 1) instead of Cast
        codes = tf.raw_ops.Dequantize(
            input=tf.bitcast(tf.convert_to_tensor(c), tf.qint8),
            min_range=-127.0,
            max_range=127.0,
            mode="SCALED",
        )
        return tf.nn.relu(tf.matmul(x, codes) * s + b)

    def bf16_int8(x):  # BatchMatMulV3 bfloat16 x int8 -> bfloat16 (reads the codes directly)
        y = tf.raw_ops.BatchMatMulV3(x=tf.cast(x, tf.bfloat16), y=tf.convert_to_tensor(c), Tout=tf.bfloat16)
        return tf.nn.relu(tf.cast(y, tf.float32) * s + b)

    def cast_only(x):  # the conversion alone: the whole weight cast, written to memory, no matmul
        return tf.cast(c, tf.float32)

    sums = block_sums(c.numpy())

    def dyn_onednn(x):  # dynamic_int8_onednn: per-row activation codes, oneDNN int8 matmul
        inv = 127.0 / (tf.reduce_max(tf.abs(x), axis=-1, keepdims=True) + 1e-7)
        q = tf.clip_by_value(tf.round(x * inv), -127.0, 127.0)
        return tf.nn.relu(int8_matmul(tf, q, c, sums) * s / inv + b)

    # int4, blocks of 128 rows (its own weight: the float reference is the int8 one)
    block = 128
    w4 = w.numpy()
    s4 = np.abs(w4).reshape(-1, block, out).max(1) / 7.0
    c4 = np.clip(np.round(w4.reshape(-1, block, out) / s4[:, None]), -7, 7).reshape(w4.shape)
    p4 = tf.Variable(pack_int4(c4.astype(np.int8)), trainable=False)
    s4 = tf.Variable(s4.astype(np.float32), trainable=False)

    def int4_deq(x):
        grid = tf.reshape(tf.cast(unpack_int4(tf, p4), tf.float32), (-1, block, out)) * s4[:, None, :]
        return tf.nn.relu(tf.matmul(x, tf.reshape(grid, (-1, out))) + b)

    def int4_blocks(x):
        return tf.nn.relu(int4_matmul(tf, x, p4, s4) + b)

    def int4_nibbles(x):  # unpack per block into low / high nibbles, two matmuls a block
        even, odd = x[:, 0::2], x[:, 1::2]
        parts = []
        for g in range(int(s4.shape[0])):
            p = p4[g * block // 2 : (g + 1) * block // 2]
            sc = s4[g : g + 1]
            for nib, xs in (
                (tf.bitwise.right_shift(tf.bitwise.left_shift(p, 4), 4), even),
                (tf.bitwise.right_shift(p, 4), odd),
            ):
                parts.append(
                    tf.matmul(xs[:, g * block // 2 : (g + 1) * block // 2], tf.cast(nib, tf.float32) * sc)
                )
        return tf.nn.relu(tf.add_n(parts) + b)

    cands = {
        "float": float_,
        "int4_nibbles": int4_nibbles,
        "rows (adopted)": adopted,
        "int4_deq": int4_deq,
        "int4_blocks (adopted)": int4_blocks,
        "cast_f32": cast_f32,
        "deq_f32": deq_f32,
        "chunks4": chunks(4),
        "chunks8": chunks(8),
        "chunks16": chunks(16),
        "chunks32": chunks(32),
        "rows4": rows(4),
        "rows8": rows(8),
        "rows16": rows(16),
        "rows32": rows(32),
        "bf16": bf16,
        "dyn_int8": dyn_int8,
        "dyn_onednn": dyn_onednn,
        "cast_only": cast_only,
        "rows_float": rows_float,
        "dequantize_op": dequantize_op,
        "bf16_int8": bf16_int8,
    }
    return cands


def _conv_candidates(c, s, b, w):
    def conv(x, k):
        return tf.nn.conv2d(x, k, 1, "SAME")

    def float_(x):
        return tf.nn.relu(tf.nn.bias_add(conv(x, w), b))

    def cast_f32(x):
        return tf.nn.relu(conv(x, tf.cast(c, tf.float32)) * s + b)

    def deq_f32(x):
        return tf.nn.relu(tf.nn.bias_add(conv(x, tf.cast(c, tf.float32) * s), b))

    def bf16(x):
        y = conv(tf.cast(x, tf.bfloat16), tf.cast(c, tf.bfloat16))
        return tf.nn.relu(tf.cast(y, tf.float32) * s + b)

    return {"float": float_, "cast_f32": cast_f32, "deq_f32": deq_f32, "bf16": bf16}


def _weights(shape, rng):
    w = rng.normal(0, 0.05, shape).astype(np.float32)
    axes = tuple(range(len(shape) - 1))
    s = np.abs(w).max(axis=axes) / 127.0
    c = np.clip(np.round(w / s), -127, 127).astype(np.int8)
    deq = (c.astype(np.float32) * s).astype(np.float32)
    b = rng.normal(0, 0.1, shape[-1]).astype(np.float32)
    return c, s.astype(np.float32), b, deq


def build(layer, rng):
    """`{name: tf.function}` and an input maker for `layer` ("dense" or "conv")."""
    if layer == "dense":
        c, s, b, deq = _weights((1024, 1024), rng)
        cands = _dense_candidates

        def make(n):
            return rng.normal(size=(n, 1024)).astype(np.float32)
    else:
        c, s, b, deq = _weights((3, 3, 256, 256), rng)
        cands = _conv_candidates

        def make(n):
            return np.maximum(rng.normal(size=(n, 8, 8, 256)), 0).astype(np.float32)

    # int8 codes in variables (as in the SavedModel), the float weight in a variable for "float"
    cv, sv, bv, wv = (tf.Variable(v, trainable=False) for v in (c, s, b, deq))
    fns = {}
    for name, fn in cands(cv, sv, bv, wv).items():
        fns[name] = tf.function(fn)
        if name in ("cast_f32", "deq_f32", "bf16"):
            fns[name + "_xla"] = tf.function(fn, jit_compile=True)
    return fns, make


def run(layer, batch, rounds, rng, only=None):
    fns, make = build(layer, rng)
    if only:
        fns = {k: f for k, f in fns.items() if k == "float" or k.split(" ")[0] in only}
    x = tf.constant(make(batch))
    ref = fns["float"](x).numpy()
    diffs = {}
    for name, fn in list(fns.items()):
        try:
            for _ in range(3):
                y = fn(x)
            same = y.shape == ref.shape  # cast_* return no layer output
            diffs[name] = float(np.max(np.abs(y.numpy() - ref))) if same else float("nan")
        except Exception as e:  # noqa: BLE001 - a kernel missing in this build
            print(f"  {layer} b{batch} {name}: unavailable ({type(e).__name__}: {str(e)[:120]})")
            del fns[name]
    times = {k: [] for k in fns}
    per_round = {k: [] for k in fns}  # each round's median of 5 calls
    names = list(fns)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            ts = []
            for _ in range(5):
                t = time.perf_counter()
                fns[name](x).numpy()
                ts.append(time.perf_counter() - t)
            times[name] += ts
            per_round[name].append(float(np.median(ts)))
    med = {k: 1000 * float(np.median(v)) for k, v in times.items()}
    low = {k: 1000 * float(np.percentile(v, 10)) for k, v in times.items()}
    ref = np.array(per_round["float"])
    paired = {k: np.percentile(np.array(v) / ref, [25, 50, 75]) for k, v in per_round.items()}
    return [(layer, batch, k, med[k], paired[k], low[k], low[k] / low["float"], diffs[k]) for k in fns]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--layers", default="dense,conv")
    p.add_argument("--only", default="", help="comma-separated kernel names (default: all)")
    args = p.parse_args()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(2)
    rng = np.random.default_rng(0)
    rows = []
    for layer in args.layers.split(","):
        for batch in (1, 32):
            rows += run(layer, batch, args.rounds, rng, [k for k in args.only.split(",") if k])
    print(
        "| layer | batch | kernel | median ms | x float (paired: p50, p25-p75) | p10 ms | x float (p10) "
        "| max abs diff vs float |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for layer, batch, name, ms, q, lo, lo_ratio, diff in rows:
        print(
            f"| {layer} | {batch} | {name} | {ms:.3f} | {q[1]:.2f} ({q[0]:.2f}-{q[2]:.2f}) | {lo:.3f} | "
            f"{lo_ratio:.2f} | {diff:.2g} |"
        )


if __name__ == "__main__":
    main()
