"""QAT or pruning on JAX with `keras.distribution.DataParallel` over 2 host devices, or on one.

Run by `test_distribution.py` with `XLA_FLAGS=--xla_force_host_platform_device_count=2`; prints
the trained variables as JSON.

Example:
    XLA_FLAGS=--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax \
        python tests/backends/run_data_parallel.py quantize parallel
"""

import json
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])


def main(mode, devices):
    import keras
    import run_core

    import keras_mot as mot

    if devices == "parallel":
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=keras.distribution.list_devices()[:2])
        )
    x, y = run_core._data()
    model = run_core._model(keras)
    if mode == "quantize":  # frozen from step 0: live ranges / statistics would be per shard
        prepared = mot.quantize(model, calibration_data=x[:32], calibration_steps=1)
        cbs = mot.callbacks(prepared, freeze_ranges_at=0, freeze_bn_at=0)
    else:
        model.get_layer("bn").trainable = False
        prepared = mot.prune(model, schedule=mot.PolynomialDecay(0.0, 0.5, 0, 3, frequency=1))
        cbs = mot.callbacks(prepared)
    prepared.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    prepared.fit(x[:32], y[:32], batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=cbs)
    print(
        json.dumps({"devices": len(keras.distribution.list_devices()), "trained": run_core._arrays(prepared)})
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
