"""keras_mot vs tensorflow-model-optimization 0.8.1: quantization-aware training, one run.

Runs two subprocesses one after the other (never concurrently, so step times are not disturbed):
- bench/ours/keras_mot_qat.py in this environment (Keras 3, keras_mot);
- bench/peer/tfmot_qat.py in the peer virtualenv (tf_keras, TF_USE_LEGACY_KERAS=1), created
  on first use by bench/peer_env.sh.
Both follow bench/qat_protocol.py (MobileNetV2 alpha 0.35, 32x32x3, digits, same optimiser and
epochs) and print a JSON line; this script prints the comparison table (markdown).

By default both sides fine-tune the same float model per seed: the keras_mot side trains it
(Keras 3) and passes its weights to the tfmot side as an .npz (bench/qat_protocol.py), so the
accuracy rows compare the two QAT methods and not two float trainings (independently trained
float models of one seed differ by 2-3 points, more than quantization changes them).
`--independent-float` lets each side train its own.

With `--seeds N` (default 3) both sides run N times (seeds --seed .. --seed+N-1, one side after
the other per seed); each cell is the mean over seeds, accuracy-like rows add the standard
deviation, and a difference smaller than two standard errors is reported as "within noise"
rather than as a win. With a shared float model the accuracy rows are compared seed by seed
instead (paired difference, "within noise" below two standard errors of its mean; the verdict
is marked "(paired)"), and the int8 difference is printed below the table as mean ± sd.

Usage:
    python bench/qat.py                   # 30 float + 3 QAT epochs, batch 64, seeds 0-2
    python bench/qat.py --seeds 5 --json-out qat.json   # 5 seeds, per-seed results saved
    python bench/qat.py --peer-json saved.json     # reuse saved peer results (--json-out file)
    python bench/qat.py --seeds 5 --peer-json saved.json --ours-freeze-bn-at 0
        # keras_mot with BatchNormalization statistics frozen from the first QAT step
    python bench/qat.py --backend tensorflow,tensorflow-xla,jax,torch
        # step times only: float and QAT step time and QAT/float ratio per Keras backend,
        # one bench/step_time.py process per backend, the backends taking turns --repeats times
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402
import qat_protocol  # noqa: E402

# (result key, row label, format, which direction is better: +1 higher, -1 lower, 0 no verdict)
ROWS = (
    ("step_time_ratio", "QAT/float step-time ratio", "{:.2f}x", -1),
    ("qat_acc_before_finetune", "accuracy before fine-tune", "{:.1%}", +1),
    ("agreement", "TFLite-vs-Keras top-1 agreement", "{:.1%}", +1),
    ("max_logit_diff", "max abs logit diff (TFLite vs Keras)", "{:.3f}", -1),
    ("int8_acc", "int8 TFLite accuracy", "{:.1%}", +1),
    ("int8_minus_float_continued", "int8 minus own float trained as long", "{:+.1%}", +1),
    ("int8_minus_ptq", "int8 minus own PTQ int8", "{:+.1%}", +1),
    ("qat_keras_acc", "Keras QAT accuracy", "{:.1%}", +1),
    ("float_acc", "float accuracy", "{:.1%}", 0),
    ("float_continued_acc", "float accuracy, trained as long as QAT", "{:.1%}", 0),
    ("ptq_int8_acc", "PTQ int8 accuracy (reference)", "{:.1%}", 0),
    ("float_ops_left", "float compute ops left", "{:d}", -1),
    ("conversion_s", "int8 conversion time (s)", "{:.1f}", -1),
    ("float_step_s", "float step time (ms, median)", "{:.1f}", 0),
    ("qat_step_s", "QAT step time (ms, median)", "{:.1f}", 0),
)
_MS_KEYS = ("float_step_s", "qat_step_s")
# Paired rows: int8 accuracy minus a reference accuracy of the same seed and side.
_DIFFERENCES = {"int8_minus_float_continued": "float_continued_acc", "int8_minus_ptq": "ptq_int8_acc"}


# Protocol settings and sizes: the same in every seed, never averaged.
_SETTINGS_KEYS = ("seed", "epochs", "qat_epochs", "batch_size", "n_train", "n_test", "freeze_bn_at")
# Rows whose spread over seeds is printed next to the mean.
_SPREAD_KEYS = (
    "step_time_ratio",
    "qat_acc_before_finetune",
    "agreement",
    "int8_acc",
    "int8_minus_float_continued",
    "int8_minus_ptq",
    "qat_keras_acc",
    "float_acc",
    "float_continued_acc",
    "ptq_int8_acc",
)

# Rows compared seed by seed when both sides fine-tuned the same float model (`paired_difference`).
_PAIRED_KEYS = (
    "qat_acc_before_finetune",
    "agreement",
    "int8_acc",
    "int8_minus_float_continued",
    "int8_minus_ptq",
    "qat_keras_acc",
)


def _with_differences(result):
    """Adds the paired rows: int8 accuracy minus the same seed's float-trained-as-long and PTQ
    accuracies (each side's float models differ by seed far more than quantization changes
    them, and extra epochs alone can add points)."""
    r = dict(result)
    for key, ref in _DIFFERENCES.items():
        if r.get("int8_acc") is not None and r.get(ref) is not None:
            r[key] = r["int8_acc"] - r[ref]
    return r


def _cell(result, key, fmt):
    if result is None or "unavailable" in result or result.get(key) is None:
        return "n/a"
    scale = 1e3 if key in _MS_KEYS else 1
    text = fmt.format(result[key] * scale)
    if result.get("n_seeds", 1) > 1 and key in _SPREAD_KEYS:
        sd = result.get(f"{key}_sd", 0.0) * scale
        text += f" ± {sd * 100:.1f}" if fmt.endswith("%}") else f" ± {sd:.2f}"
    return text


def _within_noise(ours, peer, key):
    """True when both sides ran several seeds and |difference| < 2 standard errors."""
    if min(ours.get("n_seeds", 1), peer.get("n_seeds", 1)) < 2 or key not in _SPREAD_KEYS:
        return False
    se = math.sqrt(sum(r.get(f"{key}_sd", 0.0) ** 2 / r["n_seeds"] for r in (ours, peer)))
    return abs(ours[key] - peer[key]) < 2.0 * se


def _verdict(ours, peer, key, direction, paired=None):
    if direction == 0 or not all(
        r and r.get(key) is not None and "unavailable" not in r for r in (ours, peer)
    ):
        return ""
    a, b = ours[key], peer[key]
    # A ratio of two signed differences (int8 minus a reference) means nothing.
    ratio = f"{a / b:.2f}x" if b and key not in _DIFFERENCES else "-"
    if a == b:
        better = "tie"
    elif paired and key in paired:  # same float model per seed: the seed-by-seed test
        d = paired[key]
        better = (
            "within noise"
            if d["verdict"] == "within noise"
            else "keras_mot"
            if d["mean"] * direction > 0
            else "tfmot"
        ) + " (paired)"
    elif _within_noise(ours, peer, key):
        better = "within noise"
    else:
        better = "keras_mot" if (a - b) * direction > 0 else "tfmot"
    return f"{ratio} / {better}"


def aggregate(results):
    """Combines one side's per-seed results: means of the numbers, `<key>_sd` (sample standard
    deviation) for the rows that print a spread, the worst float-op count, summed wall time.

    A side that was unavailable in any seed is returned as that unavailable result.

    Example:
        >>> both = aggregate([{"int8_acc": 0.8, "seed": 0}, {"int8_acc": 0.9, "seed": 1}])
        >>> round(both["int8_acc"], 3), both["n_seeds"]
        (0.85, 2)
    """
    results = [_with_differences(r) for r in results if r is not None]
    if not results:
        return None
    for r in results:
        if "unavailable" in r:
            return r
    if len(results) == 1:
        return dict(results[0], n_seeds=1)
    out = dict(results[0], n_seeds=len(results), seed=[r.get("seed") for r in results])
    for key, value in results[0].items():
        values = [r.get(key) for r in results]
        if key in _SETTINGS_KEYS or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            continue
        if key == "float_ops_left":
            out[key] = max(values)
        elif key == "wall_s":
            out[key] = sum(values)
        else:
            mean = sum(values) / len(values)
            out[key] = mean
            if key in _SPREAD_KEYS:
                out[f"{key}_sd"] = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    out["float_ops_left_names"] = sorted({n for r in results for n in r.get("float_ops_left_names", [])})
    return out


def format_table(ours, peer, paired=None):
    """Markdown table of the QAT comparison; a side that did not run shows "n/a".

    Args:
        ours, peer: the JSON dicts printed by the two sides (or None / {"unavailable": ...}).
        paired: optional {row key: `paired_difference` result}; those rows take the
            seed-by-seed verdict (marked "(paired)") instead of comparing the two means.

    Example:
        >>> table = format_table({"side": "keras_mot", "int8_acc": 0.9}, {"int8_acc": 0.8})
        >>> print(next(line for line in table.splitlines() if "int8 TFLite" in line))
        | int8 TFLite accuracy | 90.0% | 80.0% | 1.12x / keras_mot |
    """
    lines = ["| measure | keras_mot | tfmot 0.8.1 | ratio / better |", "|---|---|---|---|"]
    for key, label, fmt, direction in ROWS:
        lines.append(
            f"| {label} | {_cell(ours, key, fmt)} | {_cell(peer, key, fmt)} | "
            f"{_verdict(ours, peer, key, direction, paired)} |"
        )
    for name, r in (("keras_mot", ours), ("tfmot", peer)):
        if r is None or "unavailable" in r:
            why = (r or {}).get("unavailable", "did not run")
            lines.append(f"\n{name} side unavailable: {why}")
        elif r.get("float_ops_left_names"):
            lines.append(f"\n{name} float compute ops: {', '.join(r['float_ops_left_names'])}")
    walls = [
        f"{n} {r['wall_s']:.0f} s"
        for n, r in (("keras_mot", ours), ("tfmot", peer))
        if r and r.get("wall_s") is not None
    ]
    if walls:
        lines.append("\nwall time per side (incl. imports): " + ", ".join(walls))
    return "\n".join(lines)


def settings_line(args, results, keys):
    """ "key=value" settings of each side's result (a loaded result keeps its own settings)."""
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
        result = {"side": name, "unavailable": f"exit code {proc.returncode}, no JSON result; see {log_path}"}
    result["wall_s"] = wall
    return result


def _side_args(args):
    out = [
        "--epochs",
        str(args.epochs),
        "--qat-epochs",
        str(args.qat_epochs),
        "--batch-size",
        str(args.batch_size),
        "--seed",
        str(args.seed),
    ]
    if getattr(args, "float_weights", None):
        out += ["--float-weights", args.float_weights]
    return out


def paired_difference(ours, peer, key="int8_acc"):
    """Seed-by-seed `ours[key] - peer[key]` over the seeds where both sides QAT-trained the same
    float model (one trained it, the other loaded it); None when there are fewer than two.

    Returns:
        dict with "mean", "sd", "n" and "verdict" ("keras_mot", "tfmot" or "within noise":
        |mean| below two standard errors).

    Example:
        >>> ours = [{"seed": s, "int8_acc": a, "float_model": "trained"}
        ...         for s, a in ((0, .91), (1, .87))]
        >>> peer = [{"seed": s, "int8_acc": a, "float_model": "loaded"}
        ...         for s, a in ((0, .90), (1, .86))]
        >>> paired_difference(ours, peer)["verdict"]
        'keras_mot'
    """
    ours = [_with_differences(r) for r in ours if r]
    by_seed = {r.get("seed"): _with_differences(r) for r in peer if r and r.get("float_model") == "loaded"}
    diffs = [
        r[key] - by_seed[r["seed"]][key]
        for r in ours
        if r.get("float_model") == "trained"
        and r.get("seed") in by_seed
        and r.get(key) is not None
        and by_seed[r["seed"]].get(key) is not None
    ]
    if len(diffs) < 2:
        return None
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    if abs(mean) < 2.0 * sd / math.sqrt(len(diffs)):
        verdict = "within noise"
    else:
        verdict = "keras_mot" if mean > 0 else "tfmot"
    return {"mean": mean, "sd": sd, "n": len(diffs), "verdict": verdict}


def run_ours(args, log_path):
    """Runs bench/ours/keras_mot_qat.py in this interpreter; returns its JSON dict."""
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    cmd = [sys.executable, os.path.join(BENCH, "ours", "keras_mot_qat.py"), *_side_args(args)]
    if getattr(args, "ours_freeze_bn_at", None) is not None:
        cmd += ["--freeze-bn-at", str(args.ours_freeze_bn_at)]
    return _run_side("keras_mot", cmd, env, log_path)


def peer_python():
    """Creates the peer venv if needed (bench/peer_env.sh) and returns its python path."""
    proc = subprocess.run(
        ["bash", os.path.join(BENCH, "peer_env.sh")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            "bench/peer_env.sh failed to create the peer virtualenv. "
            f"Received: exit code {proc.returncode}, stderr tail: "
            f"{proc.stderr[-800:]!r}. Fix: check network access to PyPI or set "
            "KERAS_MOT_PEER_VENV to an existing venv with tfmot 0.8.1."
        )
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


def _load_results(path, side):
    """Per-seed results of `side` from a saved file: a --json-out file, a list, or one result."""
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict) and side in data:
        data = data[side]
    return list(data) if isinstance(data, list) else [data]


def seeded_sides(args, run_ours, run_peer, stem):
    """Runs (or loads) both sides for seeds args.seed .. args.seed + args.seeds - 1, alternating
    sides per seed; saves the per-seed results with --json-out; returns the two aggregates and
    {row key: paired_difference} for the rows that can be compared seed by seed."""
    ours = _load_results(args.ours_json, "keras_mot") if args.ours_json else []
    peer = _load_results(args.peer_json, "tfmot") if args.peer_json else []
    shared = not getattr(args, "independent_float", True)
    for seed in range(args.seed, args.seed + args.seeds):
        weights = os.path.join(args.log_dir, f"{stem}_float_s{seed}.npz") if shared else None
        if weights and os.path.exists(weights):
            os.remove(weights)  # never a stale float model from an earlier run
        seed_args = argparse.Namespace(**dict(vars(args), seed=seed, float_weights=weights))
        if not args.ours_json:
            ours.append(run_ours(seed_args, os.path.join(args.log_dir, f"{stem}_keras_mot_s{seed}.log")))
        if not args.peer_json:
            peer.append(run_peer(seed_args, os.path.join(args.log_dir, f"{stem}_tfmot_s{seed}.log")))
        if weights and os.path.exists(weights):
            os.remove(weights)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"keras_mot": ours, "tfmot": peer}, f, indent=2, sort_keys=True)
    paired = {key: paired_difference(ours, peer, key) for key in _PAIRED_KEYS}
    return aggregate(ours), aggregate(peer), {k: v for k, v in paired.items() if v}


def _bn_regime(ours):
    """ "; keras_mot BN statistics frozen from QAT step N" when the keras_mot side ran so, else
    "" (live statistics throughout, the library default)."""
    steps = (ours or {}).get("freeze_bn_at")
    return "" if steps is None else f"; keras_mot BN statistics frozen from QAT step {steps}"


_BACKENDS = ("tensorflow", "tensorflow-xla", "jax", "torch")


def backend_step_times(backends, steps, rounds, batch_size, repeats, log_dir):
    """Runs bench/step_time.py once per backend and repeat (the backends take turns, so slow
    drift of the machine touches all of them); returns {backend: [JSON result, ...]}.

    "tensorflow-xla" is the TensorFlow backend with `compile(jit_compile=True)`.
    """
    out = {b: [] for b in backends}
    for rep in range(repeats):
        for b in backends:
            env = dict(os.environ, KERAS_BACKEND=b.split("-")[0])
            env.pop("TF_USE_LEGACY_KERAS", None)
            cmd = [sys.executable, os.path.join(BENCH, "step_time.py"), "--steps", str(steps)]
            cmd += ["--rounds", str(rounds), "--batch-size", str(batch_size)]
            if b.endswith("-xla"):
                cmd.append("--jit-compile")
            out[b].append(_run_side(b, cmd, env, os.path.join(log_dir, f"bench_step_{b}_{rep}.log")))
            print(json.dumps(out[b][-1], sort_keys=True), flush=True)  # kept if the run is cut short
    return out


def format_backend_table(results):
    """Markdown table of `backend_step_times` results: step times are medians over repeats, the
    ratio is the median of every repeat's per-round ratios (each QAT fit over the float fit
    next to it), the range their min-max; "fastest" is the fastest QAT step over the fastest
    float step (median over repeats; the figure least disturbed by other load on the machine);
    the callbacks column is the time per step that the
    QAT callbacks add between steps (not in the ratio, as in bench/qat_protocol.py).

    Example:
        >>> r = {"jax": [{"float_step_s": 0.1, "qat_step_s": 0.12, "round_ratios": [1.2, 1.3, 1.1],
        ...               "ratio_best": 1.15, "qat_callbacks_s": 0.002}]}
        >>> print(format_backend_table(r).splitlines()[2])
        | jax | 100.0 ms | 120.0 ms | 1.20x | 1.10x-1.30x | 1.15x | 2.0 ms | 3 |
    """
    lines = [
        "| backend | float step | QAT step | QAT/float (median) | range over rounds | fastest QAT / "
        "fastest float | QAT callbacks per step | rounds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b, runs in results.items():
        ok = [r for r in runs if "unavailable" not in r]
        if not ok:
            why = runs[0].get("unavailable", "did not run") if runs else "did not run"
            lines.append(f"| {b} | n/a | n/a | n/a | {why} | n/a | n/a | 0 |")
            continue
        f = common.median([r["float_step_s"] for r in ok]) * 1e3
        q = common.median([r["qat_step_s"] for r in ok]) * 1e3
        ratios = [x for r in ok for x in (r["round_ratios"] if "round_ratios" in r else [r["ratio"]])]
        gaps = [r["qat_callbacks_s"] for r in ok if r.get("qat_callbacks_s") is not None]
        gap = f"{common.median(gaps) * 1e3:.1f} ms" if gaps else "n/a"
        best = [r["ratio_best"] for r in ok if "ratio_best" in r]
        best = f"{common.median(best):.2f}x" if best else "n/a"
        lines.append(
            f"| {b} | {f:.1f} ms | {q:.1f} ms | {common.median(ratios):.2f}x | "
            f"{min(ratios):.2f}x-{max(ratios):.2f}x | {best} | {gap} | {len(ratios)} |"
        )
    return "\n".join(lines)


def _backend_main(args):
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    unknown = [b for b in backends if b not in _BACKENDS]
    if unknown:
        raise SystemExit(f"--backend: unknown {unknown}. Choose from {', '.join(_BACKENDS)}.")
    results = backend_step_times(
        backends, args.steps, args.rounds, args.batch_size, args.repeats, args.log_dir
    )
    print(
        "QAT step time per Keras backend (bench/qat.py --backend): MobileNetV2 alpha=0.35, "
        f"32x32x3, batch {args.batch_size}; {args.repeats} repeats x {args.rounds - 1} timed rounds "
        f"x {args.steps} steps, float and QAT fits alternating, steps timed from batch start to end; "
        "backends take turns"
    )
    print(format_backend_table(results))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)


def main(argv=None):
    """Runs both sides and prints the table (and, with --json-out, saves both results)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=qat_protocol.FLOAT_EPOCHS)
    p.add_argument("--qat-epochs", type=int, default=qat_protocol.QAT_EPOCHS)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds per side")
    p.add_argument(
        "--independent-float",
        action="store_true",
        help="each side trains its own float model (default: one shared per seed)",
    )
    p.add_argument(
        "--ours-freeze-bn-at",
        type=int,
        default=None,
        metavar="N",
        help="keras_mot side: freeze folded BatchNormalization statistics from QAT "
        "step N (default: live throughout, the library default)",
    )
    p.add_argument(
        "--backend",
        help="step times only, per Keras backend: a comma list of " + ", ".join(_BACKENDS),
    )
    p.add_argument("--steps", type=int, default=10, help="--backend: steps per round")
    p.add_argument("--rounds", type=int, default=4, help="--backend: rounds per process")
    p.add_argument("--repeats", type=int, default=2, help="--backend: processes per backend")
    add_result_args(p)
    args = p.parse_args(argv)
    if args.backend:
        return _backend_main(args)
    if args.seeds < 1:
        p.error(f"--seeds must be at least 1. Received: {args.seeds}.")
    ours, peer, paired = seeded_sides(args, run_ours, run_peer, "bench_qat")
    print(
        "QAT benchmark (bench/qat.py): MobileNetV2 alpha=0.35, 32x32x3, digits; "
        + settings_line(args, (ours, peer), ("epochs", "qat_epochs", "batch_size", "seed"))
        + (
            "; each side its own float model"
            if args.independent_float
            else "; both sides fine-tune the same float model per seed"
        )
        + _bn_regime(ours)
        + "; cells: mean ± sd over seeds; step-time ratio and time rows: lower is better"
    )
    print(format_table(ours, peer, paired))
    if "int8_acc" in paired:
        d = paired["int8_acc"]
        print(
            f"\nint8 accuracy, keras_mot minus tfmot on the same float model (paired over "
            f"{d['n']} seeds): {d['mean'] * 100:+.1f} ± {d['sd'] * 100:.1f} "
            f"points -> {d['verdict']}"
        )


if __name__ == "__main__":
    main()
