"""The QAT benchmark protocol, shared by both sides so that they measure the same things.

Each side (bench/peer/tfmot_qat.py in the tfmot venv, bench/ours/keras_mot_qat.py in the main
environment) supplies its Keras module and three functions: how to quantize a trained float
model, which callbacks QAT training needs, and how to convert the QAT model to int8 TFLite.
Everything else — data, architecture, optimiser, epochs, timing and TFLite checks — is here.
Like bench/common.py, this module imports neither keras_mot nor a Keras package.

With `--float-weights PATH` both sides start QAT from the same float model: the first side to
run trains it and saves its weights there (.npz with the seed and epochs); the other side loads
them into its own (same-architecture) model. Accuracy rows then differ only by QAT.

Example:
    >>> result = run(keras, tf, Side("tfmot", quantize, callbacks, convert), Args(...))
"""

import argparse
import dataclasses
import os
import time
from typing import Callable

import common
import numpy as np

# Long enough for the float model to converge (about 600 steps, as the README main job), so that
# the accuracy rows measure quantization and not an unfinished float training.
FLOAT_EPOCHS = 30
QAT_EPOCHS = 3
FLOAT_LR = 1e-3
QAT_LR = 1e-4
N_CALIBRATION = 100  # training images: PTQ representative data and keras_mot's range calibration
IMAGE_SIZE = (32, 32)


@dataclasses.dataclass(frozen=True)
class Side:
    """What differs between the two sides of the QAT comparison.

    Attributes:
        name: "keras_mot" or "tfmot".
        quantize: (float_model, x_calibration) -> QAT model (not compiled).
        callbacks: QAT model -> list of callbacks its training needs.
        convert: QAT model -> int8 TFLite bytes with float32 I/O.
        versions: library versions to record.
    """

    name: str
    quantize: Callable
    callbacks: Callable
    convert: Callable
    versions: dict


def parse_args(argv=None, description="", models=None):
    """Command-line arguments shared by both sides (--epochs, --qat-epochs, --batch-size, --seed;
    --model, defaulting to the first of `models`, when `models` is given).

    Example:
        >>> args = parse_args(["--epochs", "1"])
    """
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=FLOAT_EPOCHS, help="float training epochs")
    p.add_argument("--qat-epochs", type=int, default=QAT_EPOCHS, help="QAT fine-tuning epochs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--float-weights",
        default=None,
        help="share the float model: load its weights from this .npz if it exists, "
        "else train it and save them here",
    )
    if models:
        p.add_argument("--model", choices=list(models), default=list(models)[0])
    return p.parse_args(argv)


def save_float_weights(path, model, args):
    """Saves `model.get_weights()` to `path` (.npz) with the seed and float epochs that made it."""
    arrays = {f"w{i:04d}": w for i, w in enumerate(model.get_weights())}
    tmp = path + ".partial.npz"
    np.savez(tmp, seed=args.seed, epochs=args.epochs, **arrays)
    os.replace(tmp, path)


def load_float_weights(path, model, args):
    """Loads weights saved by `save_float_weights` into `model` (the other side's Keras).

    Raises:
        ValueError: when the file was made with another seed or epoch count, or its weight
            shapes do not match `model` (then the two sides' architectures differ).
    """
    with np.load(path) as f:
        made = (int(f["seed"]), int(f["epochs"]))
        weights = [f[k] for k in sorted(k for k in f.files if k.startswith("w"))]
    if made != (args.seed, args.epochs):
        raise ValueError(
            f"{path} holds the float model of seed {made[0]}, {made[1]} epochs; "
            f"this run is seed {args.seed}, {args.epochs} epochs. Fix: delete the "
            "file or pass another --float-weights path."
        )
    want = [tuple(w.shape) for w in model.get_weights()]
    got = [tuple(w.shape) for w in weights]
    if want != got:
        first = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
        raise ValueError(
            f"{path} holds {len(got)} weights, this side's model {len(want)}; they "
            f"first differ at index {first}. Fix: build the same architecture on "
            "both sides."
        )
    model.set_weights(weights)


def _compile(keras, model, lr):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def _accuracy(logits, labels):
    return float(np.mean(common.top1(logits) == labels))


def _fit_timed(keras, model, x, y, epochs, batch_size, callbacks=()):
    timer = common.step_timer(keras)
    t0 = time.perf_counter()
    model.fit(
        x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=[timer, *callbacks]
    )
    return common.median(timer.times), time.perf_counter() - t0, len(timer.times)


def run(keras, tf, side, args):
    """Runs the whole protocol for one side and returns a flat dict of measurements.

    Steps: float training (`args.epochs`, train split; or the shared float model of
    `args.float_weights`), PTQ int8 reference, a copy of the float model trained
    `args.qat_epochs` more in float (reference; its median step time is the float step time,
    so both step times are over the same number of steps at the same rate), `side.quantize`,
    accuracy before fine-tuning, QAT fine-tuning (`args.qat_epochs`), int8 conversion (timed),
    then the int8 model in the interpreter on the held-out images (validation + test splits):
    accuracy, top-1 agreement with the Keras QAT model, max |logit difference|, float compute
    ops left.
    """
    keras.utils.set_random_seed(args.seed)
    x_tr, y_tr = common.load_digits("train", IMAGE_SIZE, channels=3, seed=0)
    # Held out: validation + test (540 images; neither is used for training or calibration),
    # twice the test split alone, which halves the variance of every accuracy row.
    held_out = [common.load_digits(s, IMAGE_SIZE, channels=3, seed=0) for s in ("validation", "test")]
    x_te = np.concatenate([x for x, _ in held_out])
    y_te = np.concatenate([y for _, y in held_out])
    x_cal = x_tr[:N_CALIBRATION]
    r = {
        "side": side.name,
        "versions": side.versions,
        "epochs": args.epochs,
        "qat_epochs": args.qat_epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "n_train": int(len(x_tr)),
        "n_test": int(len(x_te)),
    }

    model = common.build_mobilenetv2(keras, IMAGE_SIZE + (3,), classes=10)
    shared = getattr(args, "float_weights", None)
    if shared and os.path.exists(shared):
        load_float_weights(shared, model, args)
        r["float_model"] = "loaded"
    else:
        _compile(keras, model, FLOAT_LR)
        t0 = time.perf_counter()
        model.fit(x_tr, y_tr, epochs=args.epochs, batch_size=args.batch_size, shuffle=True, verbose=0)
        r["float_fit_s"] = time.perf_counter() - t0
        r["float_model"] = "trained"
        if shared:
            save_float_weights(shared, model, args)
    r["float_acc"] = _accuracy(model.predict(x_te, verbose=0), y_te)

    ptq_bytes, r["ptq_conversion_s"] = common.ptq_int8(tf, model, x_cal)
    r["ptq_int8_acc"] = _accuracy(common.run_tflite(ptq_bytes, x_te), y_te)

    # The float model trained as long as QAT trains (same epochs, learning rate): what the
    # extra epochs alone give, so that QAT is not credited with them.
    continued = keras.models.clone_model(model)
    continued.set_weights(model.get_weights())
    _compile(keras, continued, QAT_LR)
    r["float_step_s"], _, r["float_steps_timed"] = _fit_timed(
        keras, continued, x_tr, y_tr, args.qat_epochs, args.batch_size
    )
    r["float_continued_acc"] = _accuracy(continued.predict(x_te, verbose=0), y_te)
    del continued

    t0 = time.perf_counter()
    qmodel = side.quantize(model, x_cal)
    r["quantize_s"] = time.perf_counter() - t0
    _compile(keras, qmodel, QAT_LR)
    r["qat_acc_before_finetune"] = _accuracy(qmodel.predict(x_te, verbose=0), y_te)
    r["qat_step_s"], r["qat_fit_s"], r["qat_steps_timed"] = _fit_timed(
        keras, qmodel, x_tr, y_tr, args.qat_epochs, args.batch_size, side.callbacks(qmodel)
    )
    r["step_time_ratio"] = r["qat_step_s"] / r["float_step_s"]
    keras_logits = qmodel.predict(x_te, verbose=0)
    r["qat_keras_acc"] = _accuracy(keras_logits, y_te)

    t0 = time.perf_counter()
    int8_bytes = side.convert(qmodel)
    r["conversion_s"] = time.perf_counter() - t0
    tfl_logits = common.run_tflite(int8_bytes, x_te)
    r["int8_acc"] = _accuracy(tfl_logits, y_te)
    r["agreement"] = float(np.mean(common.top1(tfl_logits) == common.top1(keras_logits)))
    r["max_logit_diff"] = float(np.max(np.abs(tfl_logits - keras_logits)))
    left = common.float_compute_ops(int8_bytes)
    r["float_ops_left"] = len(left)
    r["float_ops_left_names"] = sorted(set(left))
    r["int8_tflite_bytes"] = len(int8_bytes)
    return r
