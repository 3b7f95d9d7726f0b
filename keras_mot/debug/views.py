"""Pictures of a `QuantizationReport`: a per-layer error chart (PNG, matplotlib) and Model
Explorer node data (the JSON overlay ai-edge-model-explorer colours graph nodes with).

Model Explorer node data format: `{"<graph id>": {"results": {"<node id>": {"value": v}}}}`;
for a Keras model the node ids are the layer names / paths, for a `.tflite` graph the tensor
names of the op outputs.

Example:
    >>> plot_report(report, "debug.png")
    >>> write_node_data(report, "debug_node_data.json", graph_id="main")
"""

import json
import math


def plot_report(report, path, top=30):
    """Writes a bar chart of own and accumulated error (SNR, dB) per layer to `path`.

    Returns:
        `None` when written, else the note explaining why not (matplotlib missing, no rows).

    Example:
        >>> plot_report(report, "debug.png")
    """
    from keras_mot.export.plot import SKIPPED_NOTE, available

    if not available():
        return SKIPPED_NOTE
    rows = [r for r in report.layers[:top]]
    if not rows:
        return "plot skipped: the report has no layer"
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    names = [r.path for r in rows]
    own = [_finite(r.own_snr_db) for r in rows]
    total = [_finite(r.snr_db) for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.5))
    ys = range(len(rows))
    ax.barh([y - 0.2 for y in ys], own, height=0.4, label="own error (layer alone)")
    ax.barh([y + 0.2 for y in ys], total, height=0.4, label="accumulated error")
    ax.set_yticks(list(ys))
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("SNR (dB, lower is worse)")
    ax.set_title(f"Quantization error per layer ({report.target}, {report.mode})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def _finite(v, cap=80.0):
    return cap if v is None or not math.isfinite(v) else min(v, cap)


def node_data(report, graph_id="main", metric="own_rmse_over_scale"):
    """Model Explorer node data: one value per layer (default: own RMSE / scale).

    Example:
        >>> node_data(report)["main"]["results"]["spiky"]
        {'value': 2.31}
    """
    results = {}
    for r in report.layers:
        value = getattr(r, metric, None)
        if value is None:
            value = r.rmse_over_scale
        if value is not None and math.isfinite(value):
            results[r.path] = {"value": float(value)}
    return {graph_id: {"results": results}}


def write_node_data(report, path, graph_id="main", metric="own_rmse_over_scale"):
    """Writes `node_data(...)` as JSON to `path` (load it in Model Explorer's node data panel).

    Example:
        >>> write_node_data(report, "debug_node_data.json")
    """
    with open(path, "w") as f:
        json.dump(node_data(report, graph_id, metric), f, indent=1)
