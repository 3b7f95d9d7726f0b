"""The compression benchmark: plain int8 QAT vs the cascade prune 50 % + 16 clusters + int8 QAT.

MobileNetV2 alpha 0.35 (32x32x3) on the embedded digits. One float model is trained (or loaded
from --float-weights) and shared by both arms and by the tfmot side:
- keras_mot, in this process: `mot.quantize` (plain int8 QAT) and `mot.apply` with
  `Rule("class:Conv2D"/"class:DepthwiseConv2D"/"class:Dense", cluster=mot.Cluster(16),
  prune=mot.Unstructured())`, once with the centroids initialised before pruning (one pass) and
  once staged (`Cluster(16, start_step=N)`: prune over the first third of the steps, then cluster
  the pruned weights), each fine-tuned --qat-epochs, exported with `mot.export` (the flatbuffer
  check of the clustered tensors is in its report); the gzip size of each tensor group is
  printed after the table;
- tfmot 0.8.1 on tf_keras, in its own process (bench/peer/tfmot_cluster.py, the peer virtualenv
  of bench/peer_env.sh; tfmot is never imported here): plain QAT, and the PCQAT cascade
  prune -> cluster (sparsity preserving) -> cluster-preserving QAT, --qat-epochs per stage.
Reported: int8 TFLite accuracy on the held-out images, gzip size, size ratio to the same side's
plain int8 QAT model, the largest number of distinct int8 values in a clustered tensor, zeros.
TFLite has no clustered kernel: the cascade shrinks the compressed file, not the latency.

Usage:
    python bench/compression.py --epochs 15 --qat-epochs 3
    python bench/compression.py --peer-python /path/to/venv/bin/python   # with the tfmot side
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402
import numpy as np  # noqa: E402
import qat_protocol  # noqa: E402

SPARSITY, CLUSTERS = 0.5, 16


def _data():
    x_tr, y_tr = common.load_digits("train", qat_protocol.IMAGE_SIZE, channels=3, seed=0)
    held = [
        common.load_digits(s, qat_protocol.IMAGE_SIZE, channels=3, seed=0) for s in ("validation", "test")
    ]
    return x_tr, y_tr, np.concatenate([x for x, _ in held]), np.concatenate([y for _, y in held])


def _fit(keras, model, x, y, epochs, lr, batch_size, callbacks=()):
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=list(callbacks))


def _arm(mot, keras, qmodel, data, args, directory):
    x_tr, y_tr, x_te, y_te = data
    _fit(keras, qmodel, x_tr, y_tr, args.qat_epochs, args.qat_lr, args.batch_size, mot.callbacks(qmodel))
    result = mot.export(qmodel, directory, representative_data=x_tr[:64], plot=False)
    tflite = open(result.paths["tflite"], "rb").read()
    acc = float(np.mean(common.top1(common.run_tflite(tflite, x_te)) == y_te))
    layers = (result.report.get("compression") or {}).get("layers", [])
    from keras_mot.callbacks import wrappers

    kernels = [np.asarray(w.compressed_weights()["kernel"]) for w in wrappers(qmodel) if w.compress]
    return {
        "breakdown": gzip_breakdown(tflite),
        "compressed_params": int(sum(k.size for k in kernels)),
        "compressed_zeros": float(
            sum((k == 0).sum() for k in kernels) / max(1, sum(k.size for k in kernels))
        ),
        "int8_acc": acc,
        "gzip": common.gzip_size(tflite),
        "raw": len(tflite),
        "ok": result.ok,
        "max_distinct": max((r.get("distinct", 0) for r in layers), default=None),
        "clustered_tensors": len(layers),
        "zeros_kept": all(r.get("tflite_zeros", 0) >= r["keras_zeros"] for r in layers),
        "zero_fraction": _zero_fraction(layers, result.report),
    }


def _zero_fraction(layers, report):
    stats = report.get("overall_sparsity")
    return None if not layers else stats


def run_ours(args, weights_path):
    """Float training (shared), then the plain int8 QAT and the cascade arms."""
    import keras

    import keras_mot as mot

    keras.utils.set_random_seed(args.seed)
    data = _data()
    x_tr, y_tr, x_te, y_te = data
    model = common.build_mobilenetv2(keras, qat_protocol.IMAGE_SIZE + (3,), classes=10)
    if os.path.exists(weights_path):
        qat_protocol.load_float_weights(weights_path, model, args)
    else:
        _fit(keras, model, x_tr, y_tr, args.epochs, qat_protocol.FLOAT_LR, args.batch_size)
        qat_protocol.save_float_weights(weights_path, model, args)
    out = {"float_acc": float(np.mean(common.top1(model.predict(x_te, verbose=0)) == y_te))}
    x_cal = x_tr[: qat_protocol.N_CALIBRATION]
    tmp = tempfile.mkdtemp(prefix="bench_compression_")
    plain = mot.quantize(model, calibration_data=x_cal)
    out["int8_qat"] = _arm(mot, keras, plain, data, args, os.path.join(tmp, "plain"))
    steps = args.qat_epochs * int(np.ceil(len(x_tr) / args.batch_size))
    start = max(1, steps // 3)  # prune over the first third, then cluster the pruned weights

    def recipe(staged):
        cluster = mot.Cluster(CLUSTERS, start_step=start if staged else 0)
        return mot.Recipe(
            "tflite_int8",
            schedule=mot.PolynomialDecay(0.0, SPARSITY, 0, start if staged else steps // 2, frequency=10),
            rules=tuple(
                mot.Rule(f"class:{c}", cluster=cluster, prune=mot.Unstructured())
                for c in ("Conv2D", "DepthwiseConv2D", "Dense")
            )
            + (mot.Rule("_default"),),
        )

    for arm, staged in (("cascade_one_pass", False), ("cascade", True)):
        if arm in args.arms:
            qmodel = mot.apply(model, recipe(staged), calibration_data=x_cal)
            out[arm] = _arm(mot, keras, qmodel, data, args, os.path.join(tmp, arm))
    return out


def gzip_breakdown(tflite):
    """`{group: (raw bytes, gzip bytes of the group alone)}` of `tflite`: int8 weights with 2+ dims,
    int32 biases, the per-channel quantization parameters (float32 scales and int64 zero points
    of tensors quantized per channel; after batch-norm folding every channel has its own scale,
    whatever the weights) and everything else (graph, names, per-tensor parameters); "rest" is
    the whole file's gzip size minus the other groups'."""
    from keras_mot.export.tflite_model import TfliteModel

    parsed = TfliteModel(tflite)
    groups = {"int8 weights": [], "int32 biases": [], "per-channel scales": []}
    for i, t in enumerate(parsed.tensors):
        if len(t.scale) > 1:
            groups["per-channel scales"].append(np.asarray(t.scale, np.float32).tobytes())
            groups["per-channel scales"].append(np.asarray(t.zero_point, np.int64).tobytes())
        d = parsed.data(i)
        if d is None:
            continue
        d = np.asarray(d)
        if d.dtype == np.int8 and len(t.shape) >= 2:
            groups["int8 weights"].append(d.tobytes())
        elif d.dtype == np.int32 and t.scale:  # quantized biases (shape constants are "rest")
            groups["int32 biases"].append(d.tobytes())
    out = {k: (sum(map(len, v)), common.gzip_size(b"".join(v))) for k, v in groups.items()}
    out["rest"] = (
        len(tflite) - sum(r for r, _ in out.values()),
        common.gzip_size(tflite) - sum(g for _, g in out.values()),
    )
    return out


def run_peer(args, weights_path):
    """The tfmot side in its own process, or `{"unavailable": why}`."""
    python = args.peer_python
    if python is None:
        try:
            python = (
                subprocess.run(
                    ["bash", os.path.join(BENCH, "peer_env.sh")], check=True, capture_output=True, text=True
                )
                .stdout.strip()
                .splitlines()[-1]
            )
        except (subprocess.CalledProcessError, IndexError) as e:
            return {"unavailable": f"peer virtualenv: {e}"}
    cmd = [
        python,
        os.path.join(BENCH, "peer", "tfmot_cluster.py"),
        "--epochs",
        str(args.epochs),
        "--qat-epochs",
        str(args.qat_epochs),
        "--batch-size",
        str(args.batch_size),
        "--seed",
        str(args.seed),
        "--float-weights",
        weights_path,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    return common.parse_last_json(proc.stdout) or {"unavailable": proc.stderr[-2000:]}


def table(ours, peer):
    """Markdown table of both sides' arms."""
    rows = [
        "| side | arm | int8 acc | gzip bytes | ratio to own int8 QAT | max distinct int8 | zeros kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for side, res in (("keras_mot", ours), ("tfmot 0.8.1", peer)):
        if not res or "unavailable" in res:
            rows.append(f"| {side} | unavailable | | | | | |")
            continue
        base = res["int8_qat"]["gzip"]
        for arm in ("int8_qat", "cascade_one_pass", "cascade"):
            r = res.get(arm)
            if r is None:
                continue
            rows.append(
                f"| {side} | {arm} | {r['int8_acc']:.1%} | {r['gzip']:,} | "
                f"{r['gzip'] / base:.3f}x | {r.get('max_distinct')} | "
                f"{r.get('zeros_kept')} |"
            )
    return "\n".join(rows)


def main(argv=None):
    """Runs both sides and prints the table (and the JSON with --json-out)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--qat-epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--qat-lr", type=float, default=qat_protocol.QAT_LR, help="keras_mot side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--float-weights", default=None)
    p.add_argument("--peer-python", default=None, help="python of a venv with tfmot 0.8.1")
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--arms", nargs="*", default=["cascade_one_pass", "cascade"])
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    weights = args.float_weights or os.path.join(
        tempfile.gettempdir(), f"compression_float_s{args.seed}_e{args.epochs}.npz"
    )
    ours = run_ours(args, weights)
    peer = None if args.no_peer else run_peer(args, weights)
    print(table(ours, peer))
    print("\ngzip bytes by tensor group (keras_mot): raw / gzip alone")
    for arm in ("int8_qat", "cascade_one_pass", "cascade"):
        if arm in ours:
            parts = ", ".join(f"{k} {r:,}/{g:,}" for k, (r, g) in ours[arm]["breakdown"].items())
            print(
                f"- {arm}: {parts}; compressed params {ours[arm].get('compressed_params', 0):,}, "
                f"zeros {ours[arm].get('compressed_zeros', 0):.1%}"
            )
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"keras_mot": ours, "tfmot": peer}, f, indent=1, default=float)


if __name__ == "__main__":
    main()
