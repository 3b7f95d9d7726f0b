"""Reading Keras 3 Functional graphs: nodes in topological order, consumers, layer cloning.

Only Functional and Sequential models have a graph keras_mot can rewrite; a subclassed model
gets a clear error.
"""

import keras

from keras_mot.errors import KerasMotError, format_error


def functional_view(model):
    """The Functional graph behind `model` (a Sequential's inner Functional)."""
    if isinstance(model, keras.Sequential):
        inner = getattr(model, "_functional", None)
        if inner is None:
            raise KerasMotError(format_error(
                f"Sequential model '{model.name}' has no input shape yet.", received="an unbuilt "
                "Sequential", fix="Start it with keras.Input(shape=...) or call build() first."))
        return inner
    if not hasattr(model, "_nodes_by_depth") or not getattr(model, "_is_graph_network", True) \
            or not hasattr(model, "inputs") or model.inputs is None:
        raise KerasMotError(format_error(
            f"Model '{model.name}' is not a Functional or Sequential model.",
            received=type(model).__name__,
            fix="keras_mot rewrites layer graphs: build the model with the Functional API "
                "(keras.Model(inputs, outputs)) or keras.Sequential."))
    return model


def is_graph_model(obj):
    """True for Functional and Sequential models (which keras_mot rewrites recursively)."""
    return isinstance(obj, keras.Model) and (
        isinstance(obj, keras.Sequential) or hasattr(obj, "_nodes_by_depth"))


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
    return keras.Model(keras.tree.pack_sequence_as(fm._inputs_struct, new_inputs), outputs,
                       name=model.name)


def iter_layers(model):
    """Yields `(path, layer)` for every layer, descending into nested models."""
    for layer in functional_view(model).layers if is_graph_model(model) else []:
        if is_graph_model(layer):
            yield layer.name, layer
            for sub_path, sub in iter_layers(layer):
                yield f"{layer.name}/{sub_path}", sub
        else:
            yield layer.name, layer
