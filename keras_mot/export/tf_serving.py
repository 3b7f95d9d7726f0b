"""A TensorFlow SavedModel with int8 / packed int4 weights that dequantizes in its signature.

`serving_module(model)` bakes a weight-only model (`keras_mot.weight_only_wrapper.bake`) and
builds a `tf.Module` that owns, for every quantized weight, an int8 variable of codes (int4
codes packed two per byte) and a float32 variable of scales; every other weight (biases,
normalization) is a float32 variable. Its `serve` function runs the baked Keras model's own
computation through `keras.Model.stateless_call`; Dense, EinsumDense, Conv, DepthwiseConv2D
(int8 per channel) and Embedding layers compute on their codes (`serving_kernels`: the op on
the cast codes, then the per-channel scale; embeddings gather before dequantizing), every other
quantized weight is read as `codes * scales`. No float copy of a quantized weight is stored.
The saved graph holds only TensorFlow ops: it loads with `tf.saved_model.load` without Keras.

int8 per channel: codes keep the weight's shape, scales broadcast over the reduction axes.
int4 in blocks: codes are the `(reduction, channels)` matrix, zero-padded to whole blocks and
packed (row 2i in the low nibble, 2i + 1 in the high nibble; `weight_only.pack_int4`), scales
`(blocks, channels)`.

Example:
    >>> module, stored = serving_module(qmodel)
    >>> save_serving(module, "out/saved_model")  # the `serving_default` signature only
"""

import numpy as np

from keras_mot import graph
from keras_mot.errors import ExportError, format_error
from keras_mot.export.dynamic_kernels import install  # dynamic_int8, else serving_kernels
from keras_mot.export.serving_kernels import unpack_int4
from keras_mot.layers.base import resolve_attr
from keras_mot.quantization.weight_only import pack_int4, quantize_matrix

SIGNATURE = "serving_default"


def _int8_store(value, layout, scheme):
    """`(codes in the weight's shape, scales broadcastable to it)`."""
    shape = value.shape
    codes, scales = quantize_matrix(layout.to_matrix(value), scheme)
    codes = layout.from_matrix(codes[: layout.matrix_shape(shape)[0]], shape)
    scale_shape = [shape[a] if a in layout.channel_axes else 1 for a in range(len(shape))]
    permuted = [scale_shape[a] for a in layout.perm]
    scales = np.transpose(scales.reshape(permuted), np.argsort(layout.perm))
    return codes, scales.astype(np.float32)


class _Dequantizer:
    """Reads one stored weight back as a float tensor inside the serving function."""

    def __init__(self, tf, shape, layout, scheme, codes, scales):
        self.tf, self.shape, self.layout, self.scheme = tf, tuple(shape), layout, scheme
        self.codes, self.scales = codes, scales

    def __call__(self):
        tf = self.tf
        if self.scheme.block_size is None:
            return tf.cast(self.codes, tf.float32) * self.scales
        cols = self.layout.matrix_shape(self.shape)[1]
        codes = unpack_int4(tf, self.codes)
        blocks = int(self.scales.shape[0])
        rows = self.layout.matrix_shape(self.shape)[0]
        # rows = blocks * block_size exactly (an even block size: packing adds no row)
        grid = tf.reshape(tf.cast(codes, tf.float32), (blocks, -1, cols)) * self.scales[:, None, :]
        matrix = tf.reshape(grid, (-1, cols))[:rows]
        permuted = tf.reshape(matrix, [self.shape[a] for a in self.layout.perm])
        if self.layout.perm == tuple(range(len(self.shape))):
            return permuted
        return tf.transpose(permuted, np.argsort(self.layout.perm))


def _packed_codes(value, layout, scheme):
    codes, scales = quantize_matrix(layout.to_matrix(value), scheme)
    return pack_int4(codes), scales


def serving_module(model, compute_dtype=None):
    """A `tf.Module` with integer weight stores and a `serve` tf.function (see module doc).

    Args:
        model: a model prepared with a weight-only scheme (`WeightOnlyWrapper` layers).
        compute_dtype: `"float32"` / `"bfloat16"` (default: the schemes').

    Returns:
        `(module, stored)`: `stored` lists `{"weight", "scheme", "codes", "scales"}` per
        quantized weight (shapes and dtypes).

    Example:
        >>> module, stored = serving_module(qmodel)
    """
    import tensorflow as tf

    from keras_mot.weight_only_wrapper import bake, weight_only_wrappers

    wrappers = weight_only_wrappers(model)
    if not wrappers:
        raise ExportError(
            format_error(
                f"Model '{model.name}' has no weight-only quantized layer.",
                fix="Prepare it with mot.quantize(model, target='tf_serving'), or export the float "
                "model (post-training quantization is then applied).",
            )
        )
    compute = compute_dtype or wrappers[0][1].scheme.compute_dtype
    plain, plan = bake(model)
    if compute == "bfloat16":
        plain, plan = _with_policy(plain, plan, "mixed_bfloat16")
    layers = dict(graph.iter_layers(plain))
    module = tf.Module()
    module.codes, module.scales, module.floats = [], [], []
    readers, stored = {}, []
    for v in plain.weights:
        value = np.asarray(v.numpy() if hasattr(v, "numpy") else v)
        if id(v) not in plan:
            store = tf.Variable(value, trainable=False, name=v.name)
            module.floats.append(store)
            readers[id(v)] = store.read_value
            continue
        path, layout, scheme = plan[id(v)]
        if scheme.block_size is None:
            codes, scales = _int8_store(value, layout, scheme)
        else:
            codes, scales = _packed_codes(value, layout, scheme)
        c = tf.Variable(codes, trainable=False, name=f"{v.name}_codes")
        s = tf.Variable(scales, trainable=False, name=f"{v.name}_scales")
        module.codes.append(c)
        module.scales.append(s)
        readers[id(v)] = _Dequantizer(tf, value.shape, layout, scheme, c, s)
        owner, leaf = _owner(layers, path)
        on_codes = owner is not None and install(owner, leaf, c, s, layout, scheme)
        stored.append(
            {
                "weight": path,
                "scheme": scheme.name,
                "codes": list(codes.shape),
                "codes_dtype": "int8",
                "scales": list(scales.shape),
                "serving": "computes on codes" if on_codes else "dequantizes",
            }
        )
    specs = [
        tf.TensorSpec((None,) + tuple(t.shape[1:]), t.dtype, name=key)
        for t, key in zip(graph.functional_view(plain).inputs, graph.input_keys(plain))
    ]
    trainable, non_trainable = plain.trainable_variables, plain.non_trainable_variables

    @tf.function(input_signature=specs)
    def serve(*inputs):
        values = [readers[id(v)]() for v in trainable]
        others = [readers[id(v)]() for v in non_trainable]
        out, _ = plain.stateless_call(values, others, graph.pack_inputs(plain, list(inputs)), training=False)
        flat = [tf.cast(o, tf.float32) if o.dtype == tf.bfloat16 else o for o in tf.nest.flatten(out)]
        return {f"output_{i}": o for i, o in enumerate(flat)}

    module.serve = serve
    module.serve.get_concrete_function()  # trace now: errors belong to this stage
    return module, stored


def _owner(layers, path):
    """`(layer owning the weight, its attribute name)` for a stored weight's `path`
    (`"<layer path>/<attribute>"`), or `(None, None)`."""
    layer_path, attr = path.rsplit("/", 1)
    layer = layers.get(layer_path)
    if layer is None:
        return None, None
    if "." in attr:
        holder, attr = attr.rsplit(".", 1)
        try:
            layer = resolve_attr(layer, holder)
        except AttributeError:
            return None, None
    return layer, attr


def _with_policy(plain, plan, policy):
    """The baked model rebuilt under dtype policy `policy` (bfloat16 compute)."""

    def convert(cfg):
        if isinstance(cfg, dict):
            if cfg.get("class_name") == "DTypePolicy" and cfg.get("config", {}).get("name") == "float32":
                return {**cfg, "config": {**cfg["config"], "name": policy}}
            return {k: convert(v) for k, v in cfg.items()}
        if isinstance(cfg, list):
            return [convert(v) for v in cfg]
        return cfg

    try:
        rebuilt = plain.__class__.from_config(convert(plain.get_config()))
        rebuilt.set_weights(plain.get_weights())
    except Exception as error:  # noqa: BLE001
        raise ExportError(
            format_error(
                f"Model '{plain.name}' could not be rebuilt for bfloat16 compute.",
                received=f"{type(error).__name__}: {str(error)[:300]}",
                fix="Use a float32-compute scheme (e.g. 'int8_weight_only')",
            )
        ) from error
    by_index = {id(v): plan.get(id(old)) for v, old in zip(rebuilt.weights, plain.weights)}
    return rebuilt, {k: v for k, v in by_index.items() if v is not None}


def save_serving(module, path):
    """Writes `module` as a SavedModel at `path` with its `serving_default` signature."""
    import tensorflow as tf

    # Only the traced signature is saved: saving the `serve` tf.function as well would trace it
    # again (in the save context) and store a second copy of the whole serving graph.
    stores = tf.Module()
    stores.codes, stores.scales, stores.floats = module.codes, module.scales, module.floats
    tf.saved_model.save(stores, path, signatures={SIGNATURE: module.serve.get_concrete_function()})


def saved_variables(path):
    """`[(name, dtype, shape)]` of the variables stored in the SavedModel at `path`."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(f"{path}/variables/variables")
    dtypes = reader.get_variable_to_dtype_map()
    return [
        (name, dtypes[name].name, tuple(shape))
        for name, shape in sorted(reader.get_variable_to_shape_map().items())
        if "VARIABLE_VALUE" in name
    ]
