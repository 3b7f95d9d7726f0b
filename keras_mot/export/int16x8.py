"""int16x8 conversion that works on transformer graphs (token ids, attention masks, LayerNorm).

`lite.py` sends int16 activations to the calibration-based quantizer
(tensorflow/lite/tools/optimize/quantize_model.cc), never to the MLIR one. Three things in a traced
Keras transformer trip it; keras_mot handles each, computing the same values:

1. **Integer tensors inside the graph** (token ids and their negative-index wrap `where(ids < 0,
   ids + n, ids)` from `keras.ops.take`, the int32 padding mask cast to bool, int32 shape
   arithmetic). The quantizer marks every op without an int16 kernel as real-valued (LESS, CAST,
   ...) and then asks for the calibrated min/max of *all* its inputs; the calibrator records
   float tensors only, so conversion dies with "Max and min for dynamic tensors should be
   recorded during calibration: Failed for tensor args_1". keras_mot converts the float graph,
   gives every integer/bool activation tensor a placeholder range (it is never used: those
   tensors keep their integer type), then runs the same quantizer (`Calibrator.calibrate_and_
   quantize`, what `lite.py` calls). The ids stay int32 from the input to GATHER.
2. **SquaredDifference** (LayerNormalization's variance, `tf.nn.moments`). The quantizer emits an
   int16 SQUARED_DIFFERENCE, but LiteRT's kernel (tflite/kernels/squared_difference.cc) runs
   float32, int32 and int8 only: the model converts, then fails at `invoke` ("SquaredDifference
   only supports FLOAT32 and INT32 now, got 7"). It becomes `Mul(Sub(a, b), Sub(a, b))`.
3. **Neg** (the `-mean` of LayerNormalization) has no 16x8 kernel (operator_property.cc); it
   becomes `Mul(x, -1)`, which has one. Rewrites 2 and 3 act on float tensors only.

Ops that still have no 16x8 kernel stay float between DEQUANTIZE/QUANTIZE (the target allows
float fallback); `keras_mot.export.inspect.float_compute_ops` reports them and the lint predicts
them ("float-fallback").

Example:
    >>> tflite_bytes = convert_int16x8(frozen_concrete_function(model), representative_gen)
"""

_FLOAT_TYPES = (1, 19)  # DT_FLOAT, DT_HALF (tensorflow/core/framework/types.proto)
_PLACEHOLDER_RANGE = ([0.0], [1.0])


def _split_squared_differences(graph_def):
    count = 0
    for node in list(graph_def.node):
        if node.op != "SquaredDifference" or node.attr["T"].type not in _FLOAT_TYPES:
            continue
        diff = graph_def.node.add()
        diff.name, diff.op = node.name + "/keras_mot_sub", "Sub"
        diff.input.extend(node.input[:2])
        diff.attr["T"].CopyFrom(node.attr["T"])
        diff.device = node.device
        controls = [n for n in node.input if n.startswith("^")]
        node.op = "Mul"
        del node.input[:]
        node.input.extend([diff.name, diff.name] + controls)
        count += 1
    return count


def _negs_as_products(graph_def):
    import numpy as np
    from tensorflow.python.framework import tensor_util

    nodes = {node.name: node for node in graph_def.node}
    feeds_erf, frontier = set(), [n.name for n in graph_def.node if n.op in ("Erf", "Erfc")]
    for _ in range(3):  # GELU: Erfc(Mul(Neg(x), 1/sqrt(2))); a few hops up is enough
        frontier = [
            i.lstrip("^").split(":")[0]
            for name in frontier
            for i in nodes[name].input
            if i.lstrip("^").split(":")[0] in nodes
        ]
        feeds_erf.update(frontier)
    count = 0
    for node in list(graph_def.node):
        if node.op != "Neg" or node.attr["T"].type not in _FLOAT_TYPES:
            continue
        if node.name in feeds_erf:  # part of GELU: the converter fuses the pattern as written
            continue
        dtype = np.float32 if node.attr["T"].type == 1 else np.float16
        const = graph_def.node.add()
        const.name, const.op = node.name + "/keras_mot_minus_one", "Const"
        const.attr["dtype"].type = node.attr["T"].type
        const.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(np.array(-1, dtype)))
        node.op = "Mul"
        node.input.insert(1, const.name)
        count += 1
    return count


def rewrite_graph(concrete):
    """A frozen concrete function with SquaredDifference and Neg rewritten (items 2, 3 above).

    Returns:
        `(concrete function, {"squared_difference": n, "neg": m})`; the input function itself
        when nothing matched.
    """
    graph_def = concrete.graph.as_graph_def()
    counts = {
        "squared_difference": _split_squared_differences(graph_def),
        "neg": _negs_as_products(graph_def),
    }
    if not any(counts.values()):
        return concrete, counts
    from tensorflow.python.eager import wrap_function

    inputs = [t.name for t in concrete.inputs]
    outputs = [t.name for t in concrete.outputs]
    return wrap_function.function_from_graph_def(graph_def, inputs, outputs), counts


def with_integer_ranges(tflite_bytes):
    """The float model with a placeholder min/max on every non-float activation tensor (item 1)."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(tflite_bytes, 0)
    float_types = (schema.TensorType.FLOAT32, schema.TensorType.FLOAT16)
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
            constant = buffer is not None and buffer.data is not None and len(buffer.data) > 0
            if tensor.type in float_types or constant:
                continue
            quant = tensor.quantization or schema.QuantizationParametersT()
            if quant.min is None or len(quant.min) == 0:
                quant.min, quant.max = _PLACEHOLDER_RANGE
                tensor.quantization = quant
    builder = flatbuffers.Builder(len(tflite_bytes) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def convert_int16x8(concrete, representative_gen, input_type, output_type, allow_float=True):
    """Converts a frozen concrete function to an int16x8 `.tflite` (see module doc).

    Args:
        concrete: frozen concrete function of the (stripped) model.
        representative_gen: a converter `representative_dataset` generator function.
        input_type, output_type: TF dtypes of the model's float inputs/outputs after conversion
            (`tf.float32` or `tf.int16`).
        allow_float: let ops without a 16x8 kernel stay float (else the quantizer raises).

    Returns:
        The `.tflite` model as bytes.
    """
    import tensorflow as tf
    from tensorflow.lite.python.optimize import calibrator

    concrete, _ = rewrite_graph(concrete)
    float_bytes = tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert()
    quantizer = calibrator.Calibrator(with_integer_ranges(float_bytes))
    return quantizer.calibrate_and_quantize(
        representative_gen,
        input_type,
        output_type,
        allow_float,
        activations_type=tf.int16,
        bias_type=tf.int64,
    )
