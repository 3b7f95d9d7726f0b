"""keras_mot vs tensorflow-model-optimization 0.8.1: quantization-aware training, one run.

Runs two subprocesses one after the other (never concurrently, so step times are not disturbed):
- bench/ours/keras_mot_qat.py in this environment (Keras 3, keras_mot);
- bench/peer/tfmot_qat.py in the peer virtualenv (tf_keras, TF_USE_LEGACY_KERAS=1), created
  on first use by bench/peer_env.sh.
Both follow bench/qat_protocol.py (MobileNetV2 alpha 0.35, 32x32x3, digits, same optimiser and
epochs) and print a JSON line; this script prints the comparison table (markdown).

Usage:
    python bench/qat.py --epochs 8 --qat-epochs 2 --batch-size 64
    python bench/qat.py --peer-json saved_peer.json     # reuse a saved peer result
"""

import argparse
import json
import os
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402

# (result key, row label, format, which direction is better: +1 higher, -1 lower, 0 no verdict)
ROWS = (
    ("step_time_ratio", "QAT/float step-time ratio", "{:.2f}x", -1),
    ("qat_acc_before_finetune", "accuracy before fine-tune", "{:.1%}", +1),
    ("agreement", "TFLite-vs-Keras top-1 agreement", "{:.1%}", +1),
    ("max_logit_diff", "max abs logit diff (TFLite vs Keras)", "{:.3f}", -1),
    ("int8_acc", "int8 TFLite accuracy", "{:.1%}", +1),
    ("qat_keras_acc", "Keras QAT accuracy", "{:.1%}", +1),
    ("float_acc", "float accuracy", "{:.1%}", 0),
    ("ptq_int8_acc", "PTQ int8 accuracy (reference)", "{:.1%}", 0),
    ("float_ops_left", "float compute ops left", "{:d}", -1),
    ("conversion_s", "int8 conversion time (s)", "{:.1f}", -1),
    ("float_step_s", "float step time (ms, median)", "{:.1f}", 0),
    ("qat_step_s", "QAT step time (ms, median)", "{:.1f}", 0),
)
_MS_KEYS = ("float_step_s", "qat_step_s")


def _cell(result, key, fmt):
    if result is None or "unavailable" in result or result.get(key) is None:
        return "n/a"
    value = result[key] * 1e3 if key in _MS_KEYS else result[key]
    return fmt.format(value)


def _verdict(ours, peer, key, direction):
    if direction == 0 or not all(r and r.get(key) is not None and "unavailable" not in r
                                 for r in (ours, peer)):
        return ""
    a, b = ours[key], peer[key]
    ratio = f"{a / b:.2f}x" if b else "-"
    better = "tie" if a == b else ("keras_mot" if (a - b) * direction > 0 else "tfmot")
    return f"{ratio} / {better}"


def format_table(ours, peer):
    """Markdown table of the QAT comparison; a side that did not run shows "n/a".

    Args:
        ours, peer: the JSON dicts printed by the two sides (or None / {"unavailable": ...}).

    Example:
        >>> print(format_table({"side": "keras_mot", "int8_acc": 0.9}, {"int8_acc": 0.8}))
    """
    lines = ["| measure | keras_mot | tfmot 0.8.1 | ratio / better |", "|---|---|---|---|"]
    for key, label, fmt, direction in ROWS:
        lines.append(f"| {label} | {_cell(ours, key, fmt)} | {_cell(peer, key, fmt)} | "
                     f"{_verdict(ours, peer, key, direction)} |")
    for name, r in (("keras_mot", ours), ("tfmot", peer)):
        if r is None or "unavailable" in r:
            why = (r or {}).get("unavailable", "did not run")
            lines.append(f"\n{name} side unavailable: {why}")
        elif r.get("float_ops_left_names"):
            lines.append(f"\n{name} float compute ops: {', '.join(r['float_ops_left_names'])}")
    walls = [f"{n} {r['wall_s']:.0f} s" for n, r in (("keras_mot", ours), ("tfmot", peer))
             if r and r.get("wall_s") is not None]
    if walls:
        lines.append("\nwall time per side (incl. imports): " + ", ".join(walls))
    return "\n".join(lines)


def settings_line(args, results, keys):
    """"key=value" settings of each side's result (a loaded result keeps its own settings)."""
    parts = []
    for r in results:
        if r and "unavailable" not in r:
            vals = ", ".join(f"{k}={r.get(k)}" for k in keys)
            parts.append(f"{r.get('side', '?')}: {vals}")
    return "; ".join(parts) or ", ".join(f"{k}={getattr(args, k)}" for k in keys)


def _run_side(name, cmd, env, log_path):
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    wall = time.perf_counter() - t0
    result = common.parse_last_json(proc.stdout)
    if proc.returncode != 0 or result is None:
        result = {"side": name, "unavailable":
                  f"exit code {proc.returncode}, no JSON result; see {log_path}"}
    result["wall_s"] = wall
    return result


def _side_args(args):
    return ["--epochs", str(args.epochs), "--qat-epochs", str(args.qat_epochs),
            "--batch-size", str(args.batch_size), "--seed", str(args.seed)]


def run_ours(args, log_path):
    """Runs bench/ours/keras_mot_qat.py in this interpreter; returns its JSON dict."""
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    cmd = [sys.executable, os.path.join(BENCH, "ours", "keras_mot_qat.py"), *_side_args(args)]
    return _run_side("keras_mot", cmd, env, log_path)


def peer_python():
    """Creates the peer venv if needed (bench/peer_env.sh) and returns its python path."""
    proc = subprocess.run(["bash", os.path.join(BENCH, "peer_env.sh")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError("bench/peer_env.sh failed to create the peer virtualenv. "
                           f"Received: exit code {proc.returncode}, stderr tail: "
                           f"{proc.stderr[-800:]!r}. Fix: check network access to PyPI or set "
                           "KERAS_MOT_PEER_VENV to an existing venv with tfmot 0.8.1.")
    return proc.stdout.strip().splitlines()[-1]


def run_peer(args, log_path):
    """Runs bench/peer/tfmot_qat.py in the peer venv; returns its JSON dict."""
    try:
        py = peer_python()
    except RuntimeError as e:
        return {"side": "tfmot", "unavailable": str(e)}
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    cmd = [py, os.path.join(BENCH, "peer", "tfmot_qat.py"), *_side_args(args)]
    return _run_side("tfmot", cmd, env, log_path)


def add_result_args(p):
    """Adds --peer-json / --ours-json / --json-out / --log-dir to a bench's argument parser."""
    p.add_argument("--peer-json", help="use this saved peer result instead of running tfmot")
    p.add_argument("--ours-json", help="use this saved keras_mot result instead of running it")
    p.add_argument("--json-out", help="write {'keras_mot': ..., 'tfmot': ...} here")
    p.add_argument("--log-dir", default=os.environ.get("TMPDIR", "/tmp"))


def both_sides(args, run_ours, run_peer, stem):
    """Runs (or loads) the keras_mot side, then the tfmot side; saves both with --json-out."""
    def load_or_run(path, runner, log_name):
        if path:
            with open(path) as f:
                return json.load(f)
        return runner(args, os.path.join(args.log_dir, log_name))

    ours = load_or_run(args.ours_json, run_ours, f"{stem}_keras_mot.log")
    peer = load_or_run(args.peer_json, run_peer, f"{stem}_tfmot.log")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"keras_mot": ours, "tfmot": peer}, f, indent=2, sort_keys=True)
    return ours, peer


def main(argv=None):
    """Runs both sides and prints the table (and, with --json-out, saves both results)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    add_result_args(p)
    args = p.parse_args(argv)
    ours, peer = both_sides(args, run_ours, run_peer, "bench_qat")
    print("QAT benchmark (bench/qat.py): MobileNetV2 alpha=0.35, 32x32x3, digits; "
          + settings_line(args, (ours, peer), ("epochs", "qat_epochs", "batch_size", "seed"))
          + "; step-time ratio and time rows: lower is better")
    print(format_table(ours, peer))


if __name__ == "__main__":
    main()
