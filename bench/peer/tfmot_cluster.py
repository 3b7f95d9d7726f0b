"""Peer side of bench/compression.py: tfmot 0.8.1 plain QAT and the PCQAT cascade on tf_keras.

Runs ONLY inside the peer virtualenv (bench/peer_env.sh; tfmot needs legacy Keras). Never imports
keras_mot. Loads the shared float model (--model: bench/compression_models.py, MobileNetV2 alpha
0.35 by default) from --float-weights, then:
- plain QAT: `quantize_model`, --qat-epochs;
- cascade: `prune_low_magnitude` (PolynomialDecay to 50 % over half the stage) -> `strip_pruning`
  -> `cluster_weights(16, KMEANS_PLUS_PLUS, preserve_sparsity=True)` -> `strip_clustering` ->
  `quantize_apply` with `Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)`
  (PCQAT), --qat-epochs per stage;
each converted with `Optimize.DEFAULT` and measured in the interpreter.

Prints one JSON object on the last line of stdout.
"""

import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402
import compression_models  # noqa: E402
import numpy as np  # noqa: E402
import qat_protocol  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
import tf_keras as keras  # noqa: E402

SPARSITY, CLUSTERS = 0.5, 16


def _fit(model, x, y, epochs, batch_size, callbacks=()):
    model.compile(
        optimizer=keras.optimizers.Adam(qat_protocol.QAT_LR),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=list(callbacks))


def _measure(model, x_te, y_te):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    tflite = conv.convert()
    acc = float(np.mean(common.top1(common.run_tflite(tflite, x_te)) == y_te))
    return {
        "int8_acc": acc,
        "gzip": common.gzip_size(tflite),
        "raw": len(tflite),
        "max_distinct": _max_distinct(tflite),
        "latency_ms": common.latency_ms(tflite, x_te[:1], num_threads=1, runs=100),
    }


def _max_distinct(tflite):
    """Largest number of distinct values among int8 weight tensors with 1000+ entries."""
    interp = tf.lite.Interpreter(model_content=tflite)
    best = 0
    for d in interp.get_tensor_details():
        if d["dtype"] == np.int8 and int(np.prod(d["shape"])) >= 1000:
            try:
                best = max(best, int(np.unique(interp.get_tensor(d["index"])).size))
            except ValueError:
                continue
    return best


def main(argv=None):
    """Runs both tfmot arms and prints the JSON result."""
    args = qat_protocol.parse_args(argv, __doc__.splitlines()[0], models=compression_models.MODELS)
    keras.utils.set_random_seed(args.seed)
    spec = compression_models.MODELS[args.model]
    x_tr, y_tr, x_te, y_te = spec.data()
    model = spec.build(keras)
    qat_protocol.load_float_weights(args.float_weights, model, args)
    out = {"side": "tfmot", "versions": {"tensorflow": tf.__version__, "tfmot": str(tfmot.__version__)}}

    plain = tfmot.quantization.keras.quantize_model(model)
    _fit(plain, x_tr, y_tr, args.qat_epochs, args.batch_size)
    out["int8_qat"] = _measure(plain, x_te, y_te)

    steps = args.qat_epochs * int(np.ceil(len(x_tr) / args.batch_size))
    pruned = tfmot.sparsity.keras.prune_low_magnitude(
        model,
        pruning_schedule=tfmot.sparsity.keras.PolynomialDecay(
            0.0, SPARSITY, 0, max(1, steps // 2), frequency=10
        ),
    )
    _fit(pruned, x_tr, y_tr, args.qat_epochs, args.batch_size, [tfmot.sparsity.keras.UpdatePruningStep()])
    pruned = tfmot.sparsity.keras.strip_pruning(pruned)
    clustering = tfmot.clustering.keras
    clustered = clustering.cluster_weights(
        pruned,
        number_of_clusters=CLUSTERS,
        preserve_sparsity=True,
        cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
    )
    _fit(clustered, x_tr, y_tr, args.qat_epochs, args.batch_size)
    clustered = clustering.strip_clustering(clustered)
    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.cluster_preserve import (
        default_8bit_cluster_preserve_quantize_scheme as pcqat,
    )

    annotated = tfmot.quantization.keras.quantize_annotate_model(clustered)
    pcqat_model = tfmot.quantization.keras.quantize_apply(
        annotated, pcqat.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
    )
    _fit(pcqat_model, x_tr, y_tr, args.qat_epochs, args.batch_size)
    out["cascade"] = _measure(pcqat_model, x_te, y_te)
    common.emit(out)


if __name__ == "__main__":
    main()
