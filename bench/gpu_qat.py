"""Float vs QAT training-step time of the bench model on the JAX backend (GPU when present).

Needs no TensorFlow: Keras runs on JAX (`KERAS_BACKEND=jax`, set here before Keras is imported),
the data is random images of the bench shape (step time does not depend on the pixels). The model
and optimizer are those of bench/qat_protocol.py (MobileNetV2 alpha 0.35, 32x32x3, Adam); QAT is
`mot.quantize` with `mot.callbacks`. Prints the median step times and the QAT/float ratio.

Example:
    python bench/gpu_qat.py                       # the JAX default device (a GPU if jax[cuda])
    python bench/gpu_qat.py --steps 8 --batch-size 16 --image-size 32   # a quick CPU check
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _time_steps(keras, common, model, x, y, steps, batch_size, callbacks=()):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    timer = common.step_timer(keras, warmup=min(5, max(1, steps // 4)))
    model.fit(
        x[: steps * batch_size],
        y[: steps * batch_size],
        batch_size=batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[timer, *callbacks],
    )
    return common.median(timer.times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="training steps timed per model")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--calibration", type=int, default=100, help="calibration images")
    args = parser.parse_args(argv)

    import common
    import keras

    import keras_mot as mot

    if keras.backend.backend() != "jax":
        raise SystemExit(f"KERAS_BACKEND must be 'jax' (got {keras.backend.backend()!r})")
    import jax

    keras.utils.set_random_seed(0)
    shape = (args.image_size, args.image_size, 3)
    x, y = common.random_images(args.steps * args.batch_size, args.image_size)

    model = common.build_mobilenetv2(keras, shape, classes=10)
    float_s = _time_steps(keras, common, model, x, y, args.steps, args.batch_size)
    qmodel = mot.quantize(model, calibration_data=x[: args.calibration])
    qat_s = _time_steps(keras, common, qmodel, x, y, args.steps, args.batch_size, mot.callbacks(qmodel))
    device = jax.devices()[0]
    print(
        f"JAX {jax.__version__}, Keras {keras.__version__}, device: {device.platform} ({device.device_kind})"
    )
    print(f"MobileNetV2 alpha 0.35, {shape}, batch {args.batch_size}, {args.steps} steps (median)")
    print()
    print("| model | step time |")
    print("|---|---|")
    print(f"| float | {float_s * 1e3:.1f} ms |")
    print(f"| QAT | {qat_s * 1e3:.1f} ms |")
    print(f"| QAT/float | {qat_s / float_s:.2f}x |")


if __name__ == "__main__":
    main()
