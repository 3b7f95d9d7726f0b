"""A small BERT-style encoder classifier built from Keras layers.

Token ids -> Embedding + learned position embedding -> LayerNorm -> N x [MultiHeadAttention + residual +
LayerNorm, Dense(GELU) -> Dense + residual + LayerNorm] -> mean pooling -> Dense(tanh) pooler -> logits.
The only non-stock layer is `PositionEmbedding` (one trainable `(sequence_length, width)` table added to
its input), because a Functional graph has no stock layer that produces position ids.
"""

import keras

from keras_mot.errors import KerasMotError, format_error


@keras.saving.register_keras_serializable(package="keras_mot")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned per-position vector to a `(batch, length, width)` input.

    Args:
        sequence_length: maximum length; the table has this many rows.
        initializer: initializer of the table.

    Example:
        >>> PositionEmbedding(16)(keras.ops.zeros((2, 16, 8))).shape
        (2, 16, 8)
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = int(sequence_length)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            name="embeddings", shape=(self.sequence_length, input_shape[-1]), initializer=self.initializer
        )

    def call(self, inputs):
        length = keras.ops.shape(inputs)[1]
        return inputs + keras.ops.expand_dims(self.position_embeddings[:length], 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }


def _block(x, i, bert, init):
    heads = bert.num_attention_heads
    attn = keras.layers.MultiHeadAttention(
        num_heads=heads,
        key_dim=bert.hidden_size // heads,
        dropout=bert.attention_dropout_rate,
        kernel_initializer=init,
        name=f"layer_{i}_attention",
    )
    norm = {
        k: keras.layers.LayerNormalization(epsilon=1e-12, name=f"layer_{i}_{k}_norm") for k in ("attn", "ffn")
    }
    y = norm["attn"](x) if bert.norm_first else x
    y = attn(y, y)
    y = keras.layers.Dropout(bert.dropout_rate, name=f"layer_{i}_attention_dropout")(y)
    x = keras.layers.Add(name=f"layer_{i}_attention_residual")([x, y])
    if not bert.norm_first:
        x = norm["attn"](x)
    y = norm["ffn"](x) if bert.norm_first else x
    y = keras.layers.Dense(
        bert.intermediate_size,
        activation=bert.hidden_activation,
        kernel_initializer=init,
        name=f"layer_{i}_intermediate",
    )(y)
    y = keras.layers.Dense(bert.hidden_size, kernel_initializer=init, name=f"layer_{i}_output")(y)
    y = keras.layers.Dropout(bert.dropout_rate, name=f"layer_{i}_output_dropout")(y)
    x = keras.layers.Add(name=f"layer_{i}_output_residual")([x, y])
    if not bert.norm_first:
        x = norm["ffn"](x)
    return x


def build_bert_features(input_size, bert):
    """Builds `token ids (batch, L) int32 -> pooled features (batch, hidden_size)` as a Functional model.

    Args:
        input_size: `[L]`, the sequence length (`task.model.input_size`).
        bert: the `backbone.bert` config (`keras_mot.garden.mg_model.BertEncoder`).

    Example:
        >>> build_bert_features([16], BertEncoder(vocab_size=64, hidden_size=32, num_layers=1,
        ...                     num_attention_heads=2, intermediate_size=64)).output.shape
        (None, 32)
    """
    if len(input_size) != 1 or input_size[0] > bert.max_position_embeddings:
        raise KerasMotError(
            format_error(
                "The bert backbone needs task.model.input_size = [sequence_length] with "
                f"sequence_length <= backbone.bert.max_position_embeddings ({bert.max_position_embeddings}).",
                received=list(input_size),
                fix="Set e.g. input_size: [32].",
            )
        )
    if bert.hidden_size % bert.num_attention_heads:
        raise KerasMotError(
            format_error(
                "backbone.bert.hidden_size must be divisible by num_attention_heads.",
                received=f"{bert.hidden_size} and {bert.num_attention_heads}",
                fix="Use e.g. 64 and 4.",
            )
        )
    init = keras.initializers.TruncatedNormal(stddev=bert.initializer_range)
    tokens = keras.Input(shape=(input_size[0],), dtype="int32", name="input_word_ids")
    width = bert.embedding_size or bert.hidden_size
    x = keras.layers.Embedding(bert.vocab_size, width, embeddings_initializer=init, name="word_embeddings")(
        tokens
    )
    if width != bert.hidden_size:
        x = keras.layers.Dense(bert.hidden_size, kernel_initializer=init, name="embedding_projection")(x)
    x = PositionEmbedding(input_size[0], initializer=init, name="position_embedding")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-12, name="embeddings_norm")(x)
    x = keras.layers.Dropout(bert.dropout_rate, name="embeddings_dropout")(x)
    for i in range(bert.num_layers):
        x = _block(x, i, bert, init)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    x = keras.layers.Dense(bert.hidden_size, activation="tanh", kernel_initializer=init, name="pooler")(x)
    return keras.Model(tokens, x, name="bert_encoder")
