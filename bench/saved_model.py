"""SavedModels for TensorFlow serving, side by side: float, keras_mot weight-only int8 / int4 and
`dynamic_int8` (int8 weights, activations quantized per call; post-training and after a short
quantization-aware fine-tune) and Keras 3's own
`model.quantize("int8" | "int4")`, on an MLP and a conv model (digits) and a small BERT-style
encoder (KerasHub `BertBackbone`, random init, synthetic task).

Per SavedModel: size on disk, resident memory added by loading it (a fresh subprocess per
SavedModel), accuracy on the test split and argmax agreement with the float Keras model; median
latency at batch 1 and 32 with all SavedModels of a model loaded in one fresh process and timed
interleaved (round robin), and the median (25th-75th percentile) of the per-round ratio to the
float SavedModel timed in the same round (paired: slow periods of a shared machine cancel).
`dynamic_int8_onednn` (Dense layers on oneDNN's int8 matmul) is timed post-training. Subprocesses run with Keras,
KerasHub and keras_mot hidden from the import system (as where they are not installed), 1
inter-op / 2 intra-op threads; `--lock FILE` runs the timing process under `flock FILE` (one
timing at a time on a shared machine). Also: TFLite dynamic-range models converted from the float model and from the
int8 weight-only and dynamic_int8 QAT models (size, accuracy).

Run:
    PYTHONPATH=$PWD python bench/saved_model.py [--models mlp,conv,bert] [--out /tmp/sm_bench]
        [--lock /tmp/bench.lock] [--schemes dynamic_int8 --keras ""]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

# Both child scripts start here: Keras, KerasHub and keras_mot hidden from the import system
# (as where they are not installed), TensorFlow on two threads.
_PRELUDE = r"""
import json, os, resource, sys, time
from importlib.machinery import PathFinder

class _WithoutKeras:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in ("keras", "keras_mot", "keras_hub", "tf_keras"):
            return None
        return PathFinder.find_spec(name, path, target)

sys.meta_path[:] = [_WithoutKeras if f is PathFinder else f for f in sys.meta_path]
import numpy as np
import tensorflow as tf
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(2)
"""

_MEASURE = (
    _PRELUDE
    + r"""

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) * 1024

path, data = sys.argv[1], np.load(sys.argv[2])
xs = [data[k] for k in sorted(data.files)]
before = rss()
loaded = tf.saved_model.load(path)
fn = loaded.signatures["serving_default"]
after = rss()
specs = fn.structured_input_signature[1]
names = sorted(specs) if len(specs) > 1 else list(specs)
def feed(arrays):
    return {n: tf.cast(tf.constant(a), specs[n].dtype) for n, a in zip(names, arrays)}
out_key = sorted(fn.structured_outputs)[0]
outs = [fn(**feed([x[i:i + 64] for x in xs]))[out_key].numpy() for i in range(0, len(xs[0]), 64)]
np.save(sys.argv[3], np.concatenate(outs).astype("float32"))
print(json.dumps({"load_rss": after - before,
                  "keras": [m for m in sys.modules if m.split(".")[0] == "keras"][:3]}))
"""
)

# All SavedModels of one model loaded in one process and timed interleaved (round robin, 5
# calls each per round, the order reversed every other round), so that load from other
# processes on the shared cores hits every variant alike; reported: the median over all calls,
# and per variant the median (and 25th / 75th percentiles) of the per-round ratio to float (a
# round's median of 5 calls over float's in the same round: paired, so slow periods cancel).
_TIMING = (
    _PRELUDE
    + r"""
paths, data = json.loads(sys.argv[1]), np.load(sys.argv[2])
xs = [data[k] for k in sorted(data.files)]
fns = {}
for key, path in paths.items():
    fn = tf.saved_model.load(path).signatures["serving_default"]
    specs = fn.structured_input_signature[1]
    names = sorted(specs) if len(specs) > 1 else list(specs)
    fns[key] = (fn, names, specs, sorted(fn.structured_outputs)[0])
result = {}
for b in (1, 32):
    calls = {}
    for key, (fn, names, specs, out_key) in fns.items():
        args = {n: tf.cast(tf.constant(np.concatenate([x] * (-(-b // len(x))))[:b]), specs[n].dtype)
                for n, x in zip(names, xs)}
        calls[key] = (fn, args, out_key)
        for _ in range(5):
            fn(**args)
    times = {key: [] for key in calls}
    rounds = {key: [] for key in calls}  # per round: the median of its 5 calls
    for r in range(int(sys.argv[3])):
        order = list(calls) if r % 2 == 0 else list(calls)[::-1]  # no variant always first
        for key in order:
            fn, args, out_key = calls[key]
            ts = []
            for _ in range(5):
                t = time.perf_counter(); fn(**args)[out_key].numpy()
                ts.append(time.perf_counter() - t)
            times[key] += ts
            rounds[key].append(float(np.median(ts)))
    ref = np.array(rounds["float"])
    result[b] = {key: {"ms": 1000 * float(np.median(v)),
                       "ratios": np.percentile(np.array(rounds[key]) / ref, [25, 50, 75]).tolist()}
                 for key, v in times.items()}
print(json.dumps(result))
"""
)


def _size(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def _inputs_file(inputs, workdir):
    data = os.path.join(workdir, "inputs.npz")
    # keys sort in the order the signature's input names sort (see _MEASURE)
    np.savez(data, **{f"{i:02d}_{k}": v for i, (k, v) in enumerate(sorted(inputs.items()))})
    return data


LOCK = []  # ["flock", FILE] with --lock


def latencies(paths, inputs, workdir, rounds=40):
    """`{batch: {variant: {"ms": median ms, "ratios": [p25, p50, p75] of the per-round ratio to
    float]}}`: every SavedModel of `paths` timed interleaved in one fresh process (_TIMING)."""
    data = _inputs_file(inputs, workdir)
    proc = subprocess.run(
        LOCK + [sys.executable, "-c", _TIMING, json.dumps(paths), data, str(rounds)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return {int(b): v for b, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def measure(path, inputs, workdir):
    """Loads `path` in a fresh process; returns (metrics dict, outputs)."""
    data = _inputs_file(inputs, workdir)
    out = os.path.join(workdir, "outputs.npy")
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, path, data, out], capture_output=True, text=True, timeout=900
    )
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not result["keras"], result
    return result, np.load(out)


# ------------------------------------------------------------------ models and data
def digits_data(flat):
    from keras_mot.garden.digits import load_digits

    (x, y), (xt, yt) = load_digits("train"), load_digits("test")
    if flat:
        x, xt = x.reshape(len(x), -1), xt.reshape(len(xt), -1)
    return x.astype("float32"), y, xt.astype("float32"), yt


def mlp():
    import keras

    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="mlp",
    )


def conv():
    import keras

    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(256, 3, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(256, 3, padding="same", activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(10)(h), name="conv")


SEQ, VOCAB = 32, 2000


def bert_data():
    rng = np.random.default_rng(0)

    def make(n):
        ids = rng.integers(1, VOCAB, (n, SEQ)).astype("int32")
        labels = ((ids < 100).sum(-1) >= 2).astype("int32")  # does a "rare" token appear twice?
        return {
            "token_ids": ids,
            "padding_mask": np.ones_like(ids),
            "segment_ids": np.zeros_like(ids),
        }, labels

    x, y = make(4000)
    xt, yt = make(500)
    return x, y, xt, yt


def bert():
    import keras
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB,
        num_layers=2,
        num_heads=4,
        hidden_dim=128,
        intermediate_dim=512,
        max_sequence_length=SEQ,
        dropout=0.0,
    )
    inputs = {
        k: keras.Input((SEQ,), dtype="int32", name=k) for k in ("token_ids", "padding_mask", "segment_ids")
    }
    pooled = backbone(inputs)["pooled_output"]
    return keras.Model(inputs, keras.layers.Dense(2, name="classifier")(pooled), name="bert")


MODELS = {
    "mlp": (mlp, lambda: digits_data(True), 30, 1e-3),
    "conv": (conv, lambda: digits_data(False), 30, 1e-3),
    "bert": (bert, bert_data, 10, 3e-4),
}


def _compile(model, lr, prepared=False):
    import keras

    kwargs = {"lint": "off"} if prepared else {}
    model.compile(
        keras.optimizers.Adam(lr),
        keras.losses.SparseCategoricalCrossentropy(True),
        metrics=["accuracy"],
        **kwargs,
    )


def _keras_quantized(float_path, mode, out):
    """Keras 3's own post-training quantization, exported with `model.export`."""
    import keras

    model = keras.saving.load_model(float_path)
    model.quantize(mode)
    model.export(out, format="tf_saved_model", verbose=False)


SCHEMES = ("int8_weight_only", "int4_weight_only", "dynamic_int8")


def run_model(name, workdir, qat_epochs=2, schemes=SCHEMES, keras_modes=("int8", "int4")):
    import keras

    import keras_mot as mot

    build, data, epochs, lr = MODELS[name]
    x, y, xt, yt = data()
    keras.utils.set_random_seed(0)
    model = build()
    _compile(model, lr)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    float_out = model.predict(xt, verbose=0)
    float_path = os.path.join(workdir, f"{name}.keras")
    model.save(float_path)
    inputs = xt if isinstance(xt, dict) else {"inputs": xt}
    rows, paths = [], {}
    paths["float"] = os.path.join(workdir, f"{name}_float")
    model.export(paths["float"], format="tf_saved_model", verbose=False)
    tuned = keras.saving.load_model(float_path)  # the float model trained as long as QAT runs
    _compile(tuned, lr / 3)
    tuned.fit(x, y, epochs=qat_epochs, batch_size=32, verbose=0)
    paths["float + fine-tune"] = os.path.join(workdir, f"{name}_float_ft")
    tuned.export(paths["float + fine-tune"], format="tf_saved_model", verbose=False)
    extra = [_tflite_dynamic(name, "float", model, xt, yt, workdir)]

    def fresh():  # an independent float model for each quantization (keras_mot copies the layers
        # it leaves float; older versions shared them, and QAT trained the source's layer norms)
        return keras.saving.load_model(float_path)

    for scheme in schemes:  # PTQ and QAT
        short = scheme if scheme == "dynamic_int8" else scheme.split("_")[0]
        ptq = mot.quantize(fresh(), target="tf_serving", scheme=scheme)
        paths[f"mot {short} PTQ"] = _mot_export(ptq, workdir, f"{name}_{short}_ptq")
        qat = mot.quantize(fresh(), target="tf_serving", scheme=scheme)
        _compile(qat, lr / 3, prepared=True)
        qat.fit(x, y, epochs=qat_epochs, batch_size=32, verbose=0)
        paths[f"mot {short} QAT"] = _mot_export(qat, workdir, f"{name}_{short}_qat")
        if short == "dynamic_int8":
            extra.append(_tflite_dynamic(name, "mot dynamic_int8 QAT", qat, xt, yt, workdir))
        if short == "int8":
            extra.append(_tflite_dynamic(name, "mot int8 QAT", qat, xt, yt, workdir))
            bf16 = mot.quantize(fresh(), target="tf_serving", scheme="int8_weight_only_bf16")
            paths["mot int8 PTQ, bf16 compute"] = _mot_export(bf16, workdir, f"{name}_int8_bf16")
        if short == "dynamic_int8":  # the same model, Dense layers on oneDNN's int8 matmul
            onednn = mot.quantize(fresh(), target="tf_serving", scheme="dynamic_int8_onednn")
            paths["mot dynamic_int8_onednn PTQ"] = _mot_export(onednn, workdir, f"{name}_dyn_onednn")
    for mode in keras_modes:
        key = f"keras {mode} PTQ"
        try:
            paths[key] = os.path.join(workdir, f"{name}_keras_{mode}")
            _keras_quantized(float_path, mode, paths[key])
        except Exception as error:  # noqa: BLE001 - reported in the table
            paths[key] = f"failed: {type(error).__name__}: {str(error)[:160]}"
    float_size = _size(paths["float"])
    timed = {k: v for k, v in paths.items() if not v.startswith("failed")}
    lat = latencies(timed, inputs, workdir)
    for variant, path in paths.items():
        if path.startswith("failed"):
            rows.append({"model": name, "variant": variant, "error": path})
            continue
        metrics, out = measure(path, inputs, workdir)
        rows.append(
            {
                "model": name,
                "variant": variant,
                "size_bytes": _size(path),
                "size_ratio": round(_size(path) / float_size, 3),
                "variables_ratio": round(
                    _size(os.path.join(path, "variables")) / (4 * model.count_params()), 3
                ),
                "load_rss_mb": round(metrics["load_rss"] / 2**20, 1),
                "lat_b1_ms": round(lat[1][variant]["ms"], 3),
                "lat_b32_ms": round(lat[32][variant]["ms"], 3),
                "b1_vs_float": [round(v, 2) for v in lat[1][variant]["ratios"]],
                "b32_vs_float": [round(v, 2) for v in lat[32][variant]["ratios"]],
                "accuracy": round(float(np.mean(out.argmax(-1) == yt)), 4),
                "agreement": round(float(np.mean(out.argmax(-1) == float_out.argmax(-1))), 4),
                # largest logit difference to the float Keras model, relative to its largest logit
                "rel_diff": float(np.abs(out - float_out).max() / np.abs(float_out).max()),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows, extra


def _tflite_dynamic(name, variant, keras_model, xt, yt, workdir):
    """TFLite dynamic-range model of `keras_model` (converter default on a float model; a
    weight-only QAT model's weights already lie on the per-channel int8 grid)."""
    import keras_mot as mot

    result = mot.export(
        keras_model,
        os.path.join(workdir, f"{name}_{variant}_dyn".replace(" ", "_")),
        target="tflite_dynamic",
        representative_data=(xt, yt),
        max_examples=None,
        formats=("tflite",),
        plot=False,
    )
    parity = result.report["parity"]
    row = {
        "model": name,
        "variant": f"TFLite dynamic range from {variant}",
        "tflite_bytes": result.sizes["tflite"]["raw"],
        "accuracy": parity["tflite_accuracy"],
        "keras_accuracy": parity["keras_accuracy"],
    }
    print(json.dumps(row), flush=True)
    return row


def _mot_export(qmodel, workdir, name):
    import keras_mot as mot

    result = mot.export(qmodel, os.path.join(workdir, name), target="tf_serving")
    return os.path.join(result.directory, "saved_model")


def table(rows):
    """Markdown table of the rows."""
    head = (
        "| model | variant | size (bytes) | × float SavedModel | variables × float32 weights | "
        "load RSS (MiB) | b1 ms | b1 × float (p25-p75) | b32 ms | b32 × float (p25-p75) | "
        "accuracy | agreement | max logit diff (rel.) |"
    )
    lines = [head, "|" + "---|" * 13]

    def ratio(q):
        return f"{q[1]:.2f} ({q[0]:.2f}-{q[2]:.2f})"

    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['variant']} | {r['error']} |||||||||||")
            continue
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['size_bytes']:,} | {r['size_ratio']} | "
            f"{r['variables_ratio']} | "
            f"{r['load_rss_mb']} | {r['lat_b1_ms']} | {ratio(r['b1_vs_float'])} | "
            f"{r['lat_b32_ms']} | {ratio(r['b32_vs_float'])} | "
            f"{r['accuracy']:.4f} | {r['agreement']:.4f} | {r['rel_diff']:.1e} |"
        )
    return "\n".join(lines)


def dynamic_table(rows):
    """Markdown table of the TFLite dynamic-range rows."""
    lines = [
        "| model | TFLite dynamic range from | model.tflite (bytes) | accuracy (TFLite) | "
        "accuracy (Keras source) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['variant'].split(' from ')[1]} | {r['tflite_bytes']:,} | "
        f"{r['accuracy']:.4f} | {r['keras_accuracy']:.4f} |"
        for r in rows
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,conv,bert")
    parser.add_argument("--out", default=None, help="keep the SavedModels here")
    parser.add_argument("--json", default=None, help="write the rows as JSON here")
    parser.add_argument("--lock", default=None, help="time under `flock LOCK`")
    parser.add_argument("--schemes", default=",".join(SCHEMES), help="keras_mot schemes (a subset)")
    parser.add_argument("--keras", default="int8,int4", help="Keras 3 modes ('' for none)")
    args = parser.parse_args()
    if args.lock:  # a nice'd run (training) times at normal priority where it may (root)
        back = ["nice", "-n", str(-os.nice(0))] if os.nice(0) and os.geteuid() == 0 else []
        LOCK[:] = ["flock", args.lock] + back
    workdir = args.out or tempfile.mkdtemp(prefix="sm_bench_")
    os.makedirs(workdir, exist_ok=True)
    rows, dynamic = [], []
    try:
        for name in args.models.split(","):
            saved, extra = run_model(
                name,
                workdir,
                schemes=args.schemes.split(","),
                keras_modes=[m for m in args.keras.split(",") if m],
            )
            rows += saved
            dynamic += extra
    finally:
        if args.out is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"saved_model": rows, "tflite_dynamic": dynamic}, f, indent=1)
    print(table(rows))
    print()
    print(dynamic_table(dynamic))


if __name__ == "__main__":
    main()
