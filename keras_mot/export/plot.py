"""PNG of per-layer sparsity and weight quantization error (matplotlib).

`matplotlib` is a dependency of keras_mot; where it cannot be imported anyway, the plot is
skipped and the report says so in its notes.
"""

SKIPPED_NOTE = "plot skipped: matplotlib is not installed (pip install matplotlib)"


def available():
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_layers(stats, path, title=""):
    """Writes a two-panel bar chart (sparsity, quantization error per layer) to `path`.

    Args:
        stats: `LayerStat` list (`keras_mot.export.layer_stats`).
        path: PNG file to write.
        title: figure title.

    Returns:
        `None` when written, else the note explaining why not.

    Example:
        >>> plot_layers(layer_stats(model), "out/report.png", "mobilenetv2 int8")
    """
    if not available():
        return SKIPPED_NOTE
    if not stats:
        return "plot skipped: the model has no weight-bearing layers"
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    names = [s.layer for s in stats]
    xs = list(range(len(stats)))
    width = max(6.0, min(24.0, 0.18 * len(stats) + 3))
    fig, (ax_s, ax_q) = plt.subplots(2, 1, figsize=(width, 6), sharex=True)
    try:
        ax_s.bar(xs, [s.sparsity for s in stats], color="tab:blue")
        ax_s.set_ylabel("sparsity (zeros)")
        ax_s.set_ylim(0, 1)
        errors = [s.quant_error or 0.0 for s in stats]
        ax_q.bar(xs, errors, color="tab:orange")
        ax_q.set_ylabel("weight quant. error\n(relative RMS)")
        ax_q.set_xticks(xs)
        ax_q.set_xticklabels(names, rotation=90, fontsize=max(4, 9 - len(stats) // 25))
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return None
