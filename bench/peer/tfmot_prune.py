"""Peer side of bench/sparse.py: tensorflow-model-optimization 0.8.1 magnitude pruning.

Runs ONLY inside the peer virtualenv made by bench/peer_env.sh (TF_USE_LEGACY_KERAS=1); never
imports keras_mot. Models, data and measurements come from bench/sparse_protocol.py.

(a) MLP 64->512->[2048->2048->512]->10 on digits, the bracketed Dense layers pruned to 90 % with
    `prune_low_magnitude(block_size=...)` twice:
    - `block_size=(1, 4)`, what tfmot users write for TFLite's "1x4" sparse FULLY_CONNECTED;
      tfmot blocks the Keras kernel (in, out), TFLite stores (out, in), so these are 4 *output*
      channels and the converter falls back to random-sparse + DENSIFY;
    - `block_size=(4, 1)`, 4 consecutive *input* channels: TFLite's 1x4 block.
(b) keras.applications MobileNetV2 with `PruneForLatencyOnXNNPack` (the refusal is recorded),
    then a MobileNet-style net with a ZeroPadding2D(1) + "valid" stem, pruned to 80 % with it.

For each: sparsity reached, block exactness, Keras and TFLite accuracy, gzip size of the float
.tflite (Optimize.EXPERIMENTAL_SPARSITY), 1-thread latency (median of 200 invokes) and what the
flatbuffer stores. Prints one JSON object on the last line of stdout.

Usage:
    TF_USE_LEGACY_KERAS=1 $(bash bench/peer_env.sh) bench/peer/tfmot_prune.py --epochs 10
"""

import math
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402
import numpy as np  # noqa: E402
import sparse_protocol as sp  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras as keras  # noqa: E402

sparsity = tfmot.sparsity.keras


def _compile(model, lr=1e-3):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def _acc(model, x, y):
    return float(np.mean(common.top1(model.predict(x, verbose=0)) == y))


def _schedule(final, args, n_train):
    steps = math.ceil(n_train / args.batch_size) * args.prune_epochs
    return sparsity.PolynomialDecay(
        0.0, final, begin_step=0, end_step=int(steps * 0.7), frequency=max(1, steps // 20)
    )


def _fine_tune(model, x, y, args):
    _compile(model, lr=3e-4)
    model.fit(
        x,
        y,
        epochs=args.prune_epochs,
        batch_size=args.batch_size,
        verbose=0,
        callbacks=[sparsity.UpdatePruningStep()],
    )
    return sparsity.strip_pruning(model)


def _dense_reference(model, x_te, y_te):
    data, secs = sp.convert_float(tf, model, sparsity=False)
    m = sp.measure(data, x_te, y_te)
    m.pop("flatbuffer")
    return dict(m, keras_acc=_acc(model, x_te, y_te), conversion_s=secs)


def run_mlp(args):
    """Part (a): dense MLP, then 90 % block pruning in both block orientations."""
    x_tr, y_tr, x_te, y_te = sp.mlp_data()
    keras.utils.set_random_seed(args.seed)
    dense = sp.build_mlp(keras)
    _compile(dense)
    dense.fit(x_tr, y_tr, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    out = {"dense": _dense_reference(dense, x_te, y_te)}
    weights = dense.get_weights()
    for label, block in (("block_size_1x4_as_users_write", (1, 4)), ("block_size_4x1_tflite_1x4", (4, 1))):
        keras.utils.set_random_seed(args.seed)
        base = sp.build_mlp(keras)
        base.set_weights(weights)

        def wrap(layer, block=block):
            if layer.name not in sp.MLP_PRUNED:
                return layer
            return sparsity.prune_low_magnitude(
                layer,
                pruning_schedule=_schedule(sp.MLP_SPARSITY, args, len(x_tr)),
                block_size=block,
                block_pooling_type="AVG",
            )

        pruned = keras.models.clone_model(base, clone_function=wrap)
        stripped = _fine_tune(pruned, x_tr, y_tr, args)
        data, secs = sp.convert_float(tf, stripped)
        kernels = {n: np.asarray(stripped.get_layer(n).kernel) for n in sp.MLP_PRUNED}
        out[label] = dict(
            sp.measure(data, x_te, y_te),
            block_size=list(block),
            conversion_s=secs,
            keras_acc=_acc(stripped, x_te, y_te),
            sparsity=sp.kernel_sparsity(stripped, sp.MLP_PRUNED),
            exact_4x1_blocks={n: sp.block_exact(k, (4, 1)) for n, k in kernels.items()},
            exact_1x4_blocks={n: sp.block_exact(k, (1, 4)) for n, k in kernels.items()},
        )
    return out


def run_cnn(args):
    """Part (b): PruneForLatencyOnXNNPack on MobileNetV2 (refused) and on an XNNPack-shaped net."""
    out = {}
    mnv2 = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10, classifier_activation=None
    )
    try:
        sparsity.prune_low_magnitude(
            mnv2,
            pruning_policy=sparsity.PruneForLatencyOnXNNPack(),
            pruning_schedule=sparsity.ConstantSparsity(0.8, 0),
        )
        out["mobilenetv2_policy"] = "accepted"
    except ValueError as e:
        out["mobilenetv2_policy"] = f"refused: {e}"

    x_tr, y_tr, x_te, y_te = sp.cnn_data()
    keras.utils.set_random_seed(args.seed)
    model = sp.build_mobilenet_xnnpack(keras)
    _compile(model)
    model.fit(x_tr, y_tr, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    out["dense"] = _dense_reference(model, x_te, y_te)
    pruned = sparsity.prune_low_magnitude(
        model,
        pruning_policy=sparsity.PruneForLatencyOnXNNPack(),
        pruning_schedule=_schedule(sp.CNN_SPARSITY, args, len(x_tr)),
    )
    stripped = _fine_tune(pruned, x_tr, y_tr, args)
    data, secs = sp.convert_float(tf, stripped)
    pointwise = [
        lay.name
        for lay in stripped.layers
        if lay.name.startswith("pw") and isinstance(lay, keras.layers.Conv2D)
    ]
    sps = sp.kernel_sparsity(stripped, pointwise)
    out["pruned"] = dict(
        sp.measure(data, x_te, y_te),
        conversion_s=secs,
        keras_acc=_acc(stripped, x_te, y_te),
        sparsity=sps,
        all_kernels_sparsity=sp.kernel_sparsity(stripped),
        note="XNNPack's sparse NCHW path is disabled on x86 CPUs with AVX: no speedup "
        "is expected on this machine; the latency is for the record only.",
    )
    return out


def main(argv=None):
    """Runs the requested parts and prints the JSON result."""
    args = sp.parse_args(argv, __doc__.splitlines()[0])
    runners = {"mlp": run_mlp, "cnn": run_cnn}
    result = {
        "side": "tfmot",
        "versions": {
            "tensorflow": tf.__version__,
            "tf_keras": keras.__version__,
            "tensorflow_model_optimization": str(tfmot.__version__),
        },
        "epochs": args.epochs,
        "prune_epochs": args.prune_epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    for part in args.parts.split(","):
        if part not in runners:
            raise SystemExit(f"Unknown part. Received: {part!r}. Use mlp and/or cnn.")
        result[part] = runners[part](args)
    common.emit(result)


if __name__ == "__main__":
    main()
