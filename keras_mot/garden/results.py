"""The results table of `keras-mot train`: accuracy, agreement, size, latency, sparsity per model.

Rows: the float Keras model, its float `.tflite` (reference size and latency), the optimized
Keras model (QAT / pruned), and every export. Accuracies are top-1 on the validation split;
latency is the median single-example invoke with 1 thread in the runtime the header names (the
LiteRT interpreter; `tf.lite.Interpreter` only as a fallback when ai-edge-litert is missing).
"""

import numpy as np

from keras_mot.export.interpreter import runtime_label
from keras_mot.export.layer_stats import layer_stats, overall_sparsity


def _tflite_row(label, tflite_bytes, x_val, y_val=None, parity=None, ok=None, sparsity=None):
    from keras_mot.export.report import gzip_size
    from keras_mot.export.runtime import Runner, latency_ms

    runner = Runner(tflite_bytes, num_threads=1)  # one interpreter: accuracy and latency
    accuracy = None
    if parity is not None:
        accuracy = parity.tflite_accuracy
    elif y_val is not None:
        logits = runner.run([x_val])[0]
        accuracy = float(np.mean(logits.argmax(-1) == np.asarray(y_val).reshape(-1)))
    return {
        "model": label,
        "accuracy": accuracy,
        "agreement": None if parity is None else parity.agreement,
        "size": len(tflite_bytes),
        "gzip": gzip_size(tflite_bytes),
        "latency_ms": latency_ms(runner, [x_val[:1]]),
        "sparsity": sparsity,
        "ok": ok,
    }


def rows(float_model, optimized, float_acc, opt_acc, mode, exports, x_val, y_val=None, reference=True):
    """Table rows (dicts) for `format_table`.

    Args:
        float_model, optimized: the Keras models before / after QAT or pruning.
        float_acc, opt_acc: their validation accuracies (`opt_acc` `None` for mode `float`).
        mode: the experiment mode.
        exports: `{target: ExportResult}`.
        x_val, y_val: validation inputs (latency, reference accuracy) and labels.
        reference: add the float `.tflite` reference row (one more conversion).
    """
    from keras_mot.export.convert import to_tflite

    out = [
        {
            "model": "keras float",
            "accuracy": float_acc,
            "agreement": None,
            "size": 4 * float_model.count_params(),
            "gzip": None,
            "latency_ms": None,
            "sparsity": overall_sparsity(layer_stats(float_model)),
            "ok": None,
        }
    ]
    if reference:
        out.append(_tflite_row("tflite float (reference)", to_tflite(float_model, "tflite"), x_val, y_val))
    if opt_acc is not None:
        out.append(
            {
                "model": f"keras {mode}",
                "accuracy": opt_acc,
                "agreement": None,
                "size": None,
                "gzip": None,
                "latency_ms": None,
                "sparsity": overall_sparsity(layer_stats(optimized)),
                "ok": None,
            }
        )
    for target, result in exports.items():
        if not result.tflite_path:
            continue
        with open(result.tflite_path, "rb") as f:
            data = f.read()
        out.append(
            _tflite_row(
                f"tflite {target} ({result.report['mode']})",
                data,
                x_val,
                parity=result.parity,
                ok=result.ok,
                sparsity=result.report["overall_sparsity"],
            )
        )
    return out


def _pct(v):
    return "" if v is None else f"{v:.1%}"


def _size(n):
    return "" if n is None else f"{n / 1024:.0f} KiB" if n < 1024**2 else f"{n / 1024**2:.2f} MiB"


def format_table(data):
    """Markdown table of `data["rows"]` under a one-line header.

    Example:
        >>> print(format_table({"name": "mnv2", "mode": "qat", "target": "tflite_int8", ...}))
    """
    head = (
        f"keras-mot train: {data['name']} ({data['mode']}, target {data['target']}; "
        f"accuracy on {data['validation_examples']} validation examples of "
        f"'{data['data']}'; latency: {runtime_label(data.get('runtime'))}, 1 thread, "
        "batch 1)"
    )
    cols = ["model", "accuracy", "agreement", "size", "gzipped", "latency", "sparsity", "export ok"]
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in data["rows"]:
        cells = [
            r["model"],
            _pct(r["accuracy"]),
            _pct(r["agreement"]),
            _size(r["size"]) + (" (params x 4)" if r["model"] == "keras float" else ""),
            _size(r["gzip"]),
            "" if r["latency_ms"] is None else f"{r['latency_ms']:.2f} ms",
            _pct(r["sparsity"]),
            "" if r["ok"] is None else ("yes" if r["ok"] else "NO"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if "seconds" in data:
        lines.append("")
        lines.append("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in data["seconds"].items()))
    return "\n".join(lines)
