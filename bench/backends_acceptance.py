"""The same QAT recipe on the bench MobileNetV2 under each Keras backend, exported through TensorFlow.

For each backend (`tensorflow`, `jax`, `torch`; each in its own process with `KERAS_BACKEND` set)
one child process trains the bench model (MobileNetV2 alpha 0.35, 32x32x3, BatchNormalization
momentum 0.9 for short runs; bench/common.py) on the embedded digits: float training, then
`mot.quantize` + `mot.callbacks` QAT fine-tuning. Every backend starts from the SAME initial
weights (made once, saved to `.npz`, loaded with `set_weights`) and sees the same batches in the
same order (epochs permuted with numpy, `fit(shuffle=False)`), so the runs differ only by the
backends' numerics. The child saves the QAT model as `.keras` and exports it with
`mot.export(..., target="tflite_int8")` (on JAX / PyTorch this converts a TensorFlow-backend copy
in a subprocess, `keras_mot.tf_bridge`), and writes its Keras logits on the held-out images.

This process then runs each `.tflite` in LiteRT on the held-out images (validation + test splits,
540 images) and prints one table: float accuracy, QAT Keras accuracy, int8 TFLite accuracy,
TFLite-vs-Keras top-1 agreement, float compute ops left in the int8 model, max |logit difference|,
and the spread of int8 accuracy across backends. Acceptance: agreement >= 99.5 % per backend, no
float compute op, int8 accuracy within 1 point across backends (exit status 1 otherwise).

Nothing here is timed (no lock needed).

Example:
    python bench/backends_acceptance.py                        # all three backends
    python bench/backends_acceptance.py --backends jax --epochs 1 --qat-epochs 1
    python bench/backends_acceptance.py --out runs/acc --resume   # finish an interrupted run
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import common  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")
IMAGE_SIZE = (32, 32)
N_CALIBRATION = 100
MIN_AGREEMENT = 0.995
MAX_SPREAD = 0.01


def _data():
    x_tr, y_tr = common.load_digits("train", IMAGE_SIZE, channels=3, seed=0)
    held_out = [common.load_digits(s, IMAGE_SIZE, channels=3, seed=0) for s in ("validation", "test")]
    x_te = np.concatenate([x for x, _ in held_out])
    y_te = np.concatenate([y for _, y in held_out])
    return x_tr, y_tr, x_te, y_te


def _epochs(x, y, epochs, seed):
    """`epochs` permutations of (x, y) back to back (the same on every backend)."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(y)) for _ in range(epochs)])
    return x[order], y[order]


def _compile(keras, model, lr):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def child_init(args):
    """Builds the bench model once and saves its initial weights (shared by every backend)."""
    import keras

    keras.utils.set_random_seed(args.seed)
    model = common.build_mobilenetv2(keras, IMAGE_SIZE + (3,), classes=10, bn_momentum=args.bn_momentum)
    np.savez(args.init, *model.get_weights())


def child_train(args):
    """Float training, QAT, `.keras` save and `mot.export` on this process's backend."""
    import keras

    import keras_mot as mot

    keras.utils.set_random_seed(args.seed)
    x_tr, y_tr, x_te, y_te = _data()
    model = common.build_mobilenetv2(keras, IMAGE_SIZE + (3,), classes=10, bn_momentum=args.bn_momentum)
    with np.load(args.init) as f:
        model.set_weights([f[f"arr_{i}"] for i in range(len(f.files))])
    _compile(keras, model, args.lr)
    x_ep, y_ep = _epochs(x_tr, y_tr, args.epochs, args.seed)
    model.fit(x_ep, y_ep, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0)
    float_acc = float(np.mean(common.top1(model.predict(x_te, verbose=0)) == y_te))

    qmodel = mot.quantize(model, target="tflite_int8", calibration_data=x_tr[:N_CALIBRATION])
    _compile(keras, qmodel, args.qat_lr)
    x_ep, y_ep = _epochs(x_tr, y_tr, args.qat_epochs, args.seed + 1)
    qmodel.fit(
        x_ep,
        y_ep,
        batch_size=args.batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=list(mot.callbacks(qmodel)),
    )
    logits = np.asarray(qmodel.predict(x_te, verbose=0))
    os.makedirs(args.out, exist_ok=True)
    qmodel.save(os.path.join(args.out, "qat.keras"))
    np.save(os.path.join(args.out, "keras_logits.npy"), logits)
    result = mot.export(
        qmodel,
        os.path.join(args.out, "export"),
        target="tflite_int8",
        representative_data=(x_te, y_te),
        calibration_data=x_tr[:N_CALIBRATION],
        formats=("tflite",),
        max_examples=None,
        plot=False,
    )
    child = {
        "backend": keras.backend.backend(),
        "float_acc": float_acc,
        "qat_keras_acc": float(np.mean(common.top1(logits) == y_te)),
        "tflite": result.tflite_path,
        "export_ok": bool(result.ok),
        "export_agreement": result.parity.agreement,
        "verdict": result.verdict,
    }
    with open(os.path.join(args.out, "result.json"), "w", encoding="utf-8") as f:
        json.dump(child, f)
    common.emit(child)


def _child(mode, backend, args, out=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--init", args.init]
    cmd += ["--epochs", str(args.epochs), "--qat-epochs", str(args.qat_epochs)]
    cmd += ["--batch-size", str(args.batch_size), "--seed", str(args.seed)]
    cmd += ["--lr", str(args.lr), "--qat-lr", str(args.qat_lr), "--bn-momentum", str(args.bn_momentum)]
    if out:
        cmd += ["--out", out]
    env = dict(os.environ, KERAS_BACKEND=backend)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.dirname(HERE), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} on {backend} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return common.parse_last_json(proc.stdout) if mode == "train" else None


def measure(child, x_te, y_te):
    """LiteRT run of one backend's `.tflite` against its Keras logits."""
    with open(child["tflite"], "rb") as f:
        data = f.read()
    keras_logits = np.load(
        os.path.join(os.path.dirname(os.path.dirname(child["tflite"])), "keras_logits.npy")
    )
    tfl = common.run_tflite(data, x_te)
    return dict(
        child,
        int8_acc=float(np.mean(common.top1(tfl) == y_te)),
        agreement=float(np.mean(common.top1(tfl) == common.top1(keras_logits))),
        max_logit_diff=float(np.max(np.abs(tfl - keras_logits))),
        float_ops=common.float_compute_ops(data),
    )


def format_table(rows):
    """The Markdown table, the spread line and the verdict; returns (text, passed)."""
    lines = [
        "| backend | float acc | QAT Keras acc | int8 TFLite acc | TFLite vs Keras agreement "
        "| float ops in int8 model | max logit diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['float_acc']:.2%} | {r['qat_keras_acc']:.2%} | {r['int8_acc']:.2%} "
            f"| {r['agreement']:.2%} | {len(r['float_ops'])} | {r['max_logit_diff']:.4f} |"
        )
    accs = [r["int8_acc"] for r in rows]
    spread = max(accs) - min(accs)
    passed = (
        all(r["agreement"] >= MIN_AGREEMENT and not r["float_ops"] for r in rows) and spread <= MAX_SPREAD
    )
    lines.append("")
    lines.append(
        f"int8 accuracy spread across backends: {spread * 100:.2f} pt (max {MAX_SPREAD * 100:.0f} pt)"
    )
    lines.append(
        f"acceptance (agreement >= {MIN_AGREEMENT:.1%}, no float op, spread <= {MAX_SPREAD * 100:.0f} pt): "
        + ("PASS" if passed else "FAIL")
    )
    return "\n".join(lines), passed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", default=",".join(BACKENDS))
    p.add_argument("--epochs", type=int, default=10, help="float training epochs")
    p.add_argument("--qat-epochs", type=int, default=2, help="QAT fine-tuning epochs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--qat-lr", type=float, default=1e-4)
    p.add_argument("--bn-momentum", type=float, default=0.9)
    p.add_argument("--out", default=None, help="output directory (default: a temporary one)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse the initial weights and each backend's result already in --out (same settings)",
    )
    p.add_argument("--child", choices=("init", "train"), help=argparse.SUPPRESS)
    p.add_argument("--init", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child == "init":
        return child_init(args)
    if args.child == "train":
        return child_train(args)

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        p.error(f"unknown backend(s) {unknown}; use some of {','.join(BACKENDS)}")
    out = args.out or tempfile.mkdtemp(prefix="backends_acceptance_")
    os.makedirs(out, exist_ok=True)
    args.init = os.path.join(out, "init_weights.npz")
    if not (args.resume and os.path.exists(args.init)):
        _child("init", "tensorflow", args)
    _, _, x_te, y_te = _data()
    rows = []
    for backend in backends:
        done = os.path.join(out, backend, "result.json")
        if args.resume and os.path.exists(done):
            with open(done, encoding="utf-8") as f:
                child = json.load(f)
        else:
            child = _child("train", backend, args, out=os.path.join(out, backend))
        rows.append(measure(child, x_te, y_te))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "tflite"}), flush=True)
    print(
        f"\nSame QAT recipe per Keras backend (bench/backends_acceptance.py): MobileNetV2 alpha=0.35, "
        f"32x32x3, BN momentum {args.bn_momentum}, digits; {args.epochs} float + {args.qat_epochs} QAT "
        f"epochs, batch {args.batch_size}, seed {args.seed}; held-out {len(y_te)} images; "
        "exported with mot.export(target='tflite_int8'), run in LiteRT.\n"
    )
    table, passed = format_table(rows)
    print(table)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
