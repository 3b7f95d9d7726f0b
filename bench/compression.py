"""The compression benchmark: every registered algorithm and the cascade against plain int8 QAT.

Models (--models): MobileNetV2 alpha 0.35 (32x32x3) and an MLP 64-1024-1024-10, both on the
embedded digits (bench/compression_models.py). Per model, one float model is trained (or loaded
from --float-weights) and shared by every arm and by the tfmot side:
- keras_mot, in this process, each arm fine-tuned --qat-epochs from the float model with int8 QAT
  and exported with `mot.export` (whose report holds the flatbuffer check of compressed tensors):
  `int8_qat` (plain), `prune` (50 % unstructured), one arm per registered compression algorithm
  (`Cluster(16)`, `Palettize(4)`, ...: `keras_mot.compression.registered()`), and the cascade
  prune 50 % + 16 clusters, once with the centroids initialised before pruning
  (`cascade_one_pass`) and once staged (`cascade`: `Cluster(16, start_step=N)` prunes over the
  first third of the steps, then clusters the pruned weights); the gzip size of each tensor group
  is printed after the table;
- tfmot 0.8.1 on tf_keras, in its own process (bench/peer/tfmot_cluster.py, the peer virtualenv
  of bench/peer_env.sh; tfmot is never imported here): plain QAT, and the PCQAT cascade
  prune -> cluster (sparsity preserving) -> cluster-preserving QAT, --qat-epochs per stage.
Reported: int8 TFLite accuracy on the held-out images, gzip size and its ratio to the same side's
plain int8 QAT model, TFLite latency at batch 1 (LiteRT, 1 thread) and its ratio, the largest
number of distinct int8 values in a compressed tensor, whether the zeros survived, and (keras_mot
side) the gzip size against the float model's .tflite.
TFLite has no clustered kernel: clustering shrinks the compressed file, not the latency.

Usage:
    python bench/compression.py --epochs 15 --qat-epochs 3
    python bench/compression.py --models mobilenetv2 mlp --arms cascade
    python bench/compression.py --arms cascade --cascade-settings 0.75:16 0.75:8   # more cascades
    python bench/compression.py --peer-python /path/to/venv/bin/python   # with the tfmot side
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402
import compression_models  # noqa: E402
import numpy as np  # noqa: E402
import qat_protocol  # noqa: E402

SPARSITY, CLUSTERS = 0.5, 16


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
    text = isinstance(x_te, dict)
    rep = (x_te, y_te) if text else x_tr[:64]  # dict inputs: the export's parity run measures accuracy
    result = mot.export(qmodel, directory, representative_data=rep, plot=False)
    tflite = open(result.paths["tflite"], "rb").read()
    if text:
        acc = float(result.parity.tflite_accuracy)
    else:
        acc = float(np.mean(common.top1(common.run_tflite(tflite, x_te)) == y_te))
    first = {k: v[:1] for k, v in x_te.items()} if text else x_te[:1]
    layers = (result.report.get("compression") or {}).get("layers", [])
    from keras_mot.callbacks import wrappers

    kernels = [np.asarray(k) for w in wrappers(qmodel) if w.compress for k in w.compressed_weights().values()]
    return {
        "breakdown": gzip_breakdown(tflite),
        "compressed_params": int(sum(k.size for k in kernels)),
        "compressed_zeros": float(
            sum((k == 0).sum() for k in kernels) / max(1, sum(k.size for k in kernels))
        ),
        "int8_acc": acc,
        "gzip": common.gzip_size(tflite),
        "raw": len(tflite),
        "latency_ms": common.latency_ms(tflite, first, num_threads=1, runs=100),
        "ok": result.ok,
        "sparsity": result.report.get("overall_sparsity"),
        "max_distinct": max((r.get("distinct", 0) for r in layers), default=None),
        "clustered_tensors": len(layers),
        "zeros_kept": all(r.get("tflite_zeros", 0) >= r["keras_zeros"] for r in layers) if layers else None,
    }


def algorithm_arms(compression, start_step):
    """`{arm name: algorithm}`: one arm per registered compression algorithm, at the benchmark's
    settings (16 clusters, 4-bit palette) or the algorithm's defaults, active from `start_step`."""
    settings = {"Cluster": {"n_clusters": CLUSTERS}, "Palettize": {"bits": 4}}
    arms = {}
    for name, cls in sorted(compression.registered().items()):
        fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
        kwargs = dict(settings.get(name, {}))
        if "start_step" in fields:
            kwargs["start_step"] = start_step
        arms[name.lower().replace(".", "_")] = cls(**kwargs)
    return arms


def _rules(mot, classes, **fields):
    return tuple(mot.Rule(f"class:{c}", **fields) for c in classes) + (mot.Rule("_default"),)


def run_model(args, name):
    """Float training (shared with the tfmot side), then every keras_mot arm on model `name`."""
    import keras

    import keras_mot as mot

    spec = compression_models.MODELS[name]
    keras.utils.set_random_seed(args.seed)
    data = spec.data()
    x_tr, y_tr, x_te, y_te = data
    model = spec.build(keras)
    weights_path = _weights_path(args, name)
    if os.path.exists(weights_path):
        qat_protocol.load_float_weights(weights_path, model, args)
    else:
        _fit(keras, model, x_tr, y_tr, args.epochs, qat_protocol.FLOAT_LR, args.batch_size)
        qat_protocol.save_float_weights(weights_path, model, args)
    out = {"float_acc": float(np.mean(common.top1(model.predict(x_te, verbose=0)) == y_te))}
    out["float_gzip"] = float_tflite_gzip(model)
    x_cal = (
        {k: v[: qat_protocol.N_CALIBRATION] for k, v in x_tr.items()}
        if isinstance(x_tr, dict)
        else x_tr[: qat_protocol.N_CALIBRATION]
    )
    tmp = tempfile.mkdtemp(prefix=f"bench_compression_{name}_")
    out["int8_qat"] = _arm(
        mot, keras, mot.quantize(model, calibration_data=x_cal), data, args, f"{tmp}/plain"
    )
    steps = args.qat_epochs * int(np.ceil(len(y_tr) / args.batch_size))  # x_tr may be a dict
    start = max(1, steps // 3)  # the staged cascade prunes over the first third, then clusters

    def prune_schedule(end):
        return mot.PolynomialDecay(0.0, args.sparsity, 0, max(1, end), frequency=10)

    recipes = {
        "prune": mot.Recipe(
            "tflite_int8",
            schedule=prune_schedule(steps // 2),
            rules=_rules(mot, spec.classes, prune=mot.Unstructured()),
        )
    }
    for arm, algorithm in algorithm_arms(mot.compression, 0).items():
        recipes[arm] = mot.Recipe("tflite_int8", rules=_rules(mot, spec.classes, cluster=algorithm))
    for arm, staged in (("cascade_one_pass", False), ("cascade", True)):
        recipes[arm] = mot.Recipe(
            "tflite_int8",
            schedule=prune_schedule(start if staged else steps // 2),
            rules=_rules(
                mot,
                spec.classes,
                cluster=mot.Cluster(args.clusters, start_step=start if staged else 0),
                prune=mot.Unstructured(),
            ),
        )
    for sparsity, clusters in args.cascade_settings or ():
        recipes[f"cascade_s{sparsity:g}_c{clusters}"] = mot.Recipe(
            "tflite_int8",
            schedule=mot.PolynomialDecay(0.0, sparsity, 0, max(1, start), frequency=10),
            rules=_rules(
                mot, spec.classes, cluster=mot.Cluster(clusters, start_step=start), prune=mot.Unstructured()
            ),
        )
    for arm, recipe in recipes.items():
        if args.arms is None or arm in args.arms or arm.startswith("cascade_s"):
            qmodel = mot.apply(model, recipe, calibration_data=x_cal)
            out[arm] = _arm(mot, keras, qmodel, data, args, f"{tmp}/{arm}")
    return out


def float_tflite_gzip(model):
    """gzip bytes of the float model's .tflite (TFLiteConverter, no optimizations): the reference
    that tfmot's published clustering results are stated against; None when it does not convert."""
    import tensorflow as tf

    try:
        return common.gzip_size(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    except Exception as e:  # noqa: BLE001 - reported, and the column stays empty
        print(f"float .tflite not converted ({type(e).__name__}: {e}); no x float column", file=sys.stderr)
        return None


def _setting(text):
    sparsity, clusters = text.split(":")
    return float(sparsity), int(clusters)


def _weights_path(args, name):
    if args.float_weights and len(args.models) == 1:
        return args.float_weights
    return os.path.join(tempfile.gettempdir(), f"compression_float_{name}_s{args.seed}_e{args.epochs}.npz")


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


def run_peer(args, name):
    """The tfmot side on model `name` in its own process, or `{"unavailable": why}`."""
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
    cmd = [python, os.path.join(BENCH, "peer", "tfmot_cluster.py"), "--model", name]
    for flag in ("epochs", "qat_epochs", "batch_size", "seed"):
        cmd += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
    cmd += ["--float-weights", _weights_path(args, name)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    return common.parse_last_json(proc.stdout) or {"unavailable": proc.stderr[-2000:]}


def table(results):
    """Markdown table of every model's arms, both sides (`results`: {model: {side: arms}})."""
    rows = [
        "| model | side | arm | int8 acc | gzip bytes | × own int8 QAT | × float .tflite | "
        "b1 latency ms (× int8 QAT) | sparsity | max distinct int8 | zeros kept |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, sides in results.items():
        for side, res in (("keras_mot", sides.get("keras_mot")), ("tfmot 0.8.1", sides.get("tfmot"))):
            if not res or "unavailable" in res:
                reason = "not run" if not res else "unavailable"
                rows.append(f"| {model} | {side} | {reason} | | | | | | | | |")
                continue
            base = res["int8_qat"]
            ref = res.get("float_gzip")  # keras_mot side only: the peer's float file is not measured
            for arm, r in res.items():
                if not isinstance(r, dict) or "gzip" not in r:
                    continue
                latency = r.get("latency_ms")
                lat = "" if latency is None else f"{latency:.3f} ({latency / base['latency_ms']:.2f}x)"
                rows.append(
                    f"| {model} | {side} | {arm} | {r['int8_acc']:.1%} | {r['gzip']:,} | "
                    f"{r['gzip'] / base['gzip']:.3f}x | {_ratio(r['gzip'], ref)} | {lat} | "
                    f"{_pct(r.get('sparsity'))} | {r.get('max_distinct')} | "
                    f"{r.get('zeros_kept')} |"
                )
    return "\n".join(rows)


def _ratio(value, ref):
    return "" if not ref else f"{value / ref:.3f}x"


def _pct(value):
    return "" if value is None else f"{value:.1%}"


def main(argv=None):
    """Runs both sides on every model and prints the table (and the JSON with --json-out)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["mobilenetv2"], choices=sorted(compression_models.MODELS))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--qat-epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--qat-lr", type=float, default=qat_protocol.QAT_LR, help="keras_mot side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--float-weights", default=None, help="with one model: its shared float weights (.npz)")
    p.add_argument("--peer-python", default=None, help="python of a venv with tfmot 0.8.1")
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--arms", nargs="*", default=None, help="keras_mot arms besides int8_qat (default: all)")
    p.add_argument("--sparsity", type=float, default=SPARSITY, help="keras_mot prune and cascade arms")
    p.add_argument("--clusters", type=int, default=CLUSTERS, help="keras_mot cascade arms")
    p.add_argument(
        "--cascade-settings",
        nargs="*",
        type=_setting,
        default=None,
        help="extra staged cascade arms, SPARSITY:CLUSTERS each (e.g. 0.75:16 0.75:8)",
    )
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    results = {}
    for name in args.models:
        ours = run_model(args, name)
        if args.no_peer:
            peer = None
        elif not compression_models.MODELS[name].peer:
            peer = {"unavailable": "tfmot 0.8.1 runs on tf_keras and cannot wrap this Keras 3 model"}
        else:
            peer = run_peer(args, name)
        results[name] = {"keras_mot": ours, "tfmot": peer}
    print(table(results))
    for name, sides in results.items():
        ours = sides["keras_mot"]
        print(
            f"- {name}: float model {ours['float_acc']:.1%}, float .tflite gzip {ours.get('float_gzip')} bytes"
        )
    print("\ngzip bytes by tensor group (keras_mot): raw / gzip alone")
    for name, sides in results.items():
        for arm, r in sides["keras_mot"].items():
            if isinstance(r, dict) and "breakdown" in r:
                parts = ", ".join(f"{k} {raw:,}/{g:,}" for k, (raw, g) in r["breakdown"].items())
                print(
                    f"- {name} {arm}: {parts}; compressed params {r['compressed_params']:,}, "
                    f"zeros {r['compressed_zeros']:.1%}"
                )
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1, default=float)


if __name__ == "__main__":
    main()
