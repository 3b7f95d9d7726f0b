"""QAT or pruning as one worker of a `tf.distribute.MultiWorkerMirroredStrategy`; print JSON.

Run twice by `test_distribution.py`, as two local processes over loopback: each gets the same
`TF_CONFIG` cluster (two `localhost:PORT` workers) with its own task index. Both see the same
global batches as the one-device run of `run_mirrored.py` (Keras shards each global batch over the
workers), so ranges, masks and weights agree within float tolerance. Only worker 0 prints.

Example (two shells):
    TF_CONFIG='{"cluster": {"worker": ["localhost:12345", "localhost:23456"]},
                "task": {"type": "worker", "index": 0}}' python tests/backends/run_multiworker.py quantize
    TF_CONFIG='{... "index": 1}}' python tests/backends/run_multiworker.py quantize
"""

import json
import os
import sys


def main(mode):
    import tensorflow as tf

    # Must be created before any other TensorFlow op: it starts this worker's gRPC server.
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras

    import keras_mot as mot

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import run_core

    x, y = run_core._data()
    with strategy.scope():
        model = run_core._model(keras)
        if mode in ("prune", "float"):  # inference-mode BatchNormalization: no per-replica statistics
            model.get_layer("bn").trainable = False
        if mode == "float":  # a plain Keras model: keras_mot.multi_worker.enable
            from keras_mot.multi_worker import enable

            prepared, cbs = enable(model), []
        elif mode == "quantize":
            prepared = mot.quantize(model, calibration_data=x[:32], calibration_steps=1)
            # Frozen from step 0: live ranges and batch statistics are per replica.
            cbs = mot.callbacks(prepared, freeze_ranges_at=0, freeze_bn_at=0)
        else:
            prepared = mot.prune(model, schedule=mot.PolynomialDecay(0.0, 0.5, 0, 3, frequency=1))
            cbs = mot.callbacks(prepared)
        prepared.compile(
            optimizer=keras.optimizers.SGD(0.05),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    prepared.fit(x[:32], y[:32], batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=cbs)
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    if task == 0:
        result = {"replicas": strategy.num_replicas_in_sync, "trained": run_core._arrays(prepared)}
        print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
