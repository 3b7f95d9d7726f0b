"""QAT of a small BERT-style encoder to TFLite int8 and int16x8.

Trains `keras_mot.garden`'s BERT-style encoder (Embedding + position embedding + N blocks of
MultiHeadAttention / LayerNormalization / GELU feed-forward + mean pooling + tanh pooler) on the
generated counting task (`make_text_task`), fine-tunes it with quantization-aware training,
exports int8 and int16x8 `.tflite` models and reports float / int8 / int16x8 accuracy and the
TFLite-vs-Keras top-1 agreement.

int16x8 note (TF 2.21): the legacy 16x8 quantizer cannot convert Keras' embedding lookup (it tries
to quantize the int32 ADD of `ops.take`'s negative-index fix), so the int16x8 model starts after
the token lookup and the 8-bit table lookup runs outside it (see keras_mot/layers/embedding.py).

Run: `python examples/bert_encoder_qat.py [--epochs 12] [--qat-epochs 3]`
"""

import argparse

import keras
import numpy as np

import keras_mot as mot
from keras_mot.export.convert import to_tflite
from keras_mot.export.inspect import float_compute_ops
from keras_mot.garden.data import make_text_task
from keras_mot.garden.mg_model import BertEncoder
from keras_mot.garden.text_encoder import build_bert_features
from keras_mot.wrapper import Wrapper

LENGTH, VOCAB, CLASSES = 16, 64, 4


def build_classifier(hidden=32, layers=2, heads=2, intermediate=64, dropout=0.0):
    """Token ids (batch, 16) -> class logits (batch, 4)."""
    bert = BertEncoder(
        vocab_size=VOCAB,
        hidden_size=hidden,
        num_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        dropout_rate=dropout,
        attention_dropout_rate=dropout,
        initializer_range=0.05,
    )
    features = build_bert_features([LENGTH], bert)
    logits = keras.layers.Dense(CLASSES, name="logits")(features.output)
    return keras.Model(features.input, logits, name="bert_classifier")


def run_tflite(tflite_bytes, x, batch=256):
    """Runs a `.tflite` on `x` in batches (float or int32 inputs); returns float outputs."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite_bytes)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    results = []
    for start in range(0, len(x), batch):
        xb = x[start : start + batch]
        it.resize_tensor_input(inp["index"], xb.shape)
        it.allocate_tensors()
        it.set_tensor(inp["index"], xb.astype(inp["dtype"]))
        it.invoke()
        results.append(np.array(it.get_tensor(out["index"]), np.float32))
    return np.concatenate(results)


def _compile(model, lr):
    model.compile(
        keras.optimizers.Adam(lr),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **({"lint": "off"} if hasattr(model, "run_lint") else {}),
    )


def _accuracy(logits, y):
    return float(np.mean(np.argmax(logits, -1) == y))


def _after_lookup(qmodel):
    """(sub-model from the token embedding's output, the embedding wrapper)."""
    emb = next(
        layer
        for layer in qmodel.layers
        if isinstance(layer, Wrapper) and isinstance(layer.layer, keras.layers.Embedding)
    )
    return keras.Model(emb.output, qmodel.output), emb


def run(train=4000, test=2000, epochs=12, qat_epochs=3, seed=0, verbose=0):
    """Trains, quantizes, exports; returns a dict of measured figures (accuracies in [0, 1])."""
    keras.utils.set_random_seed(seed)
    x, y = make_text_task(train, LENGTH, VOCAB, CLASSES, seed=seed)
    xt, yt = make_text_task(test, LENGTH, VOCAB, CLASSES, seed=seed + 1)
    model = build_classifier()
    _compile(model, 3e-3)
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=verbose)
    result = {"float": _accuracy(model.predict(xt, verbose=0), yt)}

    # int8: QAT then export with the FakeQuant ranges learned in training.
    q8 = mot.quantize(model, target="tflite_int8", calibration_data=x[:512])
    _compile(q8, 3e-4)
    q8.fit(x, y, batch_size=64, epochs=qat_epochs, verbose=verbose)
    keras8 = np.asarray(q8.predict(xt, verbose=0))
    tfl8 = to_tflite(q8, "tflite_int8")
    out8 = run_tflite(tfl8, xt)
    result.update(
        qat_int8_keras=_accuracy(keras8, yt),
        int8=_accuracy(out8, yt),
        int8_agreement=float(np.mean(np.argmax(out8, -1) == np.argmax(keras8, -1))),
        int8_float_ops=[o["op"] for o in float_compute_ops(tfl8)],
        int8_bytes=len(tfl8),
    )

    # int16x8: QAT with 16-bit activation ranges; the converter calibrates the float export.
    q16 = mot.quantize(model, target="tflite_int16x8", calibration_data=x[:512])
    _compile(q16, 3e-4)
    q16.fit(x, y, batch_size=64, epochs=max(1, qat_epochs // 2), verbose=verbose)
    keras16 = np.asarray(q16.predict(xt, verbose=0))
    body, emb = _after_lookup(q16)
    table = np.asarray(emb._weights(training=False)[0]["embeddings"])
    tfl16 = to_tflite(body, "tflite_int16x8", representative_data=[table[x[:256]]])
    out16 = run_tflite(tfl16, table[xt])
    result.update(
        qat_int16x8_keras=_accuracy(keras16, yt),
        int16x8=_accuracy(out16, yt),
        int16x8_agreement=float(np.mean(np.argmax(out16, -1) == np.argmax(keras16, -1))),
        int16x8_float_ops=[o["op"] for o in float_compute_ops(tfl16)],
    )
    result["models"] = {"float": model, "int8": q8, "int16x8": q16, "int8_tflite": tfl8}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--qat-epochs", type=int, default=3)
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=2000)
    args = parser.parse_args(argv)
    r = run(args.train, args.test, args.epochs, args.qat_epochs)
    print(
        f"float {r['float']:.4f} | int8 {r['int8']:.4f} (QAT Keras {r['qat_int8_keras']:.4f}, "
        f"TFLite-vs-Keras agreement {r['int8_agreement']:.4f}, float ops {r['int8_float_ops']}) "
        f"| int16x8 {r['int16x8']:.4f} (agreement {r['int16x8_agreement']:.4f}, "
        f"float ops {r['int16x8_float_ops']})"
    )
    return r


if __name__ == "__main__":
    main()
