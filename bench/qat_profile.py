"""Where a QAT training step's time goes on TensorFlow: per-op time of the float and QAT steps.

Runs the bench model's training step (`model.train_step` in a `tf.function`, MobileNetV2 alpha
0.35, 32x32x3, Adam, batch 32, as bench/step_time.py) for the float model and its `mot.quantize`
copy under `tf.profiler.experimental`, and sums the executor's per-op times (the host plane's
op events, in microseconds per step) by op type and by output size (<= 1024 values: range and
scale arithmetic; larger: activation-sized passes). The TensorFlow executor runs independent ops
on several threads, so the op times add up to more than the step's wall time; the op counts and
the small/large split are what tell launch overhead from full-tensor work. Timing: run it under
the bench lock on a shared machine.

Example:
    flock /tmp/bench.lock python bench/qat_profile.py --steps 5 --top 25
"""

import argparse
import collections
import glob
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _output_sizes(graph):
    """{node name: number of values of its first output, or None when unknown}."""
    sizes = {}
    for op in graph.get_operations():
        n = None
        if op.outputs:
            shape = op.outputs[0].shape
            if shape.rank is not None and shape.is_fully_defined():
                n = shape.num_elements()
        sizes[op.name] = n
    return sizes


def _graph_sizes(fn):
    """Output sizes of every node of `fn`'s graph and of the functions it calls."""
    sizes = {}
    sizes.update(_output_sizes(fn.graph))
    for f in fn.graph._functions.values():  # gradient and custom-gradient functions
        g = getattr(f, "graph", None)
        if g is not None:
            sizes.update(_output_sizes(g))
    return sizes


def _op_events(logdir):
    """[(op name, op type, duration us)] of the TF op events in the trace under `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    events = []
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        meta = plane.event_metadata
        for line in plane.lines:
            for ev in line.events:
                name = meta[ev.metadata_id].name
                if name == "ExecutorState::Process":  # a thread's run of ready nodes, ops included
                    events.append(("", "(executor thread busy)", ev.duration_ps / 1e6))
                    continue
                if ":" not in name or "::" in name or " " in name:
                    continue
                op_name, op_type = name.rsplit(":", 1)
                if not op_type or not op_type[0].isupper():
                    continue
                events.append((op_name, op_type, ev.duration_ps / 1e6))
    return events


def _profile(tf, step, x, y, steps):
    for _ in range(3):
        step(x, y)
    walls = []
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(steps):
            t = time.perf_counter()
            step(x, y)
            walls.append(time.perf_counter() - t)
        tf.profiler.experimental.stop()
        return _op_events(logdir), sorted(walls)[len(walls) // 2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="profiled steps of each model")
    parser.add_argument("--top", type=int, default=25, help="op types to list")
    args = parser.parse_args(argv)

    import common
    import keras
    import tensorflow as tf

    import keras_mot as mot

    x, y, models = common.float_and_qat_step_models(keras, mot, args.batch_size)
    result = {}
    for name, m in models:
        step = tf.function(lambda a, b, m=m: m.train_step((a, b)))
        xb, yb = tf.constant(x[: args.batch_size]), tf.constant(y[: args.batch_size])
        sizes = _graph_sizes(step.get_concrete_function(xb, yb))
        events, wall = _profile(tf, step, xb, yb, args.steps)
        by_type, by_size = (
            collections.defaultdict(lambda: [0, 0.0]),
            collections.defaultdict(lambda: [0, 0.0]),
        )
        unknown = collections.Counter()
        for op_name, op_type, us in events:
            if not op_name:
                by_type[op_type][0] += 1
                by_type[op_type][1] += us
                continue
            n = sizes.get(op_name)
            kind = "small" if n is not None and n <= 1024 else "large" if n is not None else "unknown"
            if kind == "unknown":
                unknown[op_name.split("/")[0]] += 1
            for table, key in ((by_type, op_type), (by_size, kind), (by_type, f"{op_type} [{kind}]")):
                table[key][0] += 1
                table[key][1] += us
        result[name] = (by_type, by_size, wall)
        if unknown:
            print(f"{name}: ops of unknown size by name prefix: {unknown.most_common(5)}")
    (ft, fs, fw), (qt, qs, qw) = result["float"], result["qat"]
    k = args.steps
    print(f"wall per step (profiled, median): float {fw * 1e3:.1f} ms, QAT {qw * 1e3:.1f} ms")
    print("| outputs | float ops | float op-ms | QAT ops | QAT op-ms |")
    print("|---|---|---|---|---|")
    for kind in ("small", "large", "unknown"):
        print(
            f"| {kind} | {fs[kind][0] // k} | {fs[kind][1] / k / 1e3:.1f} | "
            f"{qs[kind][0] // k} | {qs[kind][1] / k / 1e3:.1f} |"
        )
    print("| op type | float ops | float op-ms | QAT ops | QAT op-ms | extra op-ms |")
    print("|---|---|---|---|---|---|")
    keys = sorted(set(ft) | set(qt), key=lambda t: -(qt[t][1] - ft[t][1]))
    for t in keys[: args.top]:
        print(
            f"| {t} | {ft[t][0] // k} | {ft[t][1] / k / 1e3:.2f} | {qt[t][0] // k} | "
            f"{qt[t][1] / k / 1e3:.2f} | {(qt[t][1] - ft[t][1]) / k / 1e3:+.2f} |"
        )


if __name__ == "__main__":
    main()
