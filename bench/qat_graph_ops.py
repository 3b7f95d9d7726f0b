"""Where a QAT training step's extra time goes on TensorFlow: the ops of the float and QAT steps.

Traces the bench model's training step (`model.train_step` in a `tf.function`, MobileNetV2
alpha 0.35, 32x32x3, Adam, as bench/step_time.py) for the float model and for its `mot.quantize`
copy, and prints the number of graph nodes per op type for both, largest difference first, with
how many of the QAT step's extra nodes work on scalars or per-channel vectors (range and scale
arithmetic: each costs a kernel launch but little compute) and how many on activation-sized
tensors. No timing: it runs in seconds of tracing and needs no lock on a shared machine.

Example:
    python bench/qat_graph_ops.py --top 25
"""

import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _graph_ops(tf, model, x, y):
    """`(Counter of op types, Counter of "small"/"large" nodes)` of `model`'s training step."""
    fn = tf.function(lambda a, b: model.train_step((a, b)))
    graph = fn.get_concrete_function(tf.constant(x), tf.constant(y)).graph
    types, sizes = collections.Counter(), collections.Counter()
    for op in graph.get_operations():
        types[op.type] += 1
        if op.type in ("Const", "Placeholder", "NoOp") or not op.outputs:
            continue
        shape = op.outputs[0].shape
        n = shape.num_elements() if shape.rank is not None and shape.is_fully_defined() else None
        sizes["small" if n is not None and n <= 1024 else "large"] += 1
    return types, sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--top", type=int, default=20, help="op types to list")
    args = parser.parse_args(argv)

    import common
    import keras
    import tensorflow as tf

    import keras_mot as mot

    x, y, models = common.float_and_qat_step_models(keras, mot, args.batch_size)
    counts = {}
    for name, m in models:
        counts[name] = _graph_ops(tf, m, x[: args.batch_size], y[: args.batch_size])
    (ft, fs), (qt, qs) = counts["float"], counts["qat"]
    print(f"graph nodes of one training step: float {sum(ft.values())}, QAT {sum(qt.values())}")
    print(
        f"computing nodes on <= 1024 values (scalars, per-channel vectors): float {fs['small']}, "
        f"QAT {qs['small']}; on larger tensors: float {fs['large']}, QAT {qs['large']}"
    )
    print("| op type | float | QAT | QAT - float |")
    print("|---|---|---|---|")
    for op in sorted(set(ft) | set(qt), key=lambda k: (ft[k] - qt[k], k))[: args.top]:
        print(f"| {op} | {ft[op]} | {qt[op]} | {qt[op] - ft[op]:+d} |")


if __name__ == "__main__":
    main()
