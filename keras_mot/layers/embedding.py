"""Adapters for lookup tables: `Embedding` and the garden's `PositionEmbedding`.

Embedding -> GATHER on an int8 table. GATHER keeps the table's scale (quantization_spec.md), and
TFLite stores a constant table per tensor, so the table is fake-quantized per tensor (symmetric,
narrow range, like other int8 weights). The wrapper's output range then becomes the next ops'
input scale (the converter re-quantizes the gathered rows once, int8 to int8). Token ids are
integers and get no quantization point.

PositionEmbedding (`x + table[:length]`) -> ADD with an int8 constant operand (the converter
slices the constant table at conversion time); the table is quantized per tensor.

int16x8: `keras.ops.take` wraps negative ids with an int32 `where(i < 0, i + n, i)`, which the
legacy int16x8 quantizer cannot take on its own ("Max and min for dynamic tensors should be
recorded during calibration"); `keras_mot.export.int16x8` converts such models (the ids stay int32
up to GATHER), so models that start with an Embedding export to int16x8 as a whole.
"""

import keras
from keras import ops

from keras_mot.layer_kinds import LayerKind
from keras_mot.layers.base import LayerAdapter, WeightRef, register_adapter


@register_adapter(keras.layers.Embedding)
class EmbeddingAdapter(LayerAdapter):
    """Embedding -> GATHER (int8 table, per tensor).

    Example:
        >>> q = mot.quantize(keras.Sequential([keras.Input((8,), dtype="int32"),
        ...                                    keras.layers.Embedding(100, 16)]))
    """

    kind = LayerKind.EMBEDDING
    quantizes_inputs = False
    tflite_ops = ("GATHER",)

    def weights(self, layer):
        return {"embeddings": WeightRef("embeddings", None, LayerKind.EMBEDDING)}

    def activation_fn(self, layer):
        return None

    def forward(self, layer, inputs, weights, point):
        ids = inputs if inputs.dtype in ("int32", "int64") else ops.cast(inputs, "int32")
        return ops.take(weights["embeddings"], ids, axis=0)


@register_adapter("keras_mot>PositionEmbedding")  # keras_mot.garden.text_encoder (no import: garden pulls TF)
class PositionEmbeddingAdapter(LayerAdapter):
    """PositionEmbedding -> ADD of an int8 constant table (per tensor)."""

    kind = LayerKind.EMBEDDING
    tflite_ops = ("ADD",)

    def weights(self, layer):
        return {"embeddings": WeightRef("position_embeddings", None, LayerKind.EMBEDDING)}

    def activation_fn(self, layer):
        return None

    def forward(self, layer, inputs, weights, point):
        length = ops.shape(inputs)[1]
        return inputs + ops.expand_dims(weights["embeddings"][:length], 0)


@register_adapter("keras_hub>PositionEmbedding")  # by name: keras_hub is an optional dependency
class HubPositionEmbeddingAdapter(LayerAdapter):
    """KerasHub's PositionEmbedding (`broadcast(table[:length])`, the input only gives the
    shape) -> STRIDED_SLICE + BROADCAST_TO of an int8 constant table (per tensor); the model
    adds it to the token embeddings with its own ADD.

    Example:
        >>> q = mot.quantize(keras_hub.models.BertBackbone(...))  # position_embedding wrapped
    """

    kind = LayerKind.EMBEDDING
    quantizes_inputs = False  # only the input's shape is read
    tflite_ops = ("STRIDED_SLICE", "BROADCAST_TO")

    def weights(self, layer):
        return {"embeddings": WeightRef("position_embeddings", None, LayerKind.EMBEDDING)}

    def activation_fn(self, layer):
        return None

    def call_inputs(self, layer, args, kwargs):
        if any(
            v is not None and not (k == "start_index" and v == 0)
            for k, v in kwargs.items()
            if k != "training"
        ):
            return None  # explicit positions or a start offset (decoding): not modelled
        return None, args[0]

    def forward(self, layer, inputs, weights, point):
        shape = ops.shape(inputs)
        table = ops.slice(weights["embeddings"], (0, 0), (shape[-2], shape[-1]))
        return ops.broadcast_to(table, shape)
