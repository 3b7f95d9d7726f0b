"""Train a small conv+dense model with keras_mot on the backend named by KERAS_BACKEND; print JSON.

Run by `test_backend_matrix.py` once per backend from the same seed and data; the test compares the
printed activation ranges, masks and weights across backends.

Example:
    KERAS_BACKEND=jax python tests/backends/run_core.py quantize /tmp/out
"""

import json
import os
import sys

import numpy as np


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, (n, 8, 8, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int32")
    return x, y


def _model(keras):
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.ReLU(name="relu")(h)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dense(8, activation="relu", name="fc1")(h)
    outputs = keras.layers.Dense(2, name="fc2")(h)
    model = keras.Model(inputs, outputs, name="core")
    rng = np.random.default_rng(1)  # the same weights on every backend (their RNGs differ)
    for v in model.weights:
        value = rng.normal(0.0, 0.4, v.shape)
        if "variance" in v.path or "gamma" in v.path:
            value = 1.0 + np.abs(value)
        v.assign(value.astype("float32"))
    return model


def _arrays(model):
    """Every variable of the model by path, as nested lists."""
    return {v.path: np.asarray(v.numpy() if hasattr(v, "numpy") else v).tolist() for v in model.variables}


def main(mode, out_dir):
    import keras

    import keras_mot as mot

    x, y = _data()
    model = _model(keras)
    if mode == "quantize":
        prepared = mot.quantize(model, calibration_data=x[:32], calibration_steps=1)
        cbs = mot.callbacks(prepared, freeze_ranges_at=3, freeze_bn_at=3)
    elif mode == "prune":
        prepared = mot.prune(model, schedule=mot.PolynomialDecay(0.0, 0.5, 0, 3, frequency=1))
        cbs = mot.callbacks(prepared)
    else:
        raise SystemExit(f"mode must be 'quantize' or 'prune', got {mode!r}")
    initial = _arrays(prepared)
    prepared.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # 4 steps: longer runs drift apart by a fake-quant grid step where a value sits on a rounding
    # tie (float sums differ per backend in the last bit); see docs/backends.md.
    prepared.fit(x[:32], y[:32], batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=cbs)
    path = os.path.join(out_dir, f"{mode}_{keras.backend.backend()}.keras")
    prepared.save(path)
    reloaded = keras.saving.load_model(path)
    logits = np.asarray(reloaded.predict(x[:16], verbose=0))
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "initial": initial,
                "trained": _arrays(prepared),
                "reloaded_logits": logits.tolist(),
                "path": path,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
