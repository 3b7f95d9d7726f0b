"""KerasHub model zoo, trained as a user would: float -> quantize -> QAT -> int8 (and int16x8) export.

For each KerasHub backbone of `tests/hub/models.py` (built offline from constructor arguments,
random init, small sizes) with a small classifier head:
1. float training (Adam) on the embedded digits at 32x32 (image models) or on a generated token
   task (text models: the label is the class whose key token occurs most often, with distractor
   keys; `keras_mot.garden.data.make_text_task`; 10 % of the labels flipped so that float
   accuracy stays below 100 %), BatchNormalization momentum 0.9;
2. `mot.quantize(calibration_data=128 training examples)`, a lint of the prepared model
   (verdict, QAT coverage), QAT fine-tuning with `mot.callbacks`;
3. `mot.export(target="tflite_int8", representative_data=(test inputs, labels))`: float compute
   ops left, TFLite-vs-Keras top-1 agreement, int8 (LiteRT) accuracy; text models also export
   `tflite_int16x8` from the same QAT model (PTQ int16x8 of the QAT weights).

Prints a markdown table (one row per model) and, with `--json-out`, the per-model results.

Usage:
    python bench/keras_hub_acceptance.py                       # all models (~15 min on 2 cores)
    python bench/keras_hub_acceptance.py --models vit bert --float-epochs 5 --qat-epochs 1
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH))

import keras  # noqa: E402

import keras_mot as mot  # noqa: E402
from keras_mot.garden.data import make_text_task  # noqa: E402
from keras_mot.garden.digits import load_digits  # noqa: E402
from tests.hub import models as zoo  # noqa: E402

TEXT_CLASSES, SEQ_LEN, VOCAB, LABEL_NOISE = 4, 16, 50, 0.1


def _text_split(n, seed, model):
    tokens, labels = make_text_task(n, SEQ_LEN, VOCAB, TEXT_CLASSES, seed=seed)
    # Flip LABEL_NOISE of the labels (train and test): the best reachable accuracy is then about
    # 1 - LABEL_NOISE * (C - 1) / C, so float accuracy is not 100 % and int8 losses show.
    rng = np.random.default_rng(100 + seed)
    flip = rng.random(n) < LABEL_NOISE
    labels = np.where(flip, (labels + rng.integers(1, TEXT_CLASSES, n)) % TEXT_CLASSES, labels)
    x = {}
    for key in model.input:
        if key == "token_ids":
            x[key] = tokens
        elif key == "padding_mask":
            x[key] = np.ones_like(tokens)
        else:  # segment_ids
            x[key] = np.zeros_like(tokens)
    return x, labels


def data_for(model):
    """((x_train, y_train), (x_test, y_test)) in the structure the model takes."""
    if isinstance(model.input, dict):
        return _text_split(3000, 0, model), _text_split(512, 1, model)  # parity reads 512
    return (
        load_digits("train", image_size=(32, 32), channels=3),
        load_digits("test", image_size=(32, 32), channels=3),
    )


def _loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # the head emits logits


def _take(x, n):
    return {k: v[:n] for k, v in x.items()} if isinstance(x, dict) else x[:n]


def _lower_bn_momentum(model, momentum=0.9):
    for layer in model._flatten_layers():  # noqa: SLF001  (every nested sublayer)
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def run_one(name, float_epochs, qat_epochs, workdir):
    keras.utils.set_random_seed(0)
    t0 = time.time()
    model = zoo.with_head(zoo.ALL[name](), classes=TEXT_CLASSES if name in zoo.TEXT else 10)
    _lower_bn_momentum(model)
    (x, y), (xt, yt) = data_for(model)
    lr = 1e-3 if name in zoo.TEXT else 2e-3
    model.compile(keras.optimizers.Adam(lr), loss=_loss(), metrics=["accuracy"])
    model.fit(x, y, epochs=float_epochs, batch_size=32, verbose=0)
    float_acc = float(model.evaluate(xt, yt, verbose=0)[1])

    q = mot.quantize(model, calibration_data=_take(x, 128))
    lint = mot.lint(q, target="tflite_int8")
    q.compile(keras.optimizers.Adam(lr / 10), loss=_loss(), metrics=["accuracy"])
    q.fit(x, y, epochs=qat_epochs, batch_size=32, verbose=0, callbacks=mot.callbacks(q))
    res = mot.export(q, os.path.join(workdir, name), representative_data=(xt, yt), formats=("tflite",))
    row = dict(
        model=name,
        float_acc=float_acc,
        qat_keras_acc=res.parity.keras_accuracy,
        int8_acc=res.parity.tflite_accuracy,
        agreement=res.parity.agreement,
        float_ops=len(res.float_compute_ops or []),
        lint=lint.verdict,
        coverage=lint.coverage,
        size_kb=res.sizes["tflite"]["raw"] / 1024,
    )
    if name in zoo.TEXT:
        r16 = mot.export(
            q,
            os.path.join(workdir, name + "_16x8"),
            target="tflite_int16x8",
            representative_data=(xt, yt),
            formats=("tflite",),
        )
        row.update(
            int16x8_acc=r16.parity.tflite_accuracy,
            int16x8_agreement=r16.parity.agreement,
            int16x8_float_ops=len(r16.float_compute_ops or []),
        )
    row["wall_s"] = time.time() - t0
    return row


def _pct(v):
    return "-" if v is None else f"{v:.1%}"


def table(rows):
    head = (
        "| model | float acc | int8 acc (LiteRT) | int8 - float | TFLite-vs-Keras agreement | "
        "float ops | lint | QAT coverage | int16x8 acc / agreement | wall s |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        i16 = (
            f"{_pct(r['int16x8_acc'])} / {_pct(r['int16x8_agreement'])}"
            f"{'' if not r['int16x8_float_ops'] else ' (%d float ops)' % r['int16x8_float_ops']}"
            if "int16x8_acc" in r
            else "-"
        )
        lines.append(
            f"| {r['model']} | {_pct(r['float_acc'])} | {_pct(r['int8_acc'])} | "
            f"{(r['int8_acc'] - r['float_acc']) * 100:+.1f} pt | {_pct(r['agreement'])} | "
            f"{r['float_ops']} | {r['lint']} | {_pct(r['coverage'])} | {i16} | {r['wall_s']:.0f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=list(zoo.ALL), choices=list(zoo.ALL))
    p.add_argument("--float-epochs", type=int, default=10)
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--json-out")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models:
            rows.append(run_one(name, args.float_epochs, args.qat_epochs, workdir))
            print(json.dumps(rows[-1]), flush=True)
    print(
        f"\nKerasHub zoo: {args.float_epochs} float + {args.qat_epochs} QAT epochs, batch 32, "
        f"Keras {keras.__version__}, backend {keras.backend.backend()}\n"
    )
    print(table(rows))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
