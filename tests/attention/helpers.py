"""Small helpers shared by the attention tests."""

import keras
import numpy as np

from keras_mot.garden.mg_model import BertEncoder
from keras_mot.garden.text_encoder import build_bert_features


def run_tflite(tflite_bytes, x):
    """Runs a `.tflite` on `x` (float or integer input, float I/O model); returns the output."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite_bytes)
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], x.shape)
    it.allocate_tensors()
    it.set_tensor(inp["index"], x.astype(inp["dtype"]))
    it.invoke()
    return np.array(it.get_tensor(it.get_output_details()[0]["index"]), np.float32)


def tiny_encoder(length=16, vocab=64, classes=4, layers=2):
    """The garden BERT-style encoder with a classifier head, CPU-test sized."""
    bert = BertEncoder(
        vocab_size=vocab,
        hidden_size=32,
        num_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        initializer_range=0.05,
    )
    features = build_bert_features([length], bert)
    return keras.Model(features.input, keras.layers.Dense(classes, name="logits")(features.output))
