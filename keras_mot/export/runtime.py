"""Running a `.tflite` model in the LiteRT interpreter (built by `keras_mot.export.interpreter`).

Integer model inputs are quantized from float examples with the input tensor's scale and zero
point, and integer outputs dequantized, so callers always exchange float arrays. One `Runner`
holds one interpreter; parity and timing can share it (`latency_ms` takes a `Runner`).
"""

import time

import numpy as np

from keras_mot.export.interpreter import make_interpreter, runtime_name  # noqa: F401
from keras_mot.export.tflite_model import TfliteModel


def interpreter(tflite_bytes, num_threads=None):
    """An interpreter for the flatbuffer (not yet allocated); see `make_interpreter`.

    Example:
        >>> it = interpreter(open("model.tflite", "rb").read(), num_threads=1)
    """
    return make_interpreter(tflite_bytes, num_threads)[0]


def _to_input(x, detail):
    dtype = np.dtype(detail["dtype"])
    if np.issubdtype(dtype, np.integer) and np.issubdtype(np.asarray(x).dtype, np.floating):
        scale, zero = detail["quantization"]
        if scale:
            info = np.iinfo(dtype)
            return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)
    return np.asarray(x).astype(dtype)


def _from_output(y, detail):
    scale, zero = detail["quantization"]
    if np.issubdtype(y.dtype, np.integer) and scale:
        return (y.astype(np.float32) - zero) * scale
    return y.astype(np.float32) if y.dtype != np.float32 else y


def _input_details(it, n_inputs):
    details = it.get_input_details()
    if len(details) != n_inputs:
        raise ValueError(f"The .tflite model has {len(details)} inputs; got {n_inputs} arrays.")
    return details


class Runner:
    """Runs batches through one interpreter, resizing the batch dimension as needed.

    Args:
        tflite: the model: `.tflite` bytes or a `TfliteModel` (then its parse is reused).
        num_threads: interpreter threads (`None`: the runtime's default).

    Attributes:
        it: the interpreter.
        runtime: which runtime it is (`"ai_edge_litert"`, or `"tf.lite"` as a fallback).

    Example:
        >>> outputs = Runner(tflite_bytes).run([x_val])   # list of float arrays, one per output
    """

    def __init__(self, tflite, num_threads=None):
        self._model = tflite if isinstance(tflite, TfliteModel) else None
        content = tflite.content if self._model is not None else tflite
        self.it, self.runtime = make_interpreter(content, num_threads)
        self._content = content
        self._batch = None

    def _prepare(self, inputs):
        batch = inputs[0].shape[0]
        if batch != self._batch:
            for d, x in zip(_input_details(self.it, len(inputs)), inputs):
                self.it.resize_tensor_input(d["index"], x.shape)
            self.it.allocate_tensors()
            self._batch = batch
        for d, x in zip(self.it.get_input_details(), inputs):
            self.it.set_tensor(d["index"], _to_input(x, d))

    def invoke(self, inputs):
        """One forward pass on `inputs` (list of arrays with the same batch); float outputs."""
        self._prepare(inputs)
        self.it.invoke()
        return [_from_output(self.it.get_tensor(d["index"]), d) for d in self.it.get_output_details()]

    def run(self, inputs, batch_size=64):
        """Forward passes over all examples in chunks of `batch_size`; concatenated outputs."""
        chunks = []
        for start in range(0, inputs[0].shape[0], batch_size):
            chunks.append(self.invoke([x[start : start + batch_size] for x in inputs]))
        return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]

    def output_scales(self):
        """Per output: the quantization step of the integer tensor it comes from (or `None`).

        For a float output behind a final DEQUANTIZE, the step of the DEQUANTIZE's input
        (read from the parsed flatbuffer, `TfliteModel.output_steps`).
        """
        if self._model is None:
            self._model = TfliteModel(self._content)
        return self._model.output_steps()


def latency_ms(tflite, example, num_threads=1, runs=20, warmup=3):
    """Median wall time in milliseconds of one single-example invoke.

    Args:
        tflite: the model (bytes or `TfliteModel`), or a `Runner` to time its interpreter
            (then `num_threads` is the `Runner`'s own).
        example: list of arrays with batch 1 (one per input).
        num_threads: interpreter threads (1 by default, comparable across machines).
        runs: timed invokes.
        warmup: untimed invokes before them.

    Example:
        >>> latency_ms(tflite_bytes, [x_val[:1]])
        0.41
    """
    runner = tflite if isinstance(tflite, Runner) else Runner(tflite, num_threads)
    for _ in range(warmup):
        runner.invoke(example)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.it.invoke()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0)
