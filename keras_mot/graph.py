"""Reading Keras 3 Functional graphs: nodes in topological order, consumers, layer cloning.

Only Functional and Sequential models have a graph keras_mot can rewrite; a subclassed model
gets a clear error.
"""

import keras
import numpy as np

from keras_mot.errors import KerasMotError, format_error
from keras_mot.findings import Finding


def functional_view(model):
    """The Functional graph behind `model` (a Sequential's inner Functional)."""
    if isinstance(model, keras.Sequential):
        inner = getattr(model, "_functional", None)
        if inner is None:
            raise KerasMotError(
                format_error(
                    f"Sequential model '{model.name}' has no input shape yet.",
                    received="an unbuilt Sequential",
                    fix="Start it with keras.Input(shape=...) or call build() first.",
                )
            )
        return inner
    if (
        not hasattr(model, "_nodes_by_depth")
        or not getattr(model, "_is_graph_network", True)
        or not hasattr(model, "inputs")
        or model.inputs is None
    ):
        raise KerasMotError(
            format_error(
                f"Model '{model.name}' is not a Functional or Sequential model.",
                received=type(model).__name__,
                fix="keras_mot rewrites layer graphs: build the model with the Functional API "
                "(keras.Model(inputs, outputs)) or keras.Sequential.",
            )
        )
    return model


def is_graph_model(obj):
    """True for Functional and Sequential models (which keras_mot rewrites recursively)."""
    return isinstance(obj, keras.Model) and (
        isinstance(obj, keras.Sequential) or hasattr(obj, "_nodes_by_depth")
    )


def ordered_nodes(model):
    """Non-input nodes of a Functional model in execution order."""
    fm = functional_view(model)
    out = []
    for depth in sorted(fm._nodes_by_depth, reverse=True):
        for node in fm._nodes_by_depth[depth]:
            if node.operation is not None and not node.is_input:
                out.append(node)
    return out


def consumers(model):
    """`{id(KerasTensor): [node, ...]}`: which nodes of `model` read each tensor."""
    result = {}
    for node in ordered_nodes(model):
        for t in node.input_tensors:
            result.setdefault(id(t), []).append(node)
    return result


def node_count(model, operation):
    """How many nodes of `model` call `operation` (shared layers have several)."""
    return sum(1 for n in ordered_nodes(model) if n.operation is operation)


def clone_layer(layer):
    """A fresh copy of `layer` with the same config and weights (no shared variables)."""
    new = layer.__class__.from_config(layer.get_config())
    build_config = layer.get_build_config() if layer.built else None
    if build_config:
        new.build_from_config(build_config)
    if layer.weights:
        new.set_weights(layer.get_weights())
    return new


def clone_or_keep(layer):
    """`clone_layer(layer)`, or `layer` itself when its config and weights do not round-trip
    (a subclassed layer whose `get_config` does not rebuild it): a float layer keras_mot does
    not change is then shared rather than copied wrong."""
    try:
        return clone_layer(layer)
    except Exception:  # noqa: BLE001 - any failure of from_config / build / set_weights
        return layer


_LIBRARY_MODULES = ("keras.", "keras_hub.", "keras_mot.")


def copy_for_new_model(layer, trusted=False):
    """`(layer to call in a rewritten model, why it is shared)`.

    A layer with weights is copied (`clone_layer`) so that training the new model leaves the
    source model's weights alone; `why` is then `None`. Layers without weights are used as they
    are (nothing to share). A copy is made only of classes whose config is known to rebuild them
    (Keras, KerasHub and keras_mot layers, or `trusted=True`: a class keras_mot has an adapter
    for): a user's subclassed layer with an incomplete `get_config` would otherwise be copied
    wrong without a sign. Otherwise, or when copying fails, the original layer is returned with
    the reason, for the caller to report.

    Example:
        >>> new, why = copy_for_new_model(model.get_layer("layer_norm"))
        >>> why is None
        True
    """
    if not isinstance(layer, keras.layers.Layer) or not layer.weights:
        return layer, None
    if not (trusted or type(layer).__module__.startswith(_LIBRARY_MODULES)):
        return layer, (
            f"{type(layer).__name__} is neither a Keras / KerasHub layer nor one keras_mot has an "
            "adapter for, so a copy made from its config is not trusted"
        )
    try:
        return clone_layer(layer), None
    except Exception as error:  # noqa: BLE001 - any failure of from_config / build / set_weights
        return layer, f"copying it from its config failed ({type(error).__name__}: {error})"


def shared_layer_finding(path, layer, why):
    """The warning for a float layer the rewritten model shares with the source model.

    Example:
        >>> finding = shared_layer_finding("block/norm", layer, "copying it failed")
        >>> finding.code
        'shared-with-source'
    """
    return Finding(
        layer=path,
        op=None,
        severity="warning",
        code="shared-with-source",
        message=f"left float and shared with the source model ({why}): training the returned "
        "model also changes this layer's weights in the original model.",
        fix="Keep an untouched copy of the original if you need it (save it first), or give the "
        "layer a get_config() that rebuilds it.",
    )


def new_inputs_like(fm):
    """Fresh `keras.Input`s with the shapes, dtypes and names of `fm`'s inputs."""
    result = []
    for t in fm.inputs:
        history = getattr(t, "_keras_history", None)
        name = history.operation.name if history is not None else None
        result.append(keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype, name=name))
    return result


def map_layers(model, fn):
    """Rebuilds `model` with every layer replaced by `fn(layer)` (nested models recursively).

    `fn` returns the replacement layer (or the same layer object to keep it shared). Non-layer
    operations are re-applied as they are.
    """
    fm = functional_view(model)
    new_inputs = new_inputs_like(fm)
    tensor_map = {id(o): n for o, n in zip(fm.inputs, new_inputs)}
    replaced = {}
    for node in ordered_nodes(fm):
        op = node.operation
        if is_graph_model(op):
            new_op = replaced.setdefault(id(op), map_layers(op, fn))
        elif isinstance(op, keras.layers.Layer):
            new_op = replaced.setdefault(id(op), fn(op))
        else:
            new_op = op
        args, kwargs = node.arguments.fill_in(tensor_map)
        out = new_op(*args, **kwargs)
        for orig, new in zip(node.outputs, keras.tree.flatten(out)):
            tensor_map[id(orig)] = new
    outputs = keras.tree.pack_sequence_as(fm._outputs_struct, [tensor_map[id(t)] for t in fm.outputs])
    return keras.Model(keras.tree.pack_sequence_as(fm._inputs_struct, new_inputs), outputs, name=model.name)


def iter_layers(model):
    """Yields `(path, layer)` for every layer, descending into nested models."""
    for layer in functional_view(model).layers if is_graph_model(model) else []:
        if is_graph_model(layer):
            yield layer.name, layer
            for sub_path, sub in iter_layers(layer):
                yield f"{layer.name}/{sub_path}", sub
        else:
            yield layer.name, layer


def input_keys(model):
    """One name per model input, in `model.inputs` order: the dict keys for a model built with
    a dict of inputs, else the input tensors' names."""
    fm = functional_view(model) if is_graph_model(model) else model
    struct = getattr(fm, "_inputs_struct", None)
    if isinstance(struct, dict):
        return list(keras.tree.flatten({k: k for k in struct}))
    return [t.name.split(":")[0] for t in model.inputs]


def flat_inputs(model, x, what="inputs"):
    """`x` in any of Keras' input forms -> a list with one entry per model input (in
    `model.inputs` order).

    Accepted: a single array (one input), a list/tuple in `model.inputs` order (for models
    built with a list; for a dict-built model only when it has one input), or a dict keyed by
    input name in any order.

    Example:
        >>> flat_inputs(bert, {"token_ids": ids, "padding_mask": mask, "segment_ids": seg})
    """
    keys = input_keys(model)
    fm = functional_view(model) if is_graph_model(model) else model
    by_name = isinstance(getattr(fm, "_inputs_struct", None), dict)
    if isinstance(x, dict):
        missing = [k for k in keys if k not in x]
        unknown = sorted(set(x) - set(keys))
        if missing or unknown:
            raise KerasMotError(
                format_error(
                    f"{what} is a dict whose keys do not match the model's inputs.",
                    received=f"keys {sorted(x)}",
                    fix=f"Give exactly these keys: {keys}.",
                )
            )
        return [x[k] for k in keys]
    if isinstance(x, (list, tuple)) and len(keys) > 1:
        if by_name:
            raise KerasMotError(
                format_error(
                    f"{what} is a {type(x).__name__}, but the model was built with a dict of inputs.",
                    received=f"{type(x).__name__} of {len(x)}",
                    fix=f"Pass a dict keyed by input name: {keys}.",
                )
            )
        if len(x) != len(keys):
            raise KerasMotError(
                format_error(
                    f"{what} has {len(x)} input(s); the model has {len(keys)}.",
                    received=f"{len(x)} arrays",
                    fix=f"Give one array per model input: {keys}.",
                )
            )
        return list(x)
    if len(keys) > 1:
        raise KerasMotError(
            format_error(
                f"{what} is one array, but the model has {len(keys)} inputs.",
                received=type(x).__name__,
                fix=f"Pass a dict keyed by input name (or a list in this order): {keys}.",
            )
        )
    return [x]


def check_input_arrays(model, flat, what="inputs", error=KerasMotError, exact_rank=False):
    """Raises `error` when an entry of `flat` (one per model input) cannot feed its input.

    Checks what Keras would otherwise report deep inside `call()`: a non-numeric dtype, or a
    shape that does not match the input's (batch first; without `exact_rank`, one missing
    trailing axis of size 1 is accepted, as Keras expands it).

    Example:
        >>> check_input_arrays(model, [x_batch], "calibration_data")
    """
    names = input_keys(model)
    for name, value, spec in zip(names, flat, model.inputs):
        value = getattr(value, "numpy", lambda: value)()
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as e:
            raise error(
                format_error(
                    f"{what}: input '{name}' is not an array.",
                    received=f"{type(value).__name__}",
                    fix=f"Pass a numeric array shaped {tuple(spec.shape)} (batch first).",
                )
            ) from e
        want = tuple(spec.shape)
        if arr.dtype.kind not in "biuf":
            raise error(
                format_error(
                    f"{what}: input '{name}' holds {arr.dtype} values; the model's input is {spec.dtype}.",
                    received=f"dtype {arr.dtype}, shape {arr.shape}",
                    fix=f"Pass numbers ({spec.dtype}) shaped {want} (batch first), e.g. "
                    "np.asarray(x, dtype='float32') for images or token ids as integers.",
                )
            )
        got = arr.shape
        if not exact_rank and len(got) == len(want) - 1 and want[-1] == 1:
            got = got + (1,)
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want[1:], got[1:])):
            raise error(
                format_error(
                    f"{what}: input '{name}' has examples of shape {arr.shape[1:]}; the model "
                    f"expects {want[1:]}.",
                    received=f"array of shape {arr.shape}",
                    fix=f"Pass arrays shaped {want} (batch first) for input '{name}'.",
                )
            )


def pack_inputs(model, flat):
    """A list with one entry per model input -> the structure `model(...)` takes."""
    fm = functional_view(model) if is_graph_model(model) else model
    struct = getattr(fm, "_inputs_struct", None)
    if struct is None:
        return flat[0] if len(flat) == 1 else list(flat)
    return keras.tree.pack_sequence_as(struct, list(flat))
