"""Every layer output of a model, nested models opened, as one flat Functional model.

`tap(model)` re-applies the model's graph on fresh inputs, descending into nested Functional /
Sequential models, and returns a model whose outputs are the outputs of every layer call keyed
by layer path (`"backbone/block_1/conv"`; a layer called again gets `"#2"`, `"#3"`...). The
layers are the model's own objects (weights shared), so running the tapped model runs the model.
Each call is also kept as a `Call` (path, layer, arguments) so that one layer can be re-run on
other inputs (its float inputs, for the error a layer adds on its own).

Example:
    >>> taps = tap(model)
    >>> values = taps.run(x_batch)            # {path: array}
"""

import dataclasses

import keras

from keras_mot import graph

INPUT_KEY = "input:{}"


@dataclasses.dataclass
class Call:
    """One layer call of the tapped model: `layer(*args, **kwargs)` on keyed tensors.

    Example:
        >>> call = tap(model).calls[0]; call.path, call.output_keys
    """

    path: str
    layer: object
    args: tuple
    kwargs: dict
    output_keys: list


class Tapped:
    """A flat model with every layer output and the calls that produced them.

    Example:
        >>> taps = tap(model); values = taps.run(x); taps.rerun(taps.calls[1], values)
    """

    def __init__(self, model, inputs, outputs, calls, keys, output_keys):
        self.source = model
        self.output_keys = output_keys  # keys of the model's own outputs, flattened
        self.calls = calls
        self._keys = keys  # id(KerasTensor) -> key
        self.model = keras.Model(inputs, outputs, name=f"{model.name}_taps")

    def run(self, inputs):
        """`{key: numpy array}` for one batch (`inputs` in the structure `model(...)` takes)."""
        out = self.model(inputs, training=False)
        values = {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}
        for i, x in enumerate(keras.tree.flatten(inputs)):
            values[INPUT_KEY.format(i)] = x
        return values

    def arguments(self, call, values):
        """`(args, kwargs)` of `call` with its tensors taken from `values` (`{key: array}`)."""

        def fill(t):
            key = self._keys.get(id(t)) if isinstance(t, keras.KerasTensor) else None
            return values[key] if key is not None else t

        return (keras.tree.map_structure(fill, call.args), keras.tree.map_structure(fill, call.kwargs))

    def rerun(self, call, values=None, arguments=None):
        """`call`'s layer output(s) (numpy list) on inputs from `values` (or `arguments`)."""
        args, kwargs = arguments if arguments is not None else self.arguments(call, values)
        out = call.layer(*args, **kwargs)
        return [keras.ops.convert_to_numpy(o) for o in keras.tree.flatten(out)]


def tap(model):
    """The `Tapped` form of a Functional / Sequential `model` (nested models opened).

    Example:
        >>> tap(model).run(x)["dense_1"].shape
    """
    fm = graph.functional_view(model)
    new_inputs = graph.new_inputs_like(fm)
    keys, outputs, calls, seen = {}, {}, [], {}
    for i, t in enumerate(new_inputs):
        keys[id(t)] = INPUT_KEY.format(i)
    tensor_map = {id(o): n for o, n in zip(fm.inputs, new_inputs)}
    _replay(fm, tensor_map, "", keys, outputs, calls, seen)
    inputs = keras.tree.pack_sequence_as(fm._inputs_struct, new_inputs)
    output_keys = []
    for t in fm.outputs:
        new = tensor_map[id(t)]
        if id(new) not in keys:  # an output that is a model input
            keys[id(new)] = f"output:{len(output_keys)}"
            outputs[keys[id(new)]] = new
        output_keys.append(keys[id(new)])
    return Tapped(model, inputs, outputs, calls, keys, output_keys)


def _replay(fm, tensor_map, prefix, keys, outputs, calls, seen):
    for node in graph.ordered_nodes(fm):
        op = node.operation
        args, kwargs = node.arguments.fill_in(tensor_map)
        if graph.is_graph_model(op):
            inner = graph.functional_view(op)
            flat_in = keras.tree.flatten((args, kwargs))
            inner_map = {id(o): n for o, n in zip(inner.inputs, flat_in)}
            _replay(inner, inner_map, f"{prefix}{op.name}/", keys, outputs, calls, seen)
            results = keras.tree.pack_sequence_as(
                inner._outputs_struct, [inner_map[id(t)] for t in inner.outputs]
            )
        else:
            results = op(*args, **kwargs)
        flat = keras.tree.flatten(results)
        for orig, new in zip(node.outputs, flat):
            tensor_map[id(orig)] = new
        if (
            graph.is_graph_model(op)
            or not isinstance(op, keras.layers.Layer)
            or isinstance(op, keras.layers.InputLayer)
        ):
            for n, new in enumerate(flat):  # keyed for re-runs, not reported
                keys.setdefault(id(new), f"{prefix}{op.name}:op{len(keys)}:{n}")
                outputs.setdefault(keys[id(new)], new)
            continue
        path = f"{prefix}{op.name}"
        seen[path] = seen.get(path, 0) + 1
        if seen[path] > 1:
            path = f"{path}#{seen[path]}"
        out_keys = [path if len(flat) == 1 else f"{path}:{n}" for n in range(len(flat))]
        for key, new in zip(out_keys, flat):
            if id(new) not in keys:
                keys[id(new)] = key
                outputs[key] = new
        calls.append(Call(path, op, args, kwargs, out_keys))
