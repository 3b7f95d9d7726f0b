"""`TfliteModel`: a converted `.tflite` parsed once, read by every check of the export.

The flatbuffer is parsed with TensorFlow's own reader (`tensorflow.lite.tools.flatbuffer_utils`
over the generated schema `tensorflow/lite/schema/schema.fbs`): op names come from the schema's
`BuiltinOperator` enum (or the custom code), tensor dtypes from its `TensorType` enum, so no
opcode table is kept here. One object carries the ops of the main subgraph (subgraph 0, the one
the interpreter runs) with their versions, inputs, outputs and builtin options; every tensor with
shape, dtype, quantization parameters, constant data and sparsity parameters; the model's inputs,
outputs and signatures. The converted-model lint, the sparsity and XNNPack checks, parity and the
report all read this object; only parity builds an interpreter.

Example:
    >>> model = TfliteModel(tflite_bytes)
    >>> model.op_counts()
    {'CONV_2D': 1, 'FULLY_CONNECTED': 1, ...}
    >>> model.tensors[model.inputs[0]].dtype
    'int8'
"""

import dataclasses

import numpy as np

# Ops that unpack a constant (their output is as static as their input).
_UNPACK_OPS = ("DENSIFY", "DEQUANTIZE")


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One tensor of the main subgraph.

    Attributes:
        index: tensor index.
        name: tensor name (keeps the TF op names, e.g. `model/conv/Conv2D`).
        shape: static shape (`-1` where dynamic in `shape_signature`).
        shape_signature: shape with `-1` for dynamic dimensions (`None` when absent).
        dtype: element type name, e.g. `"float32"`, `"int8"` (the schema's `TensorType`).
        scale, zero_point: quantization parameters (empty tuples when not quantized; one entry
            per channel along `quantized_dimension` when per-channel).
        quantized_dimension: channel axis of per-channel parameters.
        data: stored values of a constant, flat (`None` for activations and empty buffers).
        sparsity: the schema's `SparsityParametersT` (`None` when stored dense).
    """

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...] | None
    dtype: str
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0
    data: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)
    sparsity: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def step(self):
        """The per-tensor quantization step (`None` when not quantized or per-channel)."""
        return float(self.scale[0]) if len(self.scale) == 1 and self.scale[0] else None


@dataclasses.dataclass(frozen=True)
class OpInfo:
    """One op of the main subgraph.

    Attributes:
        index: position in execution order.
        name: builtin name (e.g. `"CONV_2D"`) or, for a custom / Select TF op, its custom code
            (e.g. `"FlexErf"`).
        version: op version (e.g. FULLY_CONNECTED 8 reads sparse weights).
        inputs, outputs: tensor indices (`-1` for an omitted optional input).
        options: the schema's builtin options object (e.g. `Conv2DOptionsT`) or `None`.
        custom: True for custom and Select TF (Flex) ops.
    """

    index: int
    name: str
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: object = dataclasses.field(default=None, repr=False, compare=False)
    custom: bool = False


# Schema TensorType names whose stored bytes are plain numpy arrays of that dtype; others (int4,
# string, bfloat16, resource, ...) are returned as raw bytes.
_NUMPY_TYPES = frozenset(
    {
        "float16",
        "float32",
        "float64",
        "int8",
        "uint8",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "bool",
        "complex64",
        "complex128",
    }
)


def _np_dtype(name):
    return np.dtype(name if name in _NUMPY_TYPES else np.uint8)


def _tuple(values):
    return () if values is None else tuple(values.tolist() if hasattr(values, "tolist") else values)


class TfliteModel:
    """A `.tflite` flatbuffer parsed once: ops, tensors, inputs, outputs, signatures.

    Args:
        content: the flatbuffer bytes (`converter.convert()` output).

    Attributes:
        content: the bytes.
        ops: `OpInfo` per op of subgraph 0, in execution order.
        tensors: `TensorInfo` per tensor of subgraph 0.
        inputs, outputs: tensor indices of the model's inputs and outputs (interpreter order).
        signatures: `{key: {"inputs": {name: tensor index}, "outputs": {...}}}`.
        subgraphs: number of subgraphs (control flow bodies live in the others).
        producer: tensor index -> index of the op writing it.
        consumers: tensor index -> indices of the ops reading it.

    Example:
        >>> model = TfliteModel(open("model.tflite", "rb").read())
        >>> [op.name for op in model.ops][:2]
        ['CONV_2D', 'DEPTHWISE_CONV_2D']
    """

    def __init__(self, content):
        from tensorflow.lite.tools import flatbuffer_utils

        self.content = bytes(content)
        model = flatbuffer_utils.convert_bytearray_to_object(self.content)
        sub = model.subgraphs[0]
        names = [
            self._op_code_name(flatbuffer_utils, model, i) for i in range(len(model.operatorCodes or ()))
        ]
        self.subgraphs = len(model.subgraphs)
        self.ops = tuple(
            OpInfo(
                i,
                names[op.opcodeIndex][0],
                int(model.operatorCodes[op.opcodeIndex].version),
                _tuple(op.inputs),
                _tuple(op.outputs),
                op.builtinOptions,
                names[op.opcodeIndex][1],
            )
            for i, op in enumerate(sub.operators or ())
        )
        self.tensors = tuple(
            self._tensor(flatbuffer_utils, model, i, t) for i, t in enumerate(sub.tensors or ())
        )
        self.inputs, self.outputs = _tuple(sub.inputs), _tuple(sub.outputs)
        self.signatures = {
            _text(s.signatureKey): {
                "inputs": {_text(t.name): int(t.tensorIndex) for t in s.inputs or ()},
                "outputs": {_text(t.name): int(t.tensorIndex) for t in s.outputs or ()},
            }
            for s in model.signatureDefs or ()
            if s.subgraphIndex == 0
        }
        self.producer, self.consumers = {}, {}
        for op in self.ops:
            for t in op.outputs:
                self.producer[t] = op.index
            for t in op.inputs:
                if t >= 0:
                    self.consumers.setdefault(t, []).append(op.index)

    @classmethod
    def of(cls, tflite):
        """`tflite` itself when already parsed, else `TfliteModel(tflite)` (bytes).

        Example:
            >>> model = TfliteModel.of(tflite_bytes)
            >>> TfliteModel.of(model) is model
            True
        """
        return tflite if isinstance(tflite, cls) else cls(tflite)

    @staticmethod
    def _op_code_name(flatbuffer_utils, model, code_index):
        code = model.operatorCodes[code_index]
        name = flatbuffer_utils.opcode_to_name(model, code_index)
        if name in (None, "CUSTOM"):
            return _text(code.customCode) or "CUSTOM", True
        return name, False

    def _tensor(self, flatbuffer_utils, model, index, tensor):
        dtype = (flatbuffer_utils.type_to_name(tensor.type) or str(tensor.type)).lower()
        q = tensor.quantization
        scale = _tuple(q.scale) if q is not None else ()
        zero = tuple(int(z) for z in _tuple(q.zeroPoint)) if q is not None else ()
        return TensorInfo(
            index=index,
            name=_text(tensor.name),
            shape=tuple(int(s) for s in _tuple(tensor.shape)),
            shape_signature=(
                tuple(int(s) for s in _tuple(tensor.shapeSignature))
                if tensor.shapeSignature is not None
                else None
            ),
            dtype=dtype,
            scale=tuple(float(s) for s in scale),
            zero_point=zero,
            quantized_dimension=int(q.quantizedDimension) if q is not None else 0,
            data=self._data(model, tensor, dtype),
            sparsity=tensor.sparsity,
        )

    def _data(self, model, tensor, dtype):
        buffers = model.buffers or ()
        buf = buffers[tensor.buffer] if 0 < tensor.buffer < len(buffers) else None
        if buf is None:
            return None
        raw = buf.data
        if (raw is None or len(raw) == 0) and getattr(buf, "offset", 0) > 1 and buf.size:
            raw = np.frombuffer(self.content, np.uint8, count=int(buf.size), offset=int(buf.offset))
        if raw is None or len(raw) == 0:
            return None
        raw = np.asarray(raw, np.uint8)
        np_dtype = _np_dtype(dtype)
        if raw.size % np_dtype.itemsize:
            return raw
        return raw.view(np_dtype)

    # ---- graph queries (tensor / op indices), used by the sparsity and XNNPack checks

    def op_name(self, i):
        """Name of op `i` (builtin name or custom code)."""
        return self.ops[i].name

    def op_version(self, i):
        """Version of op `i`."""
        return self.ops[i].version

    def name(self, t):
        """Name of tensor `t`."""
        return self.tensors[t].name

    def shape(self, t):
        """Shape tuple of tensor `t`."""
        return self.tensors[t].shape

    def dtype(self, t):
        """Element type name of tensor `t`."""
        return self.tensors[t].dtype

    def data(self, t):
        """Stored values of constant tensor `t` (flat numpy array) or `None`."""
        return self.tensors[t].data

    def zero_point(self, t):
        """Zero point of a quantized tensor (0 when absent)."""
        zero = self.tensors[t].zero_point
        return int(zero[0]) if zero else 0

    def is_static(self, t):
        """True for constants and for outputs of DENSIFY / DEQUANTIZE of constants."""
        if t < 0 or self.tensors[t].data is not None:
            return True
        p = self.producer.get(t)
        return p is not None and self.ops[p].name in _UNPACK_OPS and self.is_static(self.ops[p].inputs[0])

    # ---- summaries read by the lint and the report

    def op_rows(self):
        """`[{"op", "inputs": [dtype], "outputs": [dtype], "output_names"}]` in execution order.

        Example:
            >>> TfliteModel(tflite_bytes).op_rows()[0]["op"]
            'CONV_2D'
        """
        rows = []
        for op in self.ops:
            ins = [self.tensors[i] for i in op.inputs if i >= 0]
            outs = [self.tensors[i] for i in op.outputs if i >= 0]
            rows.append(
                {
                    "op": op.name,
                    "inputs": [t.dtype for t in ins],
                    "outputs": [t.dtype for t in outs],
                    "output_names": [t.name for t in outs],
                }
            )
        return rows

    def op_counts(self):
        """`{op name: count}`."""
        counts = {}
        for op in self.ops:
            counts[op.name] = counts.get(op.name, 0) + 1
        return counts

    def output_steps(self):
        """Per model output: the quantization step of the integer tensor it comes from.

        For a float output behind a final DEQUANTIZE, the step of the DEQUANTIZE's input;
        `None` for a float output.

        Example:
            >>> TfliteModel(int8_bytes).output_steps()
            [0.0931]
        """
        steps = []
        for t in self.outputs:
            step = self.tensors[t].step
            p = self.producer.get(t)
            if step is None and p is not None and self.ops[p].name == "DEQUANTIZE":
                step = self.tensors[self.ops[p].inputs[0]].step
            steps.append(step)
        return steps


def _text(value):
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
