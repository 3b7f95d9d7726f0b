"""QAT-train a small conv model on the backend named by KERAS_BACKEND, then `mot.export` it; print JSON.

On JAX / PyTorch `mot.export` converts a TensorFlow-backend copy in a subprocess and checks parity
against this process's model. Run by `test_backend_matrix.py`.

Example:
    KERAS_BACKEND=jax python tests/backends/run_export.py /tmp/out
"""

import json
import sys

import numpy as np


def main(out_dir):
    import keras

    import keras_mot as mot

    data = np.load(__file__.rsplit("/", 3)[0] + "/keras_mot/data/digits.npz")
    x = (data["images"].astype("float32") / 16.0).reshape(-1, 8, 8, 1)
    y = data["labels"].astype("int32")
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Flatten()(h)
    outputs = keras.layers.Dense(10)(h)
    model = keras.Model(inputs, outputs)
    for v in model.trainable_weights:
        v.assign(rng.normal(0.0, 0.3, v.shape).astype("float32"))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, metrics=["accuracy"])
    model.fit(x[:1200], y[:1200], batch_size=64, epochs=3, verbose=0)
    qmodel = mot.quantize(model, calibration_data=x[:256], calibration_steps=2)
    qmodel.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"])
    qmodel.fit(x[:1200], y[:1200], batch_size=64, epochs=1, verbose=0, callbacks=mot.callbacks(qmodel))
    result = mot.export(qmodel, out_dir, target="tflite_int8", representative_data=(x[1200:], y[1200:]))
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "ok": result.ok,
                "verdict": result.verdict,
                "float_compute_ops": result.float_compute_ops,
                "agreement": result.parity.agreement,
                "summary": result.summary(),
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
