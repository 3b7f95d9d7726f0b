"""Shared helpers of the benchmarks, importable on both sides of a peer comparison.

This module never imports `keras_mot`, `keras` or `tf_keras`: the peer side runs it inside the
tensorflow-model-optimization virtualenv (legacy tf_keras), our side inside the main environment
(Keras 3). Functions that need a Keras flavour take the `keras` module as an argument; TensorFlow is
imported lazily where a function needs it.

What lives here:
- `load_digits`: the embedded digits data, split and preprocessed exactly as
  `keras_mot/garden/digits.py` does (stratified 70/15/15, per-class shuffle with
  `numpy.random.default_rng(seed)`, /16 scaling, bilinear resize, gray repeated to 3 channels).
- `build_mobilenetv2`: keras.applications MobileNetV2 rebuilt with BatchNormalization momentum 0.9.
- `StepTimer` factory, `median`: per-step wall time of `fit`.
- `run_tflite`, `tflite_ops`, `float_compute_ops`: run a `.tflite` and inspect its op dtypes.
- `ptq_int8`: post-training full-integer conversion, for reference.

Example:
    >>> x, y = load_digits("test", image_size=(32, 32), channels=3)
    >>> x.shape
    (270, 32, 32, 3)
"""

import gzip
import json
import os
import statistics
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS_NPZ = os.path.join(REPO_ROOT, "keras_mot", "data", "digits.npz")
_FRACTIONS = (0.70, 0.15)  # train, validation; the rest is test (as keras_mot/garden/digits.py)

# TFLite ops that only move, reshape or (de)quantize data; every other op is a compute op.
# Used to tell whether an "int8" model still computes in float (DESIGN.md §5 "Fully integer").
NON_COMPUTE_OPS = frozenset(
    {
        "QUANTIZE",
        "DEQUANTIZE",
        "RESHAPE",
        "SQUEEZE",
        "EXPAND_DIMS",
        "SHAPE",
        "DENSIFY",
    }
)


def load_digits(split="train", image_size=None, channels=1, seed=0, path=None):
    """Loads a split of the embedded digits set without importing keras_mot or keras.

    Mirrors `keras_mot.garden.digits.load_digits` (the bench smoke test checks they agree bit
    for bit). Resizing uses `tf.image.resize(method="bilinear", antialias=False)`, which is what
    `keras.ops.image.resize` calls on the TensorFlow backend.

    Args:
        split: "train", "validation", "test" or "all".
        image_size: (height, width) to resize to, or None for the native 8x8.
        channels: 1 or 3 (gray repeated).
        seed: seed of the stratified split.
        path: the digits .npz (default: the copy shipped in keras_mot/data).

    Returns:
        (images, labels): float32 (N, H, W, channels) in [0, 1], int32 (N,).

    Example:
        >>> x, y = load_digits("train", image_size=(32, 32), channels=3)
    """
    if split not in ("train", "validation", "test", "all"):
        raise ValueError(
            f"Unknown digits split. Received: split={split!r}. Use one of: train, validation, test, all."
        )
    if channels not in (1, 3):
        raise ValueError(f"Digits images have 1 or 3 channels. Received: channels={channels!r}.")
    with np.load(path or DIGITS_NPZ) as data:
        images = data["images"].astype(np.float32) / 16.0
        labels = data["labels"].astype(np.int32)
    idx = _split_indices(labels, split, seed)
    x = images[idx][..., None]
    if image_size is not None and tuple(image_size) != (8, 8):
        import tensorflow as tf

        x = tf.image.resize(x, tuple(image_size), method="bilinear", antialias=False).numpy()
        x = np.clip(x, 0.0, 1.0).astype(np.float32)
    if channels == 3:
        x = np.repeat(x, 3, axis=-1)
    return x.astype(np.float32), labels[idx]


def _split_indices(labels, split, seed):
    if split == "all":
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    parts = {"train": [], "validation": [], "test": []}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_train = int(round(len(idx) * _FRACTIONS[0]))
        n_val = int(round(len(idx) * _FRACTIONS[1]))
        parts["train"].append(idx[:n_train])
        parts["validation"].append(idx[n_train : n_train + n_val])
        parts["test"].append(idx[n_train + n_val :])
    return np.sort(np.concatenate(parts[split]))


def set_bn_momentum(config, momentum):
    """Returns a copy of a Keras model config with every BatchNormalization momentum replaced.

    keras.applications builds BatchNormalization with momentum 0.999, so after a few hundred
    steps the moving statistics still reflect initialisation and a short run evaluates at chance.
    Works on Keras 3 and tf_keras configs (both nest layers as {"class_name", "config"}).

    Example:
        >>> cfg = set_bn_momentum(model.get_config(), 0.9)
    """
    if isinstance(config, dict):
        out = {k: set_bn_momentum(v, momentum) for k, v in config.items()}
        if out.get("class_name") == "BatchNormalization" and isinstance(out.get("config"), dict):
            out["config"] = dict(out["config"], momentum=momentum)
        return out
    if isinstance(config, list):
        return [set_bn_momentum(v, momentum) for v in config]
    return config


def random_images(n, image_size, classes=10, seed=0):
    """Uniform [0, 1) RGB images and integer labels for step-time runs (content does not matter).

    >>> x, y = random_images(4, 8)
    >>> x.shape, y.shape
    ((4, 8, 8, 3), (4,))
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, image_size, image_size, 3)).astype("float32")
    return x, rng.integers(0, classes, n).astype("int32")


def build_mobilenetv2(keras, input_shape=(32, 32, 3), classes=10, alpha=0.35, bn_momentum=0.9):
    """keras.applications MobileNetV2 (weights=None, logits out) with BN momentum `bn_momentum`.

    Args:
        keras: the Keras module of the calling side (`keras` 3 or `tf_keras`).

    Example:
        >>> import keras
        >>> model = build_mobilenetv2(keras)
    """
    base = keras.applications.MobileNetV2(
        input_shape=input_shape, alpha=alpha, weights=None, classes=classes, classifier_activation=None
    )
    return keras.Model.from_config(set_bn_momentum(base.get_config(), bn_momentum))


def float_and_qat_step_models(keras, mot, batch_size):
    """`(x, y, [("float", model), ("qat", qmodel)])`: the bench MobileNetV2 and its QAT model,
    compiled as the step-time benches train them (Adam 1e-4; the QAT model's lint off, its own
    trace not being the step) with the optimizer built, and random images of the bench shape."""
    keras.utils.set_random_seed(0)
    x, y = random_images(max(64, batch_size), 32)
    model = build_mobilenetv2(keras, (32, 32, 3), classes=10)
    qmodel = mot.quantize(model, calibration_data=x[:64])
    for name, m in (("float", model), ("qat", qmodel)):
        extra = {"lint": "off"} if name == "qat" else {}
        m.compile(
            optimizer=keras.optimizers.Adam(1e-4),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            **extra,
        )
        m.optimizer.build(m.trainable_variables)
    return x, y, [("float", model), ("qat", qmodel)]


def step_timer(keras, warmup=5):
    """Returns a `keras.callbacks.Callback` recording the wall time of each training step.

    The first `warmup` steps of every `fit` call (tracing, allocation) are not recorded.

    Example:
        >>> timer = step_timer(keras)
        >>> model.fit(x, y, callbacks=[timer]); median(timer.times)
    """

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []
            self._seen = 0
            self._t0 = None

        def on_train_begin(self, logs=None):
            self._seen = 0

        def on_train_batch_begin(self, batch, logs=None):
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            dt = time.perf_counter() - self._t0
            self._seen += 1
            if self._seen > warmup:
                self.times.append(dt)

    return StepTimer()


def median(values):
    """Median of a non-empty sequence, or None when it is empty."""
    return statistics.median(values) if values else None


def _interpreter(tflite_bytes, num_threads=None):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # the peer venv may lack it; tf.lite's interpreter runs the same kernels
        from tensorflow.lite.python.interpreter import Interpreter
    return Interpreter(model_content=tflite_bytes, num_threads=num_threads)


def run_tflite(tflite_bytes, x, batch_size=64):
    """Runs a single-input, single-output TFLite model on `x`; returns float32 outputs.

    Integer inputs are quantized and integer outputs dequantized with the tensors' own
    scale/zero-point, so the result is comparable with the Keras model's logits.

    Example:
        >>> logits = run_tflite(tflite_bytes, x_test)
    """
    interp = _interpreter(tflite_bytes)
    inp = interp.get_input_details()[0]
    outs = []
    for start in range(0, len(x), batch_size):
        xb = np.asarray(x[start : start + batch_size], np.float32)
        interp.resize_tensor_input(inp["index"], list(xb.shape))
        interp.allocate_tensors()
        inp = interp.get_input_details()[0]
        out = interp.get_output_details()[0]
        if inp["dtype"] != np.float32:
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            xb = np.clip(np.round(xb / scale + zero), info.min, info.max).astype(inp["dtype"])
        interp.set_tensor(inp["index"], xb)
        interp.invoke()
        yb = interp.get_tensor(out["index"])
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            yb = (yb.astype(np.float32) - zero) * scale
        outs.append(yb.astype(np.float32))
    return np.concatenate(outs)


def tflite_ops(tflite_bytes):
    """Lists the ops of a TFLite model as dicts {op, input_dtypes, output_dtypes}.

    Example:
        >>> [o["op"] for o in tflite_ops(b)][:2]
        ['QUANTIZE', 'CONV_2D']
    """
    interp = _interpreter(tflite_bytes)
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in interp.get_tensor_details()}
    ops = []
    for op in interp._get_ops_details():  # no public API lists ops; stable in tf.lite and litert
        ops.append(
            {
                "op": op["op_name"],
                "input_dtypes": [dtypes.get(i, "?") for i in op["inputs"] if i >= 0],
                "output_dtypes": [dtypes.get(i, "?") for i in op["outputs"] if i >= 0],
            }
        )
    return ops


def float_compute_ops(tflite_bytes):
    """Compute ops (anything but (de)quantize/reshape-like ops) that read a float32 tensor.

    Returns:
        A sorted list of op names, one entry per op (so its length is the count).

    Example:
        >>> float_compute_ops(int8_model_bytes)
        []
    """
    return sorted(
        o["op"]
        for o in tflite_ops(tflite_bytes)
        if o["op"] not in NON_COMPUTE_OPS and "float32" in o["input_dtypes"]
    )


def ptq_int8(tf, keras_model, representative_x):
    """Post-training full-integer quantization (float I/O) of a Keras model, for reference.

    Args:
        tf: the tensorflow module (its `tf.keras` flavour must match `keras_model`'s when the
            peer runs under TF_USE_LEGACY_KERAS=1; Keras 3 models go through model export).
        representative_x: float32 array of calibration inputs, one sample per row.

    Returns:
        (tflite_bytes, seconds spent converting).

    Example:
        >>> b, secs = ptq_int8(tf, model, x_train[:100])
    """

    def rep():
        for i in range(len(representative_x)):
            yield [np.asarray(representative_x[i : i + 1], np.float32)]

    t0 = time.perf_counter()
    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    data = conv.convert()
    return data, time.perf_counter() - t0


def top1(logits):
    """Argmax over the last axis."""
    return np.argmax(logits, axis=-1)


def gzip_size(data):
    """Size in bytes of `data` compressed with gzip level 9."""
    return len(gzip.compress(data, compresslevel=9))


def latency_ms(tflite_bytes, x, num_threads=1, runs=200, warmup=20, rounds=3):
    """Median latency (ms) of `invoke()` on one input batch, `num_threads` threads.

    The 2-core machine is shared, so the median is taken over `runs` invokes in each of
    `rounds` rounds and the lowest round median is returned (a transient load only slows
    some rounds).

    `x` is an array (a single-input model) or a dict of arrays (the Keras model's input dict).

    Example:
        >>> latency_ms(b, x_test[:1])
    """
    interp = _interpreter(tflite_bytes, num_threads=num_threads)
    details = interp.get_input_details()
    if isinstance(x, dict):  # the converter's inputs follow the flattened (key-sorted) dict
        feeds = list(zip(details, [x[k] for k in sorted(x)]))
    else:
        feeds = [(details[0], x)]
    for d, v in feeds:
        interp.resize_tensor_input(d["index"], list(np.shape(v)))
    interp.allocate_tensors()
    for d, v in feeds:
        d = next(a for a in interp.get_input_details() if a["index"] == d["index"])
        v = np.asarray(
            v,
            d["dtype"] if np.issubdtype(d["dtype"], np.integer) and not d["quantization"][0] else np.float32,
        )
        if v.dtype != d["dtype"]:
            scale, zero = d["quantization"]
            v = np.round(v / scale + zero).astype(d["dtype"])
        interp.set_tensor(d["index"], v)
    for _ in range(warmup):
        interp.invoke()
    medians = []
    for _ in range(rounds):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            interp.invoke()
            times.append((time.perf_counter() - t0) * 1e3)
        medians.append(statistics.median(times))
    return min(medians)


def emit(result):
    """Prints `result` as one JSON object on a single line (the last line a driver reads)."""
    print(json.dumps(result, sort_keys=True, default=float), flush=True)


def parse_last_json(stdout):
    """Returns the JSON object on the last non-empty line of `stdout`, or None."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line:
            try:
                obj = json.loads(line)
            except ValueError:
                return None
            return obj if isinstance(obj, dict) else None
    return None
