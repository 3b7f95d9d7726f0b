"""`mot.debug(model, data, tflite="model.tflite")`: the converted model's own int8 tensors.

The LiteRT interpreter keeps every intermediate tensor (`experimental_preserve_all_tensors`);
each int8 op output is matched to a Keras layer by name (the converter names a tensor after the
TF ops it fuses, `model_1/conv_1/Relu;model_1/bn_1/batchnorm/add_1;...`, whose path components
are the Keras layer names, possibly suffixed `_1`), the latest such layer in the model's order,
and compared, dequantized with the tensor's own scale and zero point, with that layer's float
output. This is the accumulated error of the deployed model at each layer; the error a layer
adds on its own needs the simulation (`mot.debug` without `tflite=`).

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
    parts = {re.sub(r"_\d+$", "", p) for piece in tensor_name.split(";") for p in piece.split("/")} | {
        p for piece in tensor_name.split(";") for p in piece.split("/")
    }
    best = None
    for i, path in enumerate(order):
        if path.rsplit("/", 1)[-1] in parts:
            best = path
    return best


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
    matched = {}
    for op in it._get_ops_details():
        for idx in op["outputs"]:
            d = it._get_tensor_details(idx, 0)
            scale, _ = d["quantization"]
            if d["dtype"] not in (np.int8, np.int16) or not scale:
                continue
            path = layer_of(d["name"], order)
            if path is not None:
                matched[path] = (idx, d)  # the last op of a layer wins
    if not matched:
        raise KerasMotError(
            format_error(
                "No int8 tensor of the .tflite matches a layer of the Keras model by name.",
                received=repr(path),
                fix="Pass the Keras model this .tflite was converted from.",
            )
        )
    stats = {p: LayerStats(None, None) for p in matched}
    outs_f, outs_q = [], []
    out_index = it.get_output_details()[0]
    for x in batches:
        fv = taps.run(x)
        _run(it, graph.flat_inputs(model, x))
        for p, (idx, d) in matched.items():
            s, z = d["quantization"]
            q = (it.get_tensor(idx).astype("float64") - z) * s
            ref = fv[taps.calls[order.index(p)].output_keys[0]]
            if q.shape == ref.shape:
                stats[p].add(ref, q, None)
        y = it.get_tensor(out_index["index"]).astype("float64")
        if out_index["quantization"][0]:
            y = (y - out_index["quantization"][1]) * out_index["quantization"][0]
        outs_f.append(fv[taps.output_keys[0]])
        outs_q.append(y)
    rows = []
    for p, (idx, d) in matched.items():
        row = stats[p].row()
        if not stats[p].n:
            continue
        scale = float(d["quantization"][0])
        row.update(scale=scale, rmse_over_scale=row["rmse"] / scale)
        for key in ("own_rmse", "own_snr_db", "own_max_abs_error"):
            row.pop(key, None)
        cls = type(taps.calls[order.index(p)].layer).__name__
        rows.append(LayerError(path=p, layer_class=cls, own_snr_db=-row["rmse"] / scale, **row))
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
