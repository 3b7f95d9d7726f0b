"""Decompositions: Functional forms of layers whose `call()` reads their own variables.

`keras_mot.inline` opens a subclassed block by tracing its `call()` on symbolic tensors. A block
that reads a variable of its own there (a class token, a position table) cannot be traced that way:
the variable is no tensor of the graph. A decomposition, registered for the block's class, writes
the same function with layers keras_mot can quantize: the block's sublayers (shared objects) plus
Keras(-Hub) layers that carry copies of the block's own variables. `inline` checks the result on
random data against the block, like any traced block, and uses it only when it matches.

Register one with `register_decomposition("package:ClassName")` (the class's top-level package
and name, so that this module does not import optional packages such as keras_hub).

Example:
    >>> @register_decomposition("my_package:MyTokenBlock")
    ... def _my_block(layer, x):
    ...     return keras.layers.Add()([layer.proj(x), x])
"""

import keras

_DECOMPOSITIONS = {}


def _key(klass):
    return f"{klass.__module__.split('.')[0]}:{klass.__name__}"


def register_decomposition(key):
    """Decorator: registers `fn(layer, *args, **kwargs) -> outputs` for the class named `key`.

    Args:
        key: `"top_level_package:ClassName"`, e.g. `"keras_hub:ViTPatchingAndEmbedding"`; also
            matches subclasses.

    Example:
        >>> @register_decomposition("my_package:MyTokenBlock")
        ... def _my_block(layer, x): ...
    """

    def decorate(fn):
        _DECOMPOSITIONS[key] = fn
        return fn

    return decorate


def decomposition_for(layer):
    """The registered decomposition of `layer`'s class (nearest in the MRO), or None.

    Example:
        >>> decomposition_for(keras.layers.Dense(2)) is None
        True
    """
    for klass in type(layer).__mro__:
        fn = _DECOMPOSITIONS.get(_key(klass))
        if fn is not None:
            return fn
    return None


def _learned_table(name, values):
    """A KerasHub `PositionEmbedding` holding `values` (rows = positions): called on a
    `(batch, rows, width)` tensor it returns the table broadcast to that shape."""
    import keras_hub

    table = keras_hub.layers.PositionEmbedding(sequence_length=values.shape[0], name=name)
    table.build((None, values.shape[0], values.shape[1]))
    table.position_embeddings.assign(values)
    return table


@register_decomposition("keras_hub:ViTPatchingAndEmbedding")
def _vit_patching_and_embedding(layer, inputs):
    """patch Conv2D -> reshape to tokens -> a zero token padded in front -> + one table.

    `[class_token; tokens] + positions` equals `[0; tokens] + table` where `table` is the position
    table with the class token added to its first row. Written that way, TFLite runs CONV_2D,
    RESHAPE, PAD (keeps the grid; zero is exact on it) and one ADD of an int8 constant: no
    CONCATENATION, whose operands the converter would requantize (int8 QUANTIZE) onto one shared
    scale with a rounding the fake-quantized model does not reproduce.
    """
    x = layer.patch_embedding(inputs)
    if layer.data_format == "channels_first":
        x = keras.layers.Permute((2, 3, 1), name="channels_last")(x)
    x = keras.layers.Reshape((-1, layer.hidden_dim), name="tokens")(x)
    table = keras.ops.convert_to_numpy(layer.position_embedding.embeddings).copy()
    if layer.use_class_token:
        x = keras.layers.ZeroPadding1D((1, 0), name="class_token_slot")(x)
        table[0] += keras.ops.convert_to_numpy(layer.class_token).reshape(-1)
    positions = _learned_table("position_embedding", table)(x)
    return keras.layers.Add(name="add_position_embedding")([x, positions])
