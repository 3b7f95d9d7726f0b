"""The models of bench/compression.py, buildable with Keras 3 and with tf_keras (the tfmot side).

Each entry: `build(keras)`, `data()` -> (x_train, y_train, x_held_out, y_held_out) (the embedded
digits; for the BERT-style encoder a generated token task whose label is the class key token
that occurs most often), and the Keras layer classes the compression rules select. Neither keras_mot nor Keras is
imported here (the peer process imports tf_keras as `keras` and passes it in).

Example:
    >>> spec = MODELS["mlp"]
    >>> x_tr, y_tr, x_te, y_te = spec.data()
    >>> x_tr.shape[1:]
    (64,)
"""

import dataclasses

import common
import numpy as np
import qat_protocol


def _digits(flat):
    x_tr, y_tr = common.load_digits("train", None if flat else qat_protocol.IMAGE_SIZE, 1 if flat else 3)
    held = [
        common.load_digits(s, None if flat else qat_protocol.IMAGE_SIZE, 1 if flat else 3)
        for s in ("validation", "test")
    ]
    x_te, y_te = np.concatenate([x for x, _ in held]), np.concatenate([y for _, y in held])
    if flat:
        x_tr, x_te = x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    return x_tr, y_tr, x_te, y_te


def _mobilenetv2(keras):
    return common.build_mobilenetv2(keras, qat_protocol.IMAGE_SIZE + (3,), classes=10)


def _mlp(keras):
    inputs = keras.Input((64,))
    h = keras.layers.Dense(1024, activation="relu", name="fc1")(inputs)
    h = keras.layers.Dense(1024, activation="relu", name="fc2")(h)
    return keras.Model(inputs, keras.layers.Dense(10, name="logits")(h), name="mlp")


SEQ_LEN, VOCAB, TEXT_CLASSES = 32, 1000, 4


def _text():
    from keras_mot.garden.data import make_text_task  # our side only: the peer has no BERT arm

    def split(n, seed):
        tokens, labels = make_text_task(n, SEQ_LEN, VOCAB, TEXT_CLASSES, seed=seed)
        inputs = {
            "token_ids": tokens,
            "padding_mask": np.ones_like(tokens),
            "segment_ids": np.zeros_like(tokens),
        }
        return inputs, labels

    (x_tr, y_tr), (x_te, y_te) = split(3000, 0), split(500, 1)
    return x_tr, y_tr, x_te, y_te


def _bert(keras):
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB,
        num_layers=2,
        num_heads=4,
        hidden_dim=128,
        intermediate_dim=512,
        max_sequence_length=SEQ_LEN,
        dropout=0.0,
    )
    inputs = {
        k: keras.Input((SEQ_LEN,), dtype="int32", name=k)
        for k in ("token_ids", "padding_mask", "segment_ids")
    }
    pooled = backbone(inputs)["pooled_output"]
    return keras.Model(inputs, keras.layers.Dense(TEXT_CLASSES, name="logits")(pooled), name="bert")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One benchmark model: its builder, its data and the layer classes the rules compress."""

    build: object
    data: object
    classes: tuple
    peer: bool = True  # tfmot (tf_keras) can build it


MODELS = {
    "mobilenetv2": ModelSpec(_mobilenetv2, lambda: _digits(False), ("Conv2D", "DepthwiseConv2D", "Dense")),
    "mlp": ModelSpec(_mlp, lambda: _digits(True), ("Dense",)),
    # a KerasHub (Keras 3) backbone: tfmot, on tf_keras, cannot wrap it. Its attention is one
    # MultiHeadAttention unit whose query/key/value/output kernels are its compressed weights, so
    # the rules compress them with the feed-forward, pooler and classifier Dense layers.
    "bert": ModelSpec(_bert, _text, ("Dense", "MultiHeadAttention"), peer=False),
}
