"""Float vs QAT training-step time of the bench model on one Keras backend (one process).

The backend is the process's `KERAS_BACKEND` (bench/qat.py --backend starts one such process per
backend). Model and optimizer follow bench/qat_protocol.py (MobileNetV2 alpha 0.35, 32x32x3,
Adam); QAT is `mot.quantize` with `mot.callbacks`. The data is random images of the bench shape
(step time does not depend on the pixels). Float and QAT fits alternate, round after round, on the
same compiled train functions (float first on even rounds, QAT first on odd ones). A step is timed
as bench/qat_protocol.py times it, from the start of the batch to its end before any other
callback runs (the first `--warmup` steps of each fit are not timed); a round's ratio is the median
QAT step over the median float step of that round, and the result is the median of the round
ratios (the first round, tracing and compiling, is not counted). Comparing the two fits of one
round, seconds apart, keeps the ratio steadier on a shared machine where absolute times drift;
`ratio_best` (fastest QAT step over fastest float step) is the least disturbed by other load.
`qat_callbacks_s` is the median time per step that the QAT callbacks (`mot.callbacks`) add
between steps, reported separately. Prints one JSON line.

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


def _fit_times(keras, model, x, y, batch_size, callbacks, warmup):
    """`(step times, between-step times)` of one fit, in seconds, its first `warmup` steps
    left out: batch start to batch end (before `callbacks` see it), and batch end to the next
    batch start (the callbacks' per-step work and Keras' own)."""
    steps, gaps, marks = [], [], {}

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if "end" in marks and batch > warmup:
                gaps.append(time.perf_counter() - marks["end"])
            marks["begin"] = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            marks["end"] = time.perf_counter()
            if batch >= warmup:
                steps.append(marks["end"] - marks["begin"])

    model.fit(
        x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[Timer(), *callbacks]
    )
    return steps, gaps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="float/QAT rounds (first not counted)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps at the start of each fit")
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
    if args.steps <= args.warmup:
        raise SystemExit(f"--steps ({args.steps}) must exceed --warmup ({args.warmup}).")
    runs = {"float": (model, ()), "qat": (qmodel, qat_callbacks)}
    float_t, qat_t, gaps, ratios = [], [], [], []
    for r in range(args.rounds):
        times = {}
        for side in ("float", "qat") if r % 2 == 0 else ("qat", "float"):
            m, cbs = runs[side]
            times[side] = _fit_times(keras, m, x, y, args.batch_size, cbs, args.warmup)
        if r:
            float_t += times["float"][0]
            qat_t += times["qat"][0]
            gaps.append(common.median(times["qat"][1]) - common.median(times["float"][1]))
            ratios.append(common.median(times["qat"][0]) / common.median(times["float"][0]))
    float_s, qat_s = common.median(float_t), common.median(qat_t)
    common.emit(
        {
            "backend": keras.backend.backend(),
            "jit_compile": bool(getattr(qmodel, "jit_compile", False)),
            "float_step_s": float_s,
            "qat_step_s": qat_s,
            "ratio": common.median(ratios),
            "round_ratios": ratios,
            "qat_callbacks_s": common.median(gaps),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "ratio_best": min(qat_t) / min(float_t),
            "float_steps_s": float_t,
            "qat_steps_s": qat_t,
            "rounds": len(ratios),
            "steps": args.steps,
            "batch_size": args.batch_size,
        }
    )


if __name__ == "__main__":
    main()
