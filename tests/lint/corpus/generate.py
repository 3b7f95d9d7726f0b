"""The generated lint corpus: one small model per public `keras.ops` function / `keras.layers` class.

Nothing here is written per op: the generator walks `keras.ops` and `keras.layers`, fills each
required parameter from `_VALUES` (by parameter name: `units=4`, `kernel_size=3`, `k=2`, ...), tries
a few input forms (float / integer / string tensors; one or two tensor arguments; image, sequence,
vector, volume shapes) and keeps the first call that builds a Keras model and runs eagerly. Then
it adds variants: integer inputs for ops that accept them, a dynamic sequence / spatial dimension
for layers, and the `mixed_float16` / `mixed_bfloat16` dtype policies for layers with weights.

`cases()` is deterministic (sorted names, fixed shapes); case names are stable ids such as
`op/sqrt/float`, `op/argmax/int`, `layer/Conv2D/image/mixed_float16`, `layer/GRU/seq_dynamic`.
The verdicts of the real converter for each case live in `verdicts.json` (`record.py`).

Example:
    >>> from tests.lint.corpus.generate import cases
    >>> [c.name for c in cases()][:2]
    ['layer/Activation/celu/seq', ...]
"""

import dataclasses
import functools
import inspect
import itertools
from typing import Callable, Optional, Tuple

import keras
import numpy as np
from keras import layers, ops

# Names of framework / bridge / container classes that are not model layers on their own.
_NOT_LAYERS = {
    "Layer",
    "InputLayer",
    "InputSpec",
    "Wrapper",
    "FlaxLayer",
    "JaxLayer",
    "TorchModuleWrapper",
    "TFSMLayer",
    "Pipeline",
    "GRUCell",
    "LSTMCell",
    "SimpleRNNCell",
    "StackedRNNCells",
    "Lambda",
}
# keras.ops entries that are not graph ops (host-side helpers, dtype queries, transforms).
_NOT_OPS = {
    "convert_to_numpy",
    "convert_to_tensor",
    "is_tensor",
    "dtype",
    "custom_gradient",
    "jvp",
    "vectorize",
    "shape",
    "ndim",
    "size",
    "array",
    "stop_gradient",
    "copy",
    "identity",
}

# Values for required parameters, by parameter name (small, default-like).
_VALUES = {
    "units": 4,
    "filters": 4,
    "kernel_size": 3,
    "num_heads": 2,
    "key_dim": 4,
    "rate": 0.5,
    "stddev": 0.1,
    "n": 2,
    "height": 4,
    "width": 4,
    "scale": 0.5,
    "input_dim": 8,
    "output_dim": 4,
    "num_tokens": 8,
    "num_bins": 8,
    "groups": 2,
    "factor": 0.1,
    "height_factor": 0.1,
    "width_factor": 0.1,
    "target_shape": (-1,),
    "dims": (2, 1),
    "num_query_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 4,
    "equation": "ab,bc->ac",
    "output_shape": 4,
    "k": 2,
    "num_classes": 4,
    "num_segments": 3,
    "repeats": 2,
    "reps": 2,
    "shift": 1,
    "depth": 4,
    "block_size": 2,
    "pool_size": 2,
    "strides": 1,
    "sequence_length": 2,
    "sequence_stride": 1,
    "num_samples": 2,
    "bins": 4,
    "lower": 0,
    "upper": 2,
    "x_min": 0.0,
    "x_max": 1.0,
    "fill_value": 1.0,
    "output_size": 2,
    "value_range": (0.0, 1.0),
    "sequence_length_axis": 1,
    "fft_length": 4,
    "padding": "valid",
    "max_val": 1.0,
}

FLOAT_DATA = (0.1, 0.9)  # uniform range of float inputs (positive: log/sqrt/arcsin are finite)
INT_RANGE = 4  # integer inputs in [1, INT_RANGE] (no log(0) = -inf in calibration)


@dataclasses.dataclass(frozen=True)
class CorpusCase:
    """One generated model: `build()` returns it; `int_input` > 0 for integer inputs."""

    name: str
    build: Callable
    int_input: int = 0
    string_input: bool = False


# --- inputs -------------------------------------------------------------------------------------

_SHAPES = {
    "image": (8, 8, 3),
    "seq": (6, 4),
    "vec": (4,),
    "volume": (4, 4, 4, 2),
    "heads": (6, 2, 4),
}  # (sequence, heads, head dim): attention ops
_OP_FORMS = ("seq", "heads")  # op inputs tried in order


def _input(form, dtype="float32", dynamic=False, name="x"):
    shape = _SHAPES[form]
    if dynamic:
        shape = (None,) + shape[1:] if len(shape) > 1 else (None,)
    return keras.Input(shape, dtype=dtype, name=name)


def sample(model, int_input=0, string_input=False, n=1, seed=0):
    """`n`-row inputs for `model` in the corpus' value ranges (dynamic dims become 3)."""
    rng = np.random.default_rng(seed)
    out = []
    for tensor in model.inputs:
        shape = [n] + [d or 3 for d in tensor.shape[1:]]
        if string_input:
            out.append(np.array(["a", "b", "c"] * n)[:n].reshape([n] + [1] * (len(shape) - 1)))
        elif int_input:
            out.append(rng.integers(1, int_input + 1, shape).astype(tensor.dtype))
        else:
            out.append(rng.uniform(*FLOAT_DATA, shape).astype("float32"))
    return out


# --- op cases -----------------------------------------------------------------------------------


class OpCall(layers.Layer):
    """Applies one keras.ops function, so the op has a layer to be attributed to."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn

    def call(self, *tensors):
        return self.fn(*tensors)


def _index_arg(x):
    return ops.cast(ops.minimum(ops.abs(x[..., :2]), 1), "int32")


# Ops whose arguments are callables or structured: a generic body, still one template per family.
def _control_flow_calls():
    return {
        "fori_loop": lambda x: ops.fori_loop(0, 3, lambda i, v: v * 1.5 + 0.1, x),
        "while_loop": lambda x: ops.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 1.5), (0, x))[1],
        "cond": lambda x: ops.cond(ops.mean(x) > 0.5, lambda: x * 2.0, lambda: x - 1.0),
        "switch": lambda x: ops.switch(
            ops.cast(ops.mean(x) > 0.5, "int32"), [lambda v: v * 2.0, lambda v: v - 1.0], x
        ),
        "map": lambda x: ops.map(lambda row: row * 2.0, x),
        "scan": lambda x: ops.scan(lambda c, v: (c + v, c * v), ops.zeros_like(x[0]), x)[1],
        "associative_scan": lambda x: ops.associative_scan(lambda a, b: a + b, x, axis=1),
        "vectorized_map": lambda x: ops.vectorized_map(lambda row: row * 2.0, x),
        "segment_sum": lambda x: ops.segment_sum(
            x[0], ops.convert_to_tensor([0, 0, 1, 1, 2, 2]), num_segments=3
        ),
        "segment_max": lambda x: ops.segment_max(
            x[0], ops.convert_to_tensor([0, 0, 1, 1, 2, 2]), num_segments=3
        ),
        "scatter_update": lambda x: ops.scatter_update(x, [[0, 0, 0]], [2.0]),
        "scatter": lambda x: ops.scatter([[0, 0], [1, 2]], ops.ravel(x)[:2], (3, 4)),
        "slice_update": lambda x: ops.slice_update(x, (0, 0, 0), ops.ones((1, 2, 2))),
        "take": lambda x: ops.take(x, _index_arg(x), axis=-1),
        "take_along_axis": lambda x: ops.take_along_axis(x, _index_arg(x), axis=-1),
        "get_item": lambda x: x[:, 1:3, ::2],
    }


def _call_variants(name, fn):
    """Argument templates for `fn` from its signature: `[(label, fn_of_x)]` to try in order."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    required = [
        p
        for p in params
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    tensors = [p for p in required if p.name not in _VALUES]
    fixed = {p.name: _VALUES[p.name] for p in required if p.name in _VALUES}
    if len(tensors) == 1:
        return [("unary", lambda x: fn(x, **fixed)), ("list", lambda x: fn([x, x], **fixed))]
    if len(tensors) == 2:  # the second operand differs from the first (no psnr(x, x) = inf)
        return [
            ("binary", lambda x: fn(x, ops.flip(x, axis=1), **fixed)),
            ("binary_axis", lambda x: fn(x, 1, **fixed)),
        ]
    if len(tensors) == 3:
        return [
            ("ternary", lambda x: fn(x > 0.5, x, x * 2.0, **fixed)),
            ("ternary_same", lambda x: fn(x, x, x, **fixed)),
        ]
    if not tensors:
        return [("const", lambda x: x + ops.cast(ops.mean(fn(**fixed)), x.dtype))]
    return []


def _tensor_leaves(out):
    flat = keras.tree.flatten(out)
    if not flat or not all(isinstance(t, keras.KerasTensor) for t in flat):
        return None
    return flat


def _op_model(name, fn, dtype, dynamic, form="seq"):
    inp = _input(form, dtype=dtype, dynamic=dynamic)
    outs = _tensor_leaves(OpCall(fn, name=name)(inp))
    if outs is None:
        raise ValueError("no tensor output")
    return keras.Model(inp, outs if len(outs) > 1 else outs[0], name=name)


def _runs(model, int_input=0, string_input=False):
    import tensorflow as tf  # the corpus is checked against TF's converter

    # Batch 1: the converter calibrates with one example at a time.
    data = [tf.constant(a) for a in sample(model, int_input, string_input, n=1)]
    fn = tf.function(lambda *a: model(list(a) if len(a) > 1 else a[0], training=False))
    for out in keras.tree.flatten(fn(*data)):
        value = out.numpy()
        # Non-finite activations make calibration meaningless (or crash it): not a corpus case.
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError("non-finite output on the corpus data")


def _try(build, int_input=0, string_input=False):
    try:
        model = build()
        _runs(model, int_input, string_input)
        return True
    except Exception:  # noqa: BLE001  (whatever the op refuses, the case is skipped)
        return False


@functools.lru_cache(maxsize=None)
def _op_cases_for(name):
    fn = getattr(keras.ops, name, None)
    if not callable(fn) or name in _NOT_OPS or inspect.isclass(fn) or name.startswith("_"):
        return []
    special = _control_flow_calls()
    templates = [("call", special[name])] if name in special else _call_variants(name, fn)
    for form, (_label, call) in itertools.product(_OP_FORMS, templates):
        build = functools.partial(_op_model, name, call, "float32", False, form)
        if not _try(build):
            continue
        found = [CorpusCase(f"op/{name}/float", build)]
        int_build = functools.partial(_op_model, name, call, "int32", False, form)
        if _try(int_build, int_input=INT_RANGE):
            found.append(CorpusCase(f"op/{name}/int", int_build, int_input=INT_RANGE))
        return found
    return []


def _op_cases():
    return [c for name in sorted(dir(keras.ops)) for c in _op_cases_for(name)]


# --- layer cases --------------------------------------------------------------------------------

_LAYER_ARGS = {  # arguments that are structured values rather than scalars
    "Bidirectional": lambda: {"layer": layers.GRU(4)},
    "TimeDistributed": lambda: {"layer": layers.Dense(4)},
    "RNN": lambda: {"cell": layers.SimpleRNNCell(4)},
    "SpectralNormalization": lambda: {"layer": layers.Dense(4)},
    "StringLookup": lambda: {"vocabulary": ["a", "b"]},
    "IntegerLookup": lambda: {"vocabulary": [1, 2]},
    "Discretization": lambda: {"bin_boundaries": [0.3, 0.6]},
    "Normalization": lambda: {"mean": 0.5, "variance": 0.1},
    "HashedCrossing": lambda: {"num_bins": 8},
    "TextVectorization": lambda: {"vocabulary": ["a", "b"], "output_sequence_length": 2},
    "Dot": lambda: {"axes": -1},
}


def _layer_kwargs(cls):
    if cls.__name__ in _LAYER_ARGS:
        return _LAYER_ARGS[cls.__name__]()
    params = inspect.signature(cls.__init__).parameters.values()
    kwargs = {}
    for p in params:
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is inspect.Parameter.empty:
            if p.name not in _VALUES:
                return None
            kwargs[p.name] = _VALUES[p.name]
    return kwargs


def _layer_model(cls, kwargs, form, arity, dtype="float32", policy=None, dynamic=False, label=None):
    label = label or cls.__name__
    inputs = [_input(form, dtype=dtype, dynamic=dynamic, name=f"x{i}") for i in range(arity)]
    layer = cls(**kwargs(), name=label.lower(), **({"dtype": policy} if policy else {}))
    if arity == 1:
        out = layer(inputs[0])
    elif cls.__name__ in ("MultiHeadAttention", "GroupQueryAttention"):
        out = layer(inputs[0], inputs[1])
    else:
        out = layer(inputs)
    outs = _tensor_leaves(out)
    if outs is None:
        raise ValueError("no tensor output")
    return keras.Model(
        inputs if arity > 1 else inputs[0], outs if len(outs) > 1 else outs[0], name=label.lower()
    )


# (form, dtype, arity, int_input, string_input) tried in order for each layer
_LAYER_FORMS = [
    ("image", "float32", 1, 0, False),
    ("seq", "float32", 1, 0, False),
    ("vec", "float32", 1, 0, False),
    ("volume", "float32", 1, 0, False),
    ("seq", "float32", 2, 0, False),
    ("vec", "int32", 1, 7, False),
    ("vec", "string", 1, 0, True),
]
_POLICIES = ("mixed_float16", "mixed_bfloat16")


def _unique_layer_classes():
    seen, out = set(), []
    for name in sorted(dir(keras.layers)):
        cls = getattr(keras.layers, name)
        if not inspect.isclass(cls) or name.startswith("_") or name in _NOT_LAYERS:
            continue
        if cls in seen or cls.__name__ != name:  # aliases (Convolution2D, AvgPool2D, ...)
            continue
        seen.add(cls)
        out.append(cls)
    return out


@functools.lru_cache(maxsize=None)
def _layer_cases_for(cls):
    kwargs = functools.partial(_layer_kwargs, cls)
    if kwargs() is None:
        return []
    for form, dtype, arity, int_input, string_input in _LAYER_FORMS:
        build = functools.partial(_layer_model, cls, kwargs, form, arity, dtype)
        if not _try(build, int_input, string_input):
            continue
        base = f"layer/{cls.__name__}/{form}" + ("" if dtype == "float32" else f"_{dtype}")
        found = [CorpusCase(base, build, int_input, string_input)]
        if form in ("seq", "image") and not string_input:
            dyn = functools.partial(_layer_model, cls, kwargs, form, arity, dtype, dynamic=True)
            if _try(dyn, int_input):
                found.append(CorpusCase(base + "_dynamic", dyn, int_input))
        if build().weights and dtype == "float32":
            for policy in _POLICIES:
                pol = functools.partial(_layer_model, cls, kwargs, form, arity, dtype, policy)
                if _try(pol, int_input):
                    found.append(CorpusCase(f"{base}/{policy}", pol, int_input))
        return found
    return []


def _layer_cases():
    return [c for cls in _unique_layer_classes() for c in _layer_cases_for(cls)]


@functools.lru_cache(maxsize=None)
def _activation_case(name):
    fn = getattr(keras.activations, name, None)
    if not callable(fn) or name.startswith("_") or name in ("get", "serialize", "deserialize"):
        return []
    build = functools.partial(
        _layer_model, layers.Activation, lambda: {"activation": name}, "seq", 1, label=f"act_{name}"
    )
    return [CorpusCase(f"layer/Activation/{name}/seq", build)] if _try(build) else []


def _activation_cases():
    """`Activation(name)` for every public activation in `keras.activations`."""
    return [c for name in sorted(dir(keras.activations)) for c in _activation_case(name)]


@functools.lru_cache(maxsize=1)
def cases() -> Tuple[CorpusCase, ...]:
    """All generated cases, sorted by name (deterministic for a given Keras version)."""
    keras.config.set_dtype_policy("float32")
    found = _activation_cases() + _layer_cases() + _op_cases()
    names = [c.name for c in found]
    assert len(names) == len(set(names)), "duplicate corpus case names"
    return tuple(sorted(found, key=lambda c: c.name))


def case(name) -> Optional[CorpusCase]:
    """The case called `name` (built on its own, without generating the rest), or None.

    Example:
        >>> case("op/sqrt/float").build().name
        'sqrt'
    """
    parts = name.split("/")
    keras.config.set_dtype_policy("float32")
    if parts[0] == "op":
        found = _op_cases_for(parts[1])
    elif parts[:2] == ["layer", "Activation"] and len(parts) == 4:
        found = _activation_case(parts[2])
    elif parts[0] == "layer":
        cls = getattr(keras.layers, parts[1], None)
        found = _layer_cases_for(cls) if inspect.isclass(cls) else []
    else:
        found = []
    return {c.name: c for c in found}.get(name)


if __name__ == "__main__":
    import collections

    all_cases = cases()
    kinds = collections.Counter(c.name.split("/")[0] for c in all_cases)
    print(len(all_cases), dict(kinds))
    for c in all_cases:
        print(c.name)
