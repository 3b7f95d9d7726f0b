"""The export report: `report.json` (data) and `report.md` (the same, for people).

The report names the runtime that ran the converted model (`runtime`: `"ai_edge_litert"`, or
`"tf.lite"` when LiteRT was missing; `null` when no representative data was given, so no
interpreter ran) and the export plan (`plan`: mode, I/O types, converter settings; see
`keras_mot.export.plan`). Sections: files and sizes (raw and gzipped), parity, TFLite ops with
their tensor dtypes, float compute ops left in an integer model, per-layer sparsity and weight
quantization error, sparse storage of weights (sparse targets), findings, notes.
"""

import gzip
import json

from keras_mot.export.interpreter import runtime_label

REPORT_VERSION = 1
MAX_MD_FINDINGS = 60


def gzip_size(data):
    """Size in bytes of `data` gzip-compressed at level 9 (what a download would cost)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def op_dtype_table(ops):
    """Rows `{op, inputs, outputs, count}` grouping ops by name and first input/output dtype.

    Example:
        >>> op_dtype_table(op_list(tflite_bytes))[0]
        {'op': 'CONV_2D', 'inputs': 'int8', 'outputs': 'int8', 'count': 35}
    """
    counts = {}
    for o in ops:
        key = (o["op"], o["inputs"][0] if o["inputs"] else "-", o["outputs"][0] if o["outputs"] else "-")
        counts[key] = counts.get(key, 0) + 1
    return [
        {"op": k[0], "inputs": k[1], "outputs": k[2], "count": v}
        for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _fmt_bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return str(n)


def _pct(v):
    return "-" if v is None else f"{v:.1%}"


def _num(v, digits=4):
    return "-" if v is None else f"{v:.{digits}g}"


def _table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def write_json(report, path):
    """Writes the report dict as indented JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, sort_keys=False, default=str)
        f.write("\n")


def _parity_lines(parity):
    if parity is None:
        return ["Not checked (no representative data)."]
    rows = [
        ("ok", parity["ok"]),
        ("mode", parity["mode"]),
        ("examples", parity["examples"]),
        ("top-1 agreement", _pct(parity["agreement"])),
        (
            "tie-adjusted agreement (threshold)",
            f"{_pct(parity['tie_adjusted_agreement'])} ({_pct(parity['min_agreement'])})",
        ),
        ("max abs diff", _num(parity["max_abs_diff"])),
        ("mean abs diff", _num(parity["mean_abs_diff"])),
        ("output step", _num(parity["output_step"])),
        ("max diff in steps", _num(parity["max_diff_steps"], 3)),
        ("outputs within one step", _pct(parity["within_one_step"])),
        ("accuracy keras / tflite", f"{_pct(parity['keras_accuracy'])} / {_pct(parity['tflite_accuracy'])}"),
    ]
    return _table(["", "value"], rows)


def _layer_lines(layers):
    if not layers:
        return ["No weight-bearing layers."]
    rows = [
        (
            s["layer"],
            s["cls"],
            s["params"],
            _pct(s["sparsity"]),
            _num(s["quant_error"], 3),
            s["pattern"] or "-",
        )
        for s in layers
    ]
    return _table(["layer", "class", "params", "sparsity", "quant. error (rel. RMS)", "pattern"], rows)


def _sparse_lines(sparse):
    rows = [
        (
            w["tensor"][:60],
            w["op"],
            w["op_version"],
            w["dtype"],
            w["stored"],
            w["block_size"] or "-",
            _pct(w["zeros_fraction"]),
        )
        for w in sparse["weights"]
    ]
    return [f"DENSIFY ops: {sparse['densify_ops']}", ""] + _table(
        ["weight", "op", "version", "dtype", "stored", "block", "zeros"], rows
    )


def _finding_lines(findings):
    if not findings:
        return ["None."]
    rows = [
        (
            f["severity"],
            f["code"],
            f["layer"] or "-",
            f["op"] or "-",
            f["message"] + (f" Fix: {f['fix']}" if f.get("fix") else ""),
        )
        for f in findings[:MAX_MD_FINDINGS]
    ]
    lines = _table(["severity", "code", "layer", "op", "message"], rows)
    if len(findings) > MAX_MD_FINDINGS:
        lines.append(f"\n... and {len(findings) - MAX_MD_FINDINGS} more in report.json.")
    return lines


def _runtime_line(runtime):
    if runtime is None:
        return "none ran (no representative data, parity not checked)"
    return runtime_label(runtime)


def to_markdown(report):
    """The report as Markdown text."""
    sizes = report["sizes"]
    out = [
        f"# keras_mot export: {report['model']['name']} -> {report['target']}",
        "",
        f"**{'OK' if report['ok'] else 'NOT OK'}** — lint verdict `{report['verdict']}`, "
        f"mode `{report['mode']}`, I/O {report['input_type']} -> {report['output_type']}, "
        f"{report['model']['params']:,} parameters, overall sparsity "
        f"{_pct(report['overall_sparsity'])}.",
        "",
        f"Runtime: {_runtime_line(report.get('runtime'))}.",
        "",
    ]
    plan = report.get("plan")
    if plan:
        out += [
            f"Converter: supported ops {', '.join(plan['supported_ops'])}; optimizations "
            f"{', '.join(plan['optimizations']) or 'none'}; "
            f"{'calibrated on representative data' if plan['calibrate'] else 'no calibration'}"
            f"{'; float16 weights' if plan['supported_types'] else ''}.",
            "",
        ]
    out += ["## Files", ""]
    rows = [
        (name, path, _fmt_bytes(sizes.get(name, {}).get("raw")), _fmt_bytes(sizes.get(name, {}).get("gzip")))
        for name, path in report["files"].items()
    ]
    out += _table(["file", "path", "size", "gzipped"], rows)
    out += ["", "## Parity (Keras vs TFLite)", ""] + _parity_lines(report["parity"])
    out += ["", "## TFLite ops and dtypes", ""]
    out += _table(
        ["op", "input dtype", "output dtype", "count"],
        [(r["op"], r["inputs"], r["outputs"], r["count"]) for r in report["ops"]],
    )
    if report["float_compute_ops"] is not None:
        out += ["", "## Float compute ops (integer target)", ""]
        fl = report["float_compute_ops"]
        out += (
            ["None: every compute op is integer."]
            if not fl
            else [f"- {o['op']} ({', '.join(o['inputs'])}) -> {', '.join(o['output_names'])}" for o in fl]
        )
    out += ["", "## Per-layer sparsity and weight quantization error", ""]
    out += _layer_lines(report["layers"])
    if report.get("sparse_storage"):
        out += ["", "## Sparse weight storage", ""] + _sparse_lines(report["sparse_storage"])
    out += ["", "## Findings", ""] + _finding_lines(report["findings"])
    if report["notes"]:
        out += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(out) + "\n"


def write_markdown(report, path):
    """Writes `to_markdown(report)` to `path`."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(to_markdown(report))
