"""Float vs QAT training-step time of the bench model on one Keras backend (one process).

The backend is the process's `KERAS_BACKEND` (bench/qat.py --backend starts one such process per
backend). Model and optimizer follow bench/qat_protocol.py (MobileNetV2 alpha 0.35, 32x32x3,
Adam); QAT is `mot.quantize` with `mot.callbacks`. The data is random images of the bench shape
(step time does not depend on the pixels). Float and QAT fits alternate, round after round, on the
same compiled train functions; a round's time is its fit's wall time divided by its steps, the
first round (tracing, compiling) is not counted, and the result is the median over rounds.
Prints one JSON line.

Example:
    KERAS_BACKEND=jax python bench/step_time.py --steps 10 --rounds 4
    KERAS_BACKEND=tensorflow python bench/step_time.py --jit-compile   # TensorFlow with XLA
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _fit_time(model, x, y, batch_size, callbacks):
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=list(callbacks))
    return (time.perf_counter() - t0) / (len(x) // batch_size)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="float/QAT rounds (first not counted)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--jit-compile", action="store_true", help="compile(jit_compile=True)")
    args = parser.parse_args(argv)

    import common
    import keras

    import keras_mot as mot

    keras.utils.set_random_seed(0)
    shape = (args.image_size, args.image_size, 3)
    x, y = common.random_images(args.steps * args.batch_size, args.image_size)

    model = common.build_mobilenetv2(keras, shape, classes=10)
    qmodel = mot.quantize(model, calibration_data=x[:64])
    jit = True if args.jit_compile else "auto"
    for m in (model, qmodel):
        m.compile(
            optimizer=keras.optimizers.Adam(1e-4),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit,
        )
    qat_callbacks = mot.callbacks(qmodel)
    float_t, qat_t = [], []
    for r in range(args.rounds):
        f = _fit_time(model, x, y, args.batch_size, ())
        q = _fit_time(qmodel, x, y, args.batch_size, qat_callbacks)
        if r:
            float_t.append(f)
            qat_t.append(q)
    float_s, qat_s = common.median(float_t), common.median(qat_t)
    ratios = [q / f for f, q in zip(float_t, qat_t)]
    common.emit(
        {
            "backend": keras.backend.backend(),
            "jit_compile": bool(getattr(qmodel, "jit_compile", False)),
            "float_step_s": float_s,
            "qat_step_s": qat_s,
            "ratio": qat_s / float_s,
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "rounds": len(float_t),
            "steps": args.steps,
            "batch_size": args.batch_size,
        }
    )


if __name__ == "__main__":
    main()
