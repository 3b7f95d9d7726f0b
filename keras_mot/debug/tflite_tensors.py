"""`mot.debug(model, data, tflite="model.tflite")`: the converted model's own int8 tensors.

The LiteRT interpreter keeps every intermediate tensor (`experimental_preserve_all_tensors`);
each int8 op output is matched to a Keras layer by name (the converter names a tensor after the
TF ops it fuses, `model_1/conv_1/Relu;model_1/bn_1/batchnorm/add_1;...`, whose path components
are the Keras layer names, possibly suffixed `_1`), the latest such layer in the model's order,
and compared, dequantized with the tensor's own scale and zero point, with that layer's float
output. This is the accumulated error of the deployed model at each layer. The int8 tensor the
model output is dequantized from (named `Identity...`, no layer name) is matched to the layer
writing the model output. The error a layer adds on its own: for an op with one activation
input, the Keras layers fused into it (those named in its tensor name, in model order) are run
in float on that input tensor, dequantized, and compared with the op's own output.

Example:
    >>> report = mot.debug(model, x_val, tflite="out/model.tflite")
"""

import re

import numpy as np

from keras_mot.debug.measure import LayerStats
from keras_mot.debug.report import LayerError, QuantizationReport
from keras_mot.debug.scores import accuracy, agreement
from keras_mot.debug.taps import tap
from keras_mot.errors import KerasMotError, format_error


def _interpreter(path):
    from keras_mot.export.interpreter import make_interpreter

    try:
        with open(path, "rb") as f:
            content = f.read()
    except OSError as e:
        raise KerasMotError(
            format_error(
                "Cannot read the .tflite file.",
                received=repr(path),
                fix="Pass the path of a converted model.",
            )
        ) from e
    it, _ = make_interpreter(content, experimental_preserve_all_tensors=True)
    return it


def layer_of(tensor_name, order):
    """The Keras layer path (from `order`, model order) a TFLite tensor name belongs to, or None.

    Example:
        >>> layer_of("model_1/c1_1/Relu;model_1/bn1_1/batchnorm/add_1", ["c1", "bn1", "r1"])
        'bn1'
    """
    chain = layers_of(tensor_name, order)
    return chain[-1] if chain else None


def layers_of(tensor_name, order):
    """The Keras layer paths (model order) named in a fused TFLite tensor name.

    Example:
        >>> layers_of("model_1/c1_1/Relu;model_1/bn1_1/batchnorm/add_1", ["c1", "bn1", "r1"])
        ['c1', 'bn1']
    """
    parts = {re.sub(r"_\d+$", "", p) for piece in tensor_name.split(";") for p in piece.split("/")} | {
        p for piece in tensor_name.split(";") for p in piece.split("/")
    }
    return [path for path in order if path.rsplit("/", 1)[-1] in parts]


def _dequantized(it, idx, d):
    s, z = d["quantization"]
    return (it.get_tensor(idx).astype("float64") - z) * s


def _own(it, taps, order, chain, source):
    """The float layers of `chain` on the op's dequantized input tensor `source`."""
    import keras

    h = _dequantized(it, *source).astype("float32")
    for p in chain:
        h = taps.calls[order.index(p)].layer(h)
    return keras.ops.convert_to_numpy(h)


def _match(it, taps, order):
    """`{layer path: (tensor index, details, chain, activation input or None)}`."""
    ops = it._get_ops_details()
    produced = {i for op in ops for i in op["outputs"]} | {d["index"] for d in it.get_input_details()}
    out_idx = it.get_output_details()[0]["index"]
    for op in ops:  # the int8 tensor the float model output is dequantized from
        if op["op_name"] == "DEQUANTIZE" and out_idx in op["outputs"]:
            out_idx = op["inputs"][0]
    out_path = next((c.path for c in taps.calls if taps.output_keys[0] in c.output_keys), None)
    matched = {}
    for op in ops:
        for idx in op["outputs"]:
            d = it._get_tensor_details(idx, 0)
            if d["dtype"] not in (np.int8, np.int16) or not d["quantization"][0]:
                continue
            chain = layers_of(d["name"], order)
            if not chain and idx == out_idx and out_path is not None:
                chain = [out_path]
            if not chain:
                continue
            acts = [i for i in op["inputs"] if i >= 0 and i in produced]
            source = None
            if len(acts) == 1:
                sd = it._get_tensor_details(acts[0], 0)
                if sd["dtype"] in (np.int8, np.int16) and sd["quantization"][0]:
                    source = (acts[0], sd)
            matched[chain[-1]] = (idx, d, chain, source)  # the last op of a layer wins
    return matched


def _run(it, x_flat):
    inputs = it.get_input_details()
    for d, x in zip(inputs, x_flat):
        it.resize_tensor_input(d["index"], list(np.shape(x)))
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), x_flat):
        x = np.asarray(x)
        if d["dtype"] in (np.int8, np.uint8, np.int16):
            s, z = d["quantization"]
            x = np.clip(np.round(x / s + z), np.iinfo(d["dtype"]).min, np.iinfo(d["dtype"]).max)
        it.set_tensor(d["index"], x.astype(d["dtype"]))
    it.invoke()


def debug_tflite(model, path, batches, label_batches, target):
    """The `QuantizationReport` of a converted `.tflite` against its float Keras `model`.

    Example:
        >>> debug_tflite(model, "model.tflite", [x], None, targets.get("tflite_int8"))
    """
    from keras_mot import graph

    it = _interpreter(path)
    taps = tap(model)
    order = [c.path for c in taps.calls]
    it.allocate_tensors()
    matched = _match(it, taps, order)
    if not matched:
        raise KerasMotError(
            format_error(
                "No int8 tensor of the .tflite matches a layer of the Keras model by name.",
                received=repr(path),
                fix="Pass the Keras model this .tflite was converted from.",
            )
        )
    stats, has_own = {p: LayerStats(None, None) for p in matched}, {}
    outs_f, outs_q = [], []
    out_index = it.get_output_details()[0]
    for x in batches:
        fv = taps.run(x)
        _run(it, graph.flat_inputs(model, x))
        for p, (idx, d, chain, source) in matched.items():
            q = _dequantized(it, idx, d)
            ref = fv[taps.calls[order.index(p)].output_keys[0]]
            if q.shape != ref.shape:
                continue
            own = _own(it, taps, order, chain, source) if source is not None else None
            if own is not None and own.shape != q.shape:
                own = None
            stats[p].add(ref, q, q if own is not None else None, own)
            has_own[p] = has_own.get(p, True) and own is not None
        y = it.get_tensor(out_index["index"]).astype("float64")
        if out_index["quantization"][0]:
            y = (y - out_index["quantization"][1]) * out_index["quantization"][0]
        outs_f.append(fv[taps.output_keys[0]])
        outs_q.append(y)
    rows = []
    for p, (idx, d, chain, _) in matched.items():
        row = stats[p].row()
        if not stats[p].n:
            continue
        scale = float(d["quantization"][0])
        row.update(scale=scale, rmse_over_scale=row["rmse"] / scale)
        if has_own.get(p):
            row["own_rmse_over_scale"] = row["own_rmse"] / scale
        else:  # no own error measured: sorted by the accumulated error
            for key in ("own_rmse", "own_snr_db", "own_max_abs_error"):
                row.pop(key, None)
            row["own_snr_db"] = -row["rmse"] / scale
        cls = type(taps.calls[order.index(p)].layer).__name__
        rows.append(LayerError(path=p, layer_class=cls, **row))
    f_out, q_out = np.concatenate(outs_f), np.concatenate(outs_q)
    labels = None if label_batches is None else np.concatenate(label_batches)
    return QuantizationReport(
        target.name,
        "tflite",
        rows,
        agreement(f_out, q_out),
        accuracy(f_out, labels),
        accuracy(q_out, labels),
        examples=len(f_out),
    )
