"""KerasHub backbones end to end: inlined blocks, honest lint, int8 export agreement."""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot import graph
from keras_mot.inline import inline
from tests.hub import models

# KerasHub builds these from plain layers already: nothing to open.
FLAT_ALREADY = ("efficientnet", "resnet", "densenet")


@pytest.mark.parametrize("name", sorted(models.ALL))
def test_inlined_model_computes_the_same(name):
    model = models.with_head(models.ALL[name]())
    flat, report = inline(model)
    x = models.sample(model, n=4)
    np.testing.assert_allclose(model.predict(x, verbose=0), flat.predict(x, verbose=0), atol=1e-5)
    if name not in FLAT_ALREADY:
        assert report.inlined, "no block was opened"


@pytest.mark.parametrize("name", sorted(models.ALL))
def test_lint_is_honest_and_int8_export_agrees(name, tmp_path):
    model = models.with_head(models.ALL[name]())
    x = models.sample(model, n=64)
    # Random-init backbones: their moving statistics are the initial 0 / 1 and would be
    # re-estimated (tests/reliability/test_bn_statistics.py covers that); this test is about the
    # lint and the converter, on the model as built.
    q = mot.quantize(model)
    mot.calibrate(q, x, steps=8, bn_statistics="keep")
    report = mot.lint(q, target="tflite_int8")
    result = mot.export(q, str(tmp_path / "out"), representative_data=x, formats=("tflite",))
    floats = result.float_compute_ops or []
    # The promise: lint says full_int8 <=> the export has no float compute op.
    assert (report.verdict == "full_int8") == (not floats), (report.verdict, floats)
    assert not floats and report.coverage == pytest.approx(1.0)
    # Random weights give near-tied logits: argmax agreement counts near-ties (within two output
    # steps) as agreeing here; trained models are held to plain agreement in
    # bench/keras_hub_acceptance.py.
    assert result.parity.tie_adjusted_agreement >= 0.995, result.parity.summary()
    assert result.parity.agreement >= 0.95, result.parity.summary()


@pytest.mark.parametrize("name", models.TEXT)
def test_text_models_export_int16x8(name, tmp_path):
    """Token ids, padding mask and LayerNorm through the int16x8 quantizer (export/int16x8.py)."""
    model = models.with_head(models.ALL[name]())
    x = models.sample(model, n=64)
    q = mot.quantize(model, calibration_data=x)
    assert mot.lint(q, target="tflite_int16x8").verdict == "full_int8"
    result = mot.export(
        q, str(tmp_path / "out16"), target="tflite_int16x8", representative_data=x, formats=("tflite",)
    )
    assert result.float_compute_ops == []
    assert result.parity.agreement >= 0.995, result.parity.summary()


def test_albert_shared_encoder_stays_shared():
    model = models.with_head(models.albert())
    q = mot.quantize(model, calibration_data=models.sample(model, n=8))
    encoders = [layer for path, layer in graph.iter_layers(q) if path.endswith("group_0_inner_layer_0")]
    assert len(encoders) == 1  # one nested model, called once per encoder layer
    assert len(q.weights) < 2 * len(model.weights) + 400


def test_dict_input_bert_through_compile_fit_and_save(tmp_path):
    model = models.with_head(models.bert(), classes=2)
    x = models.sample(model, n=32)
    y = np.arange(32) % 2
    shuffled = {k: x[k] for k in reversed(sorted(x))}  # any key order
    q = mot.quantize(model, calibration_data=shuffled)
    q.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    assert q.mot_lint_report.verdict == "full_int8"
    q.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=mot.callbacks(q))
    path = str(tmp_path / "bert.keras")
    q.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(q.predict(x, verbose=0), loaded.predict(x, verbose=0), atol=1e-6)


def test_pruning_reaches_dense_layers_inside_transformer_blocks():
    model = models.with_head(models.bert())
    p = mot.prune(model, target="tflite_sparse_fc", schedule=mot.ConstantSparsity(0.5, begin_step=0))
    pruned = [
        path
        for path, layer in graph.iter_layers(p)
        if isinstance(layer, mot.Wrapper) and layer.prune is not None
    ]
    assert any("feedforward_intermediate_dense" in path for path in pruned)
    assert any("feedforward_output_dense" in path for path in pruned)


def test_exclude_selects_a_layer_inside_a_block():
    model = models.with_head(models.bert())
    q = mot.quantize(model, exclude=["re:.*feedforward_output_dense"])
    wrapped = {path for path, layer in graph.iter_layers(q) if isinstance(layer, mot.Wrapper)}
    assert not any(p.endswith("feedforward_output_dense") for p in wrapped)
    assert any(p.endswith("feedforward_intermediate_dense") for p in wrapped)
    with pytest.raises(mot.KerasMotError, match="feedforward_output_dens"):
        mot.quantize(model, exclude=["feedforward_output_dens"])


def test_xnnpack_sparse_reaches_every_1x1_conv_and_names_grouped_convs():
    model = models.with_head(models.mobilenet_v2_relu6())
    p = mot.prune(model, target="xnnpack_sparse", schedule=mot.ConstantSparsity(0.7, begin_step=0))
    flat, _ = inline(model)
    convs = {path: layer for path, layer in graph.iter_layers(flat) if isinstance(layer, keras.layers.Conv2D)}
    pointwise = {p_ for p_, c in convs.items() if tuple(c.kernel_size) == (1, 1) and c.groups == 1}
    grouped = {p_ for p_, c in convs.items() if c.groups > 1}
    pruned = {
        path
        for path, layer in graph.iter_layers(p)
        if isinstance(layer, mot.Wrapper) and layer.prune is not None
    }
    assert pointwise and pointwise <= pruned
    report = mot.lint(p, target="xnnpack_sparse")
    named = {f.layer for f in report.findings if f.code == "xnn-grouped-conv"}
    assert grouped and named == grouped


def test_sparse_fc_reaches_attention_and_ffn_kernels_and_counts_every_weight(tmp_path):
    from keras_mot.export.layer_stats import layer_stats, overall_sparsity
    from keras_mot.export.sparse_check import inspect_sparsity

    model = models.with_head(models.bert())
    p = mot.prune(model, target="tflite_sparse_fc", schedule=mot.ConstantSparsity(0.8, begin_step=0))
    attention = [
        layer
        for _, layer in graph.iter_layers(p)
        if isinstance(layer, mot.Wrapper) and isinstance(layer.layer, keras.layers.MultiHeadAttention)
    ]
    assert len(attention) == 2 and all(
        set(w.masks) == {"query_kernel", "key_kernel", "value_kernel", "output_kernel"} for w in attention
    )
    report = mot.lint(p, target="tflite_sparse_fc")
    assert not [f for f in report.findings if f.code == "prune-not-reached"]
    x = models.sample(p, n=16)
    p.compile("adam", "mse")
    p.fit(x, np.zeros((16, 10)), epochs=1, verbose=0, callbacks=mot.callbacks(p))
    stats = layer_stats(p)
    every = sum(
        int(np.prod(w.shape)) for w in model.trainable_weights if len(w.shape) >= 2 and "bias" not in w.name
    )  # attention biases are 2-D
    assert sum(s.params for s in stats) == every  # embeddings included
    assert 0.3 < overall_sparsity(stats) < 0.8
    result = mot.export(
        p, str(tmp_path / "sparse"), target="tflite_sparse_fc", representative_data=x, formats=("tflite",)
    )
    assert result.parity.ok
    fcs = [
        w
        for w in inspect_sparsity(open(result.tflite_path, "rb").read()).weights
        if w.op == "FULLY_CONNECTED"
    ]
    assert len(fcs) == 14  # 2 x (q, k, v, output, 2 FFN) + pooled + head
    assert all(w.stored == "block_sparse" and w.block_size == (1, 4) for w in fcs)


@pytest.mark.parametrize("name", sorted(models.ALL))
def test_prepared_model_keras_round_trip_is_exact(name, tmp_path):
    model = models.with_head(models.ALL[name]())
    x = models.sample(model, n=8)
    q = mot.quantize(model, calibration_data=x)
    path = str(tmp_path / f"{name}.keras")
    q.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(np.asarray(q(x, training=False)), np.asarray(loaded(x, training=False)))


def test_deberta_is_refused_by_the_lint_before_the_converter_fails(tmp_path):
    """DeBERTa's relative positions take ABS / SIGN of int64 tensors, which no builtin kernel
    runs: the lint says `fails` and names them, and the export fails as predicted."""
    model = models.with_head(
        keras_hub_models().DebertaV3Backbone(
            vocabulary_size=50,
            num_layers=1,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            max_sequence_length=16,
            bucket_size=4,
        )
    )
    x = models.sample(model, n=8)
    q = mot.quantize(model, calibration_data=x)
    report = mot.lint(q, target="tflite_int8")
    assert report.verdict == "fails"
    assert {f.op for f in report.errors} >= {"Abs", "Sign"}
    with pytest.raises(mot.KerasMotError, match="Abs"):
        mot.export(q, str(tmp_path / "deberta"), representative_data=x, formats=("tflite",))


def keras_hub_models():
    import keras_hub

    return keras_hub.models
