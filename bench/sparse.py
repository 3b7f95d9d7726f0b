"""keras_mot vs tensorflow-model-optimization 0.8.1: magnitude pruning, one run.

Runs, one after the other, bench/ours/keras_mot_prune.py in this environment (when it exists)
and bench/peer/tfmot_prune.py in the peer virtualenv (bench/peer_env.sh), then prints one
markdown table per model. Models, data and measurements: bench/sparse_protocol.py.

Result schema both sides print (last stdout line, JSON):
    {"side": ..., "mlp": {"dense": M, "<variant>": M, ...}, "cnn": {"dense": M, "pruned": M, ...}}
where M holds keras_acc, tflite_acc, gzip_bytes, tflite_bytes, latency_ms and, for pruned
variants, sparsity {layer: zeros fraction}, flatbuffer {sparse_tensors, densify_ops, ops}.

Usage:
    python bench/sparse.py --epochs 10 --prune-epochs 20
    python bench/sparse.py --peer-json saved_peer.json
"""

import argparse
import os
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import qat  # noqa: E402  (subprocess and peer-venv helpers)

OURS_SCRIPT = os.path.join(BENCH, "ours", "keras_mot_prune.py")


def _mean_sparsity(m):
    values = list((m.get("sparsity") or {}).values())
    return sum(values) / len(values) if values else None


def _fc_blocks(m):
    fb = m.get("flatbuffer")
    if not fb:
        return None
    blocks = sorted(
        {"x".join(map(str, t["block"])) if t["block"] else "random" for t in fb["sparse_tensors"]}
    )
    return ", ".join(blocks) if blocks else "dense"


# (row label, function of (measurement, dense measurement) -> value or None, format)
ROWS = (
    ("pruned-kernel sparsity (mean)", lambda m, d: _mean_sparsity(m), "{:.1%}"),
    ("Keras accuracy", lambda m, d: m.get("keras_acc"), "{:.1%}"),
    ("TFLite accuracy", lambda m, d: m.get("tflite_acc"), "{:.1%}"),
    (
        "TFLite accuracy vs dense (pt)",
        lambda m, d: (
            100 * (m["tflite_acc"] - d["tflite_acc"])
            if m.get("tflite_acc") is not None and d.get("tflite_acc") is not None
            else None
        ),
        "{:+.1f}",
    ),
    ("gzip .tflite (KiB)", lambda m, d: m.get("gzip_bytes", 0) / 1024 or None, "{:.0f}"),
    ("latency, 1 thread (ms, median of 200)", lambda m, d: m.get("latency_ms"), "{:.3f}"),
    (
        "speed-up vs dense",
        lambda m, d: (
            d.get("latency_ms") / m["latency_ms"] if m.get("latency_ms") and d.get("latency_ms") else None
        ),
        "{:.2f}x",
    ),
    ("stored sparse as (TFLite block)", lambda m, d: _fc_blocks(m), "{}"),
    ("DENSIFY ops", lambda m, d: (m.get("flatbuffer") or {}).get("densify_ops"), "{}"),
)


def _columns(ours, peer, part):
    cols = []
    for side, r in (("keras_mot", ours), ("tfmot", peer)):
        if not r or "unavailable" in r or part not in r:
            cols.append((side, None, None))
            continue
        dense = r[part].get("dense", {})
        cols.append((f"{side} dense", dense, dense))
        for name, m in r[part].items():
            if name != "dense" and isinstance(m, dict):
                cols.append((f"{side} {name}", m, dense))
    return cols


def _ours_cnn_notes(ours):
    """keras_mot's MobileNetV2 verdict and XNNPack sparse-cluster report (from its JSON)."""
    cnn = (ours or {}).get("cnn") or {}
    out = []
    if cnn.get("mobilenetv2_policy"):
        out.append(
            f"\nkeras_mot prune(target='xnnpack_sparse') on keras.applications "
            f"MobileNetV2: {cnn['mobilenetv2_policy']}"
        )
    cluster = (cnn.get("pruned") or {}).get("xnnpack_cluster")
    if cluster:
        out.append(
            "\nkeras_mot XNNPack sparse-cluster check of the exported flatbuffer "
            "(keras_mot/export/xnnpack_check.py):"
        )
        out.extend(f"- {'ok  ' if c['ok'] else 'FAIL'} {c['code']}: {c['message']}" for c in cluster)
    if (cnn.get("pruned") or {}).get("note"):
        out.append(f"\nkeras_mot: {cnn['pruned']['note']}")
    return out


def format_tables(ours, peer):
    """Markdown tables (MLP, CNN) of the pruning comparison; missing sides are reported.

    Example:
        >>> print(format_tables(None, json.load(open("peer.json"))))
    """
    out = []
    for part, title in (
        ("mlp", "MLP 64-512-[2048-2048-512]-10, 90 % (tflite_sparse_fc)"),
        ("cnn", "MobileNet-style, ZeroPadding2D stem, 80 % on 1x1 convs (xnnpack_sparse)"),
    ):
        cols = _columns(ours, peer, part)
        out.append(f"\n### {title}\n")
        out.append("| measure | " + " | ".join(c[0] for c in cols) + " |")
        out.append("|---" * (len(cols) + 1) + "|")
        for label, fn, fmt in ROWS:
            cells = []
            for _, m, dense in cols:
                v = fn(m, dense) if m is not None else None
                cells.append("n/a" if v is None else fmt.format(v))
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        if peer and part == "cnn" and peer.get("cnn", {}).get("mobilenetv2_policy"):
            out.append(
                f"\ntfmot PruneForLatencyOnXNNPack on keras.applications MobileNetV2: "
                f"{peer['cnn']['mobilenetv2_policy']}"
            )
        if part == "cnn":
            out.extend(_ours_cnn_notes(ours))
        if part == "cnn":
            out.append(
                "No speed claim for the CNN: XNNPack's sparse NCHW path is disabled on "
                "x86 CPUs with AVX, so its latency here is for the record only."
            )
    for side, r in (("keras_mot", ours), ("tfmot", peer)):
        if not r or "unavailable" in r:
            out.append(f"\n{side} side unavailable: {(r or {}).get('unavailable', 'did not run')}")
    return "\n".join(out)


def _side_args(args):
    return [
        "--epochs",
        str(args.epochs),
        "--prune-epochs",
        str(args.prune_epochs),
        "--batch-size",
        str(args.batch_size),
        "--seed",
        str(args.seed),
    ]


def run_ours(args, log_path):
    """Runs bench/ours/keras_mot_prune.py if it exists; returns its JSON dict."""
    if not os.path.exists(OURS_SCRIPT):
        return {"side": "keras_mot", "unavailable": "bench/ours/keras_mot_prune.py not written yet"}
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    return qat._run_side("keras_mot", [sys.executable, OURS_SCRIPT, *_side_args(args)], env, log_path)


def run_peer(args, log_path):
    """Runs bench/peer/tfmot_prune.py in the peer venv; returns its JSON dict."""
    try:
        py = qat.peer_python()
    except RuntimeError as e:
        return {"side": "tfmot", "unavailable": str(e)}
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    cmd = [py, os.path.join(BENCH, "peer", "tfmot_prune.py"), *_side_args(args)]
    return qat._run_side("tfmot", cmd, env, log_path)


def main(argv=None):
    """Runs both sides and prints the tables (and, with --json-out, saves both results)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--prune-epochs",
        type=int,
        default=20,
        help="pruning fine-tune epochs (20: the 80 %% CNN recovers to within 1 pt "
        "of dense on both sides; 10 leaves it ~3 pt short)",
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    qat.add_result_args(p)
    args = p.parse_args(argv)
    ours, peer = qat.both_sides(args, run_ours, run_peer, "bench_sparse")
    print(
        "Pruning benchmark (bench/sparse.py): digits; "
        + qat.settings_line(args, (ours, peer), ("epochs", "prune_epochs", "batch_size", "seed"))
        + "; float TFLite with Optimize.EXPERIMENTAL_SPARSITY, batch-1 latency"
    )
    print(format_tables(ours, peer))


if __name__ == "__main__":
    main()
