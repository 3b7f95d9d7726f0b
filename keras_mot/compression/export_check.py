"""Export checks of compressed layers, read from the converted flatbuffer.

For every layer whose weight a `WeightCompression` projects, the stored TFLite weight is found by
name and shape, and checked: int8 storage when the layer is quantized, the pruned zeros kept, and
for `Cluster` at most `n_clusters` distinct values per tensor (per channel with
`per_channel=True`). TFLite has no clustered or palettized kernel: the ops compute on dense
int8 weights, so compression shrinks the compressed (gzip) file, not the latency.

Example:
    >>> findings, summary = check_compression(TfliteModel(tflite_bytes), qmodel)
"""

import re

import numpy as np
from keras import ops

from keras_mot import graph
from keras_mot.findings import Finding

NO_KERNEL_NOTE = (
    "TFLite has no clustered/palettized kernel: compressed weights are stored and "
    "computed as dense int8, so the gain is the gzip size of the file, not speed."
)


def compressed_wrappers(model):
    """`[(path, wrapper)]` of the layers of `model` that carry a compression algorithm."""
    return [
        (path, layer)
        for path, layer in graph.iter_layers(model)
        if getattr(layer, "compress", None) is not None and hasattr(layer, "compression_state")
    ]


def _segment(name):
    return re.compile(re.escape(name) + r"(_\d+)?")  # TF uniquifies scopes with a _N suffix


def _names_layer(tensor_name, layer_name):
    pattern = _segment(layer_name)
    return any(pattern.fullmatch(part) for part in re.split(r"[/;:]", tensor_name))


def path_score(tensor_name, path):
    """How many segments of the Keras layer `path` the tensor's TF name scopes name, in order
    from the leaf: blocks repeat their sublayers' names (every encoder block of a BERT has a
    `feedforward_intermediate_dense`), so the enclosing scopes tell the copies apart.

    Example:
        >>> path_score("m/block_1_1/ffn_1/MatMul", "block_1/ffn")
        2
    """
    best = 0
    for fused in tensor_name.split(";"):
        scopes, score = fused.split("/"), 0
        for segment in reversed(path.split("/")):
            pattern = _segment(segment)
            hit = next((i for i in range(len(scopes) - 1, -1, -1) if pattern.fullmatch(scopes[i])), None)
            if hit is not None:
                scopes, score = scopes[:hit], score + 1
        best = max(best, score)
    return best


def _distinct(values, per_channel, axis):
    if not per_channel:
        return int(np.unique(values).size)
    moved = np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)
    return int(max(np.unique(row).size for row in moved))


def _dequantized(parsed, info):
    """The stored weight `info` as float (per-channel parameters applied), or None."""
    if info.values is None:
        return None
    tensor = next(t for t in parsed.tensors if t.name == info.tensor)
    values = np.asarray(info.values, np.float64).reshape(info.shape)
    if not tensor.scale:
        return values
    shape = [1] * values.ndim
    if len(tensor.scale) > 1:
        shape[tensor.quantized_dimension] = len(tensor.scale)
    scale = np.asarray(tensor.scale, np.float64).reshape(shape)
    zero = np.asarray(tensor.zero_point or (0,), np.float64).reshape(
        shape if len(tensor.zero_point) > 1 else [1]
    )
    return (values - zero) * scale


def _distance(parsed, info, projected):
    """How far the stored values of `info` are from `projected`, compared sorted (independent
    of the layout TFLite gives the weight); inf when the values are not readable."""
    stored = _dequantized(parsed, info)
    if stored is None:
        return float("inf")
    return float(np.mean(np.abs(np.sort(stored.ravel()) - np.sort(projected.ravel()))))


def _match(path, wrapper, projected, weights, parsed):
    """`{weight name: WeightInfo}`: each compressed weight of the layer to its own stored tensor.
    Candidates name the layer and have the weight's size; the closest enclosing scopes win
    (`path_score`), and the stored values break ties: a layer with several weights of one size
    (MultiHeadAttention's query, key, value and output projections) exports them all under its
    own scope with op-numbered names, so each is told apart by its values, one tensor each."""
    options = []
    for wname, w in projected.items():
        candidates = [
            c for c in weights if _names_layer(c.tensor, wrapper.name) and int(np.prod(c.shape)) == w.size
        ]
        best = max((path_score(c.tensor, path) for c in candidates), default=None)
        for order, c in enumerate(candidates):
            if path_score(c.tensor, path) == best:
                options.append((_distance(parsed, c, w), order, wname, c))
    matched, used = {}, set()
    for _, _, wname, c in sorted(options, key=lambda o: (o[0], o[1])):
        if wname not in matched and c.tensor not in used:
            matched[wname] = c
            used.add(c.tensor)
    return matched


def _not_started(path, wrapper):
    return {"layer": path, "algorithm": type(wrapper.compress).__name__, "note": "not started"}, [
        Finding(
            path,
            None,
            "warning",
            f"{wrapper.compress!r} has not started (training stopped before its start_step), "
            "so this layer is exported uncompressed.",
            "Train past start_step, or lower it.",
            "compression-not-started",
        )
    ]


def _layer_checks(path, wrapper, weights, parsed):
    """`(rows, findings)` of one compressed layer: a row per compressed weight found."""
    if not wrapper.compression_is_active():
        row, findings = _not_started(path, wrapper)
        return [row], findings
    projected = {
        wname: np.asarray(ops.convert_to_numpy(w)) for wname, w in wrapper.compressed_weights().items()
    }
    matched = _match(path, wrapper, projected, weights, parsed)
    rows, findings = [], []
    for wname, w in projected.items():
        if wname not in matched:
            findings.append(
                Finding(
                    path,
                    None,
                    "warning",
                    f"The compressed weight '{wname}' of this layer was not "
                    "found in the .tflite file, so its compression is not checked.",
                    "Check that the layer was exported (mot.lint lists its ops).",
                    "compression-unchecked",
                )
            )
            continue
        row, found = _weight_check(path, wrapper, wname, w, matched[wname], parsed)
        rows.append(row)
        findings += found
    return rows, findings


def _weight_check(path, wrapper, wname, projected, info, parsed):
    tensor = next(t for t in parsed.tensors if t.name == info.tensor)
    limit = getattr(wrapper.compress, "n_clusters", None)
    if limit is None and hasattr(wrapper.compress, "levels"):  # palettes: 2 L + 1 values
        limit = 2 * int(wrapper.compress.levels) + 1
    per_channel = bool(getattr(wrapper.compress, "per_channel", False))
    row = {
        "layer": path,
        "weight": wname,
        "algorithm": type(wrapper.compress).__name__,
        "tensor": info.tensor,
        "op": info.op,
        "dtype": info.dtype,
        "limit": limit,
        "per_channel": per_channel,
        "keras_zeros": int(np.sum(projected == 0)),
    }
    weight = "" if wname == "kernel" else f" ({wname})"
    findings = []
    if wrapper.quantize and info.dtype != "int8":
        findings.append(
            Finding(
                path,
                info.op,
                "error",
                f"The compressed weight{weight} is stored as {info.dtype}, not int8.",
                "Quantize the layer with an int8 scheme.",
                "compression-not-int8",
            )
        )
    if info.values is None:
        row["note"] = "stored sparse: values not read"
        return row, findings
    zero = tensor.zero_point[0] if tensor.zero_point else 0
    row["tflite_zeros"] = (
        int(np.sum(info.values.astype(np.int64) == zero))
        if info.values.dtype.kind in "iu"
        else int(np.sum(info.values == 0))
    )
    values = np.asarray(info.values).reshape(info.shape)
    row["distinct"] = _distinct(values, per_channel, tensor.quantized_dimension)
    if row["tflite_zeros"] < row["keras_zeros"]:
        findings.append(
            Finding(
                path,
                info.op,
                "error",
                f"Zeros lost in export{weight}: {row['keras_zeros']} in Keras, {row['tflite_zeros']} in the .tflite.",
                "Report this: pruned zeros must survive quantization.",
                "compression-zeros-lost",
            )
        )
    if limit is not None and row["distinct"] > limit:
        where = ("a channel of" if per_channel else "") + f" the tensor{weight}"
        findings.append(
            Finding(
                path,
                info.op,
                "error",
                f"{where.strip().capitalize()} holds {row['distinct']} distinct stored values, more than n_clusters={limit}.",
                "Check the weight quantization scheme (the shared grid needs a symmetric int8 scheme).",
                "compression-values",
            )
        )
    return row, findings


def check_compression(parsed, model):
    """`(findings, summary)` for the compressed layers of `model` in the parsed `.tflite`.

    Args:
        parsed: a `keras_mot.export.tflite_model.TfliteModel`.
        model: the prepared (training) model whose wrappers carry the compression.

    Returns:
        A list of `Finding` and `{"note", "layers": [...]}` (`None` when nothing is compressed).

    Example:
        >>> findings, summary = check_compression(parsed, qmodel)
        >>> summary["layers"][0]["distinct"] <= 16
        True
    """
    layers = compressed_wrappers(model)
    if not layers:
        return [], None
    from keras_mot.export.sparse_check import inspect_sparsity

    weights = inspect_sparsity(parsed).weights
    findings = [Finding("", None, "info", NO_KERNEL_NOTE, None, "compression-size-only")]
    rows = []
    for path, wrapper in layers:
        found_rows, found = _layer_checks(path, wrapper, weights, parsed)
        findings += found
        rows += found_rows
    return findings, {"note": NO_KERNEL_NOTE, "layers": rows}
