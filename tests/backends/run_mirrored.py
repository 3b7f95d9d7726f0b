"""QAT, pruning or float training under `tf.distribute.MirroredStrategy` on 2 logical CPUs, or on one; print JSON.

Run by `test_distribution.py`: the two runs see the same global batches, so ranges, masks and
weights agree within float tolerance (the replicas' gradients are summed in another order).

Example:
    python tests/backends/run_mirrored.py quantize mirrored
"""

import json
import sys


def main(mode, devices):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    import keras_mot as mot

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import run_core

    x, y = run_core._data()
    strategy = (
        tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        if devices == "mirrored"
        else tf.distribute.get_strategy()
    )
    with strategy.scope():
        model = run_core._model(keras)
        if mode in ("prune", "float"):  # inference-mode BatchNormalization: no per-replica statistics
            model.get_layer("bn").trainable = False
        if mode == "float":
            prepared, cbs = model, []
        elif mode == "quantize":
            prepared = mot.quantize(model, calibration_data=x[:32], calibration_steps=1)
            # Frozen from step 0: live ranges and batch statistics are per replica (each sees
            # half the batch), as BatchNormalization's are under MirroredStrategy.
            cbs = mot.callbacks(prepared, freeze_ranges_at=0, freeze_bn_at=0)
        else:
            prepared = mot.prune(model, schedule=mot.PolynomialDecay(0.0, 0.5, 0, 3, frequency=1))
            cbs = mot.callbacks(prepared)
        prepared.compile(
            optimizer=keras.optimizers.SGD(0.05),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    prepared.fit(x[:32], y[:32], batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=cbs)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "trained": run_core._arrays(prepared)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
