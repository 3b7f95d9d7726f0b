"""`annotate`: instructions carried by a layer in model code.

    x = mot.annotate(keras.layers.Conv2D(64, 3), quantize="int8", prune=mot.Block(1, 4))(x)
    x = mot.annotate(keras.layers.Dense(10), quantize=None)(x)   # keep this layer float

`annotate` returns an `Annotated` layer: a transparent, serializable container that computes
exactly what the inner layer computes. `mot.quantize` / `mot.prune` / `mot.apply` unwrap it and
let its instructions win over recipe rules (an explicit `exclude` still wins over both). Its
`prune` pattern is saved in the `.keras` config with `keras_mot.codec`, the encoding recipe
files use.
"""

import keras

from keras_mot import codec, compression
from keras_mot.sparsity.patterns import SparsityPattern

_TARGET = "target"


@keras.saving.register_keras_serializable(package="keras_mot")
class Annotated(keras.layers.Layer):
    """A layer plus keras_mot instructions (see `annotate`).

    Args:
        layer: the Keras layer.
        quantize: scheme name, `None` (keep float) or `"target"` (the target's scheme).
        prune: a `SparsityPattern`, `"target"`, or `None` (do not prune).
        compress: a `WeightCompression` (e.g. `mot.Cluster(16)`), `None` (never compress), or
            `"target"` (the recipe rule decides).
    """

    def __init__(self, layer, quantize=_TARGET, prune=_TARGET, compress=_TARGET, **kwargs):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        kwargs.setdefault("name", layer.name)
        super().__init__(**kwargs)
        self.layer = layer
        self.quantize = quantize
        self.prune = codec.decode_field(prune, SparsityPattern)
        self.compress = compress if compress == _TARGET else compression.get(compress)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.built = True

    def call(self, inputs):
        return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            layer=keras.saving.serialize_keras_object(self.layer),
            quantize=self.quantize,
            prune=codec.encode_field(self.prune),
            compress=codec.encode_field(self.compress),
        )
        return cfg


def annotate(layer, quantize=_TARGET, prune=_TARGET, compress=_TARGET, cluster=None):
    """Marks `layer` with keras_mot instructions; returns a layer to call in model code.

    Args:
        layer: a Keras layer (not yet called).
        quantize: scheme name (`"int8"`, `"int16x8"`, ...), `None` to keep it float, or
            `"target"` for the target's default scheme.
        prune: a pattern (`mot.Block(4, 1)`, `mot.NofM(2, 4)`, `mot.Unstructured()`), `None` to
            never prune it, or `"target"` for the target's choice.
        compress: a `WeightCompression` (`mot.Cluster(16)`), `None` to never compress it, or
            `"target"` to let the recipe rule decide.
        cluster: the same as `compress`.

    Example:
        >>> y = annotate(keras.layers.Dense(10), quantize=None)(x)
    """
    if cluster is not None:
        compress = cluster
    return Annotated(layer, quantize=quantize, prune=prune, compress=compress)
