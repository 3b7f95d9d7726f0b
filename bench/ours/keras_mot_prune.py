"""keras_mot side of bench/sparse.py: target-aware magnitude pruning on Keras 3.

Same models, data, optimiser, epochs, schedule shape and measurements as
bench/peer/tfmot_prune.py (protocol: bench/sparse_protocol.py); only the pruning API differs:

    pmodel = mot.prune(model, target="tflite_sparse_fc", schedule=..., exclude=[...])
    pmodel.fit(..., callbacks=mot.callbacks(pmodel))
    tflite_bytes = to_tflite(pmodel, target="tflite_sparse_fc")   # strip + EXPERIMENTAL_SPARSITY

(a) MLP 64->512->[2048->2048->512]->10, the bracketed Dense layers pruned to 90 % with target
    `tflite_sparse_fc` (the target picks Block(4, 1): TFLite's "1x4" FULLY_CONNECTED block).
(b) MobileNet-style net (ZeroPadding2D stem) pruned to 80 % with target `xnnpack_sparse` (the
    target picks the 1x1 convolutions), plus the structural XNNPack sparse-cluster report of the
    exported flatbuffer, and what keras_mot says about keras.applications MobileNetV2.

Prints one JSON object on the last line of stdout (schema in bench/sparse.py).

Usage:
    python bench/ours/keras_mot_prune.py --epochs 10 --prune-epochs 10
"""

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402
import numpy as np  # noqa: E402
import sparse_protocol as sp  # noqa: E402

NO_SPEED_CLAIM = (
    "no speed claim on x86: XNNPack's sparse NCHW path is disabled on x86 CPUs "
    "with AVX; the latency is for the record only, the cluster report is the "
    "evidence."
)


def _compile(keras, model, lr=1e-3):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **({"lint": "off"} if hasattr(model, "mot_target") else {}),
    )


def _acc(model, x, y):
    return float(np.mean(common.top1(model.predict(x, verbose=0)) == y))


def _schedule(mot, final, args, n_train):
    """The peer's schedule: 0 -> final over the first 70 % of the fine-tuning steps."""
    steps = math.ceil(n_train / args.batch_size) * args.prune_epochs
    return mot.PolynomialDecay(
        0.0, final, begin_step=0, end_step=int(steps * 0.7), frequency=max(1, steps // 20)
    )


def _dense(keras, tf, model, x_tr, y_tr, x_te, y_te, args):
    _compile(keras, model)
    model.fit(x_tr, y_tr, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    data, secs = sp.convert_float(tf, model, sparsity=False)
    m = sp.measure(data, x_te, y_te)
    m.pop("flatbuffer")
    return dict(m, keras_acc=_acc(model, x_te, y_te), conversion_s=secs)


def _prune_and_measure(ctx, model, target, final, exclude, data_split, args):
    keras, mot, to_tflite = ctx
    x_tr, y_tr, x_te, y_te = data_split
    pmodel = mot.prune(model, target=target, schedule=_schedule(mot, final, args, len(x_tr)), exclude=exclude)
    _compile(keras, pmodel, lr=3e-4)
    pmodel.fit(
        x_tr,
        y_tr,
        epochs=args.prune_epochs,
        batch_size=args.batch_size,
        verbose=0,
        callbacks=mot.callbacks(pmodel),
    )
    t0 = time.perf_counter()
    tflite_bytes = to_tflite(pmodel, target=target)
    secs = time.perf_counter() - t0
    stripped = mot.strip(pmodel)
    from keras_mot.callbacks import wrappers

    pruned = [w.name for w in wrappers(pmodel) if w.prune is not None]
    m = dict(
        sp.measure(tflite_bytes, x_te, y_te),
        conversion_s=secs,
        target=target,
        keras_acc=_acc(stripped, x_te, y_te),
        sparsity=sp.kernel_sparsity(stripped, pruned),
        plain_layers_after_strip=all(
            type(stripped.get_layer(n)).__module__.startswith("keras.") for n in pruned
        ),
    )
    return m, tflite_bytes, stripped, pruned


def run_mlp(ctx, tf, args):
    """Part (a): dense MLP, then 90 % pruning for `tflite_sparse_fc`."""
    keras, mot, _ = ctx
    from keras_mot.export.sparse_check import verify

    split = sp.mlp_data()
    keras.utils.set_random_seed(args.seed)
    dense = sp.build_mlp(keras)
    out = {"dense": _dense(keras, tf, dense, *split, args)}
    weights = dense.get_weights()
    keras.utils.set_random_seed(args.seed)
    base = sp.build_mlp(keras)
    base.set_weights(weights)
    exclude = [layer.name for layer in base.layers if layer.name not in sp.MLP_PRUNED]
    m, data, stripped, pruned = _prune_and_measure(
        ctx, base, "tflite_sparse_fc", sp.MLP_SPARSITY, exclude, split, args
    )
    kernels = {n: np.asarray(stripped.get_layer(n).kernel) for n in pruned}
    m["exact_4x1_blocks"] = {n: sp.block_exact(k, (4, 1)) for n, k in kernels.items()}
    m["verify"] = [
        f"{f.severity} {f.code}: {f.message}"
        for f in verify(data, "tflite_sparse_fc")
        if any(f"/{n}" in f.layer for n in pruned)
    ]  # the excluded layers are dense
    out["tflite_sparse_fc"] = m
    return out


def run_cnn(ctx, tf, args):
    """Part (b): MobileNet-style net pruned for `xnnpack_sparse`, with the cluster report."""
    keras, mot, _ = ctx
    from keras_mot.export.xnnpack_check import check_cluster
    from keras_mot.lint.pruning_checks import pruning_check

    out = {}
    mnv2 = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10, classifier_activation=None
    )
    pm = mot.prune(mnv2, target="xnnpack_sparse", schedule=mot.ConstantSparsity(0.8, 0))
    stem = [f for f in pruning_check(pm, mot.targets.get("xnnpack_sparse")) if f.code == "xnn-same-stem"]
    out["mobilenetv2_policy"] = (
        f"accepted ({sum(1 for w in pm.layers if isinstance(w, mot.Wrapper))} 1x1 convs "
        "pruned); lint: "
        + ("; ".join(f"{f.layer}: {f.code} (fix: {f.fix[:70]}...)" for f in stem) or "no stem finding")
    )

    split = sp.cnn_data()
    keras.utils.set_random_seed(args.seed)
    model = sp.build_mobilenet_xnnpack(keras)
    out["dense"] = _dense(keras, tf, model, *split, args)
    m, data, _, _ = _prune_and_measure(ctx, model, "xnnpack_sparse", sp.CNN_SPARSITY, None, split, args)
    m["xnnpack_cluster"] = [
        {"code": f.code, "ok": f.severity == "info", "message": f.message} for f in check_cluster(data)
    ]
    m["note"] = NO_SPEED_CLAIM
    out["pruned"] = m
    return out


def main(argv=None):
    """Runs the requested parts and prints the JSON result."""
    args = sp.parse_args(argv, __doc__.splitlines()[0])
    import keras
    import tensorflow as tf

    import keras_mot as mot
    from keras_mot.export.convert import to_tflite

    ctx = (keras, mot, to_tflite)
    runners = {"mlp": run_mlp, "cnn": run_cnn}
    result = {
        "side": "keras_mot",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "keras_mot": mot.__version__},
        "epochs": args.epochs,
        "prune_epochs": args.prune_epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    for part in args.parts.split(","):
        if part not in runners:
            raise SystemExit(f"Unknown part. Received: {part!r}. Use mlp and/or cnn.")
        result[part] = runners[part](ctx, tf, args)
    common.emit(result)


if __name__ == "__main__":
    main()
