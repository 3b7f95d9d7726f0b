"""The pruning benchmark protocol, shared by the tfmot peer and the keras_mot side.

Two models, both trained on the embedded digits data and built from the calling side's Keras
module (this module imports neither keras_mot nor a Keras package):
- `build_mlp`: 64 -> 512 -> [2048 -> 2048 -> 512] -> 10, the bracketed Dense layers pruned
  (the 512->2048->2048->512 core of a hand-pruned MLP, where TFLite's sparse
  FULLY_CONNECTED kernel is measured 4.3x faster at 90 % zeros in 1x4 blocks).
- `build_mobilenet_xnnpack`: a small MobileNet-style net whose stem is ZeroPadding2D(1) +
  Conv2D(3x3, stride 2, "valid") on 3 channels and whose last op is a keepdims global average
  pool: the shape XNNPack's sparse (NCHW) path needs as entry and exit.

Measurements (`measure`): sparsity of the pruned kernels, whether every block of the promised
shape is all-zero or all-nonzero, accuracy of the float TFLite model in the interpreter, gzip
size of the .tflite, 1-thread latency (median of 200 invokes, batch 1, best of 3 rounds), and what the flatbuffer
holds (tensors stored sparse, their block shape, DENSIFY ops).

Example:
    >>> model = build_mlp(keras)
"""

import argparse
import time

import common
import numpy as np

MLP_PRUNED = ("fc_2048a", "fc_2048b", "fc_512")
MLP_SPARSITY = 0.9
CNN_SPARSITY = 0.8


def parse_args(argv=None, description=""):
    """Command-line arguments shared by both pruning sides (--epochs, --prune-epochs, ...).

    Example:
        >>> args = parse_args(["--parts", "mlp"])
    """
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=10, help="dense training epochs")
    p.add_argument("--prune-epochs", type=int, default=10, help="pruning fine-tune epochs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parts", default="mlp,cnn", help="comma-separated: mlp, cnn")
    return p.parse_args(argv)


def mlp_data():
    """Digits as flat 64-feature vectors: (x_train, y_train, x_test, y_test)."""
    x_tr, y_tr = common.load_digits("train", None, channels=1, seed=0)
    x_te, y_te = common.load_digits("test", None, channels=1, seed=0)
    return x_tr.reshape(len(x_tr), -1), y_tr, x_te.reshape(len(x_te), -1), y_te


def cnn_data():
    """Digits at 32x32x3: (x_train, y_train, x_test, y_test)."""
    x_tr, y_tr = common.load_digits("train", (32, 32), channels=3, seed=0)
    x_te, y_te = common.load_digits("test", (32, 32), channels=3, seed=0)
    return x_tr, y_tr, x_te, y_te


def build_mlp(keras):
    """The benchmark MLP; the layers named in MLP_PRUNED are the ones to prune.

    Example:
        >>> build_mlp(keras).count_params()
        6334474
    """
    inp = keras.Input((64,))
    x = keras.layers.Dense(512, activation="relu", name="fc_in")(inp)
    x = keras.layers.Dense(2048, activation="relu", name="fc_2048a")(x)
    x = keras.layers.Dense(2048, activation="relu", name="fc_2048b")(x)
    x = keras.layers.Dense(512, activation="relu", name="fc_512")(x)
    out = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inp, out, name="mlp")


def _dw_block(keras, x, filters, stride, i):
    L = keras.layers
    if stride == 2:
        x = L.ZeroPadding2D(1, name=f"pad{i}")(x)
        x = L.DepthwiseConv2D(3, strides=2, padding="valid", use_bias=False, name=f"dw{i}")(x)
    else:
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i}")(x)
    x = L.BatchNormalization(momentum=0.9, name=f"dw{i}_bn")(x)
    x = L.ReLU(6.0, name=f"dw{i}_relu")(x)
    x = L.Conv2D(filters, 1, use_bias=False, name=f"pw{i}")(x)
    x = L.BatchNormalization(momentum=0.9, name=f"pw{i}_bn")(x)
    return L.ReLU(6.0, name=f"pw{i}_relu")(x)


def build_mobilenet_xnnpack(keras, input_shape=(32, 32, 3), classes=10):
    """MobileNet-v1-style net shaped for XNNPack's sparse path (1x1 convs are the ones to prune).

    Example:
        >>> build_mobilenet_xnnpack(keras).output.shape
        (None, 10)
    """
    L = keras.layers
    inp = keras.Input(input_shape)
    x = L.ZeroPadding2D(1, name="stem_pad")(inp)
    x = L.Conv2D(16, 3, strides=2, padding="valid", use_bias=False, name="stem")(x)
    x = L.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu")(x)
    for i, (filters, stride) in enumerate([(32, 1), (64, 2), (64, 1), (128, 2), (128, 1)]):
        x = _dw_block(keras, x, filters, stride, i)
    x = L.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(classes, name="logits")(x)
    return keras.Model(inp, out, name="mobilenet_xnnpack")


def kernel_sparsity(model, names=None):
    """{layer name: fraction of zeros in its kernel} for Dense/Conv kernels (all if names=None)."""
    out = {}
    for layer in model.layers:
        if names is not None and layer.name not in names:
            continue
        kernels = [w for w in layer.weights if w.name.split("/")[-1].startswith("kernel")]
        if kernels and len(kernels[0].shape) >= 2:
            k = np.asarray(kernels[0])
            out[layer.name] = float(np.mean(k == 0))
    return out


def block_exact(kernel, block):
    """Fraction of (rows, cols) blocks of a 2-D (Keras Dense: in x out) kernel that are all-zero or
    all-nonzero; 1.0 means the kernel follows the block pattern exactly.

    Example:
        >>> block_exact(np.zeros((8, 8)), (4, 1))
        1.0
    """
    k = np.asarray(kernel).reshape(-1, kernel.shape[-1])
    r, c = block
    if k.shape[0] % r or k.shape[1] % c:
        return 0.0
    z = (k == 0).reshape(k.shape[0] // r, r, k.shape[1] // c, c)
    zeros = z.sum(axis=(1, 3))
    return float(np.mean((zeros == 0) | (zeros == r * c)))


def flatbuffer_sparsity(tflite_bytes):
    """What the converter stored sparse: tensors with sparsity metadata and DENSIFY ops.

    Returns:
        {"sparse_tensors": [{"name", "shape", "block"}], "densify_ops": int, "ops": {op: count}},
        where "block" is the dense block shape of a block-sparse tensor in TFLite's layout
        ((out, in) for FULLY_CONNECTED) or None for random-sparse (CSR) storage.
    """
    interp = common._interpreter(tflite_bytes)
    sparse = []
    for t in interp.get_tensor_details():
        sp = t.get("sparsity_parameters") or {}
        if not sp:
            continue
        rank = len(t["shape"])
        dims = sp.get("dim_metadata", [])
        block_dims = [d.get("dense_size") for d in dims[rank:]] if len(dims) > rank else None
        block = [1] * rank
        for pos, size in zip(sp.get("block_map", []), block_dims or []):
            block[int(pos)] = int(size)
        sparse.append(
            {"name": t["name"], "shape": [int(s) for s in t["shape"]], "block": block if block_dims else None}
        )
    counts = {}
    for op in common.tflite_ops(tflite_bytes):
        counts[op["op"]] = counts.get(op["op"], 0) + 1
    return {"sparse_tensors": sparse, "densify_ops": counts.get("DENSIFY", 0), "ops": counts}


def convert_float(tf, keras_model, sparsity=True):
    """Float TFLite (Optimize.EXPERIMENTAL_SPARSITY when `sparsity`); returns (bytes, seconds)."""
    t0 = time.perf_counter()
    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if sparsity:
        conv.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    data = conv.convert()
    return data, time.perf_counter() - t0


def measure(tflite_bytes, x_test, y_test):
    """Accuracy, gzip size, 1-thread latency and flatbuffer sparsity of a float TFLite model."""
    logits = common.run_tflite(tflite_bytes, x_test)
    return {
        "tflite_acc": float(np.mean(common.top1(logits) == y_test)),
        "tflite_bytes": len(tflite_bytes),
        "gzip_bytes": common.gzip_size(tflite_bytes),
        "latency_ms": common.latency_ms(tflite_bytes, x_test[:1], num_threads=1, runs=200),
        "flatbuffer": flatbuffer_sparsity(tflite_bytes),
    }
