"""`dynamic_int8`: the activation rule (Keras 3's), the layers it quantizes, QAT on every backend."""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mot as mot
from keras_mot.errors import KerasMotError
from keras_mot.quantization.dynamic_int8 import activation_axes, fake_quant_activation
from keras_mot.quantization.weight_only import get_scheme, weight_only_scheme
from keras_mot.weight_only_wrapper import weight_only_wrappers
from tests.quantization.serving_models import every_kind_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# QAT steps, a `.keras` round trip with safe_mode=True, in a process of the given backend
_QAT = """
import json, sys, numpy as np, keras, keras_mot as mot
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 6, 6, 2)).astype("float32")
y = (x[:, :3, :3, 0].mean((1, 2)) > 0).astype("int32")
inp = keras.Input((6, 6, 2))
h = keras.layers.Conv2D(4, 3, activation="relu")(inp)
h = keras.layers.DepthwiseConv2D(3)(h)
h = keras.layers.Reshape((2, 8))(h)
h = keras.layers.EinsumDense("abc,cd->abd", (2, 8), activation="relu")(h)
out = keras.layers.Dense(2)(keras.layers.Flatten()(h))
q = mot.quantize(keras.Model(inp, out), target="tf_serving", scheme="dynamic_int8")
q.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(True), lint="off")
before = [np.array(v) for v in q.trainable_variables]
loss = q.fit(x, y, epochs=3, batch_size=16, verbose=0).history["loss"]
moved = all(np.abs(np.array(v) - b).max() > 0 for v, b in zip(q.trainable_variables, before))
q.save(sys.argv[1])
r = keras.saving.load_model(sys.argv[1], safe_mode=True)
print(json.dumps({"backend": keras.backend.backend(), "loss": loss, "moved": moved,
                  "reload_diff": float(np.abs(r.predict(x, verbose=0) - q.predict(x, verbose=0)).max())}))
"""


_model = every_kind_model


def test_activation_rule_is_keras_abs_max_with_straight_through_gradient():
    x = np.random.default_rng(0).normal(size=(4, 5, 33)).astype("float32") * [[[0.01]], [[1]], [[30]], [[0]]]
    q, scale = keras.quantizers.abs_max_quantize(x, axis=-1)  # Keras 3's int8 input rule
    expected = np.asarray(q, np.float32) / np.asarray(scale)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = fake_quant_activation(xt, (-1,))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(tape.gradient(y, xt).numpy(), np.ones_like(x))
    per_row = (y.numpy() * np.asarray(scale)).round()
    assert np.abs(per_row).max() == 127 and not np.any(y.numpy()[3])  # all-zero row stays zero


def test_activation_axes_per_layer_kind():
    einsum = keras.layers.EinsumDense("btd,dhk->bthk", (6, 2, 8))
    assert activation_axes(keras.layers.Dense(3)) == (-1,)
    assert activation_axes(einsum) == (2,)
    assert activation_axes(keras.layers.EinsumDense("...d,de->...e", 4)) is None
    assert activation_axes(keras.layers.Conv2D(4, 3)) == (1, 2, 3)
    assert activation_axes(keras.layers.Conv1D(4, 3)) == (1, 2)
    assert activation_axes(keras.layers.DepthwiseConv2D(3)) == (1, 2, 3)
    assert activation_axes(keras.layers.Embedding(10, 4)) is None


def test_scheme_is_registered_and_refuses_int4_or_bf16():
    scheme = get_scheme("dynamic_int8")
    assert scheme.dynamic and scheme.bits == 8 and scheme.block_size is None
    assert type(scheme).from_config(scheme.get_config()) == scheme
    with pytest.raises(KerasMotError, match="dynamic activations"):
        weight_only_scheme(4, 32, dynamic=True)
    with pytest.raises(KerasMotError, match="float32 compute"):
        weight_only_scheme(8, compute_dtype="bfloat16", dynamic=True)


def test_layers_are_selected_and_weight_only_ones_get_a_finding():
    model = _model()
    q = mot.quantize(model, target="tf_serving", scheme="dynamic_int8")
    axes = {type(w.layer).__name__: w.activation_axes for _, w in weight_only_wrappers(q)}
    assert axes == {
        "Embedding": None,
        "MultiHeadAttention": None,
        "EinsumDense": (2,),
        "Conv2D": (1, 2, 3),
        "DepthwiseConv2D": (1, 2, 3),
        "Dense": (-1,),
    }
    found = {f.message.split()[0] for f in q.mot_findings if f.code == "dynamic-int8-weight-only"}
    assert found == {"Embedding", "MultiHeadAttention"}
    ids = np.random.default_rng(0).integers(0, 40, (8, 8))
    ref, out = model.predict(ids, verbose=0), q.predict(ids, verbose=0)
    weight_only = mot.quantize(model, target="tf_serving", scheme="int8_weight_only").predict(ids, verbose=0)
    assert 0 < np.abs(out - ref).max() < 0.2 * np.abs(ref).max() + 1e-3
    assert np.abs(out - weight_only).max() > 0  # the inputs are quantized too
    # the same selection as the weight-only schemes: exclude and Recipe rules
    q = mot.quantize(model, target="tf_serving", scheme="dynamic_int8", exclude=["head"])
    assert "head" not in {p.split("/")[-1] for p, _ in weight_only_wrappers(q)}
    recipe = mot.Recipe(
        "tf_serving",
        rules=(
            mot.Rule("class:Dense", quantize="dynamic_int8"),
            mot.Rule("_default", quantize="int8_weight_only"),
        ),
    )
    schemes = {
        type(w.layer).__name__: w.scheme.name for _, w in weight_only_wrappers(mot.apply(model, recipe))
    }
    assert schemes["Dense"] == "dynamic_int8" and schemes["Conv2D"] == "int8_weight_only"


def test_post_training_matches_keras_int8_mode_on_dense():
    """Keras 3's `model.quantize("int8")` quantizes Dense inputs with the same rule: the
    post-training outputs agree up to float rounding (its weight scale adds an epsilon)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((48,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )
    x = np.random.default_rng(0).normal(size=(256, 48)).astype("float32")
    ours = mot.quantize(model, target="tf_serving", scheme="dynamic_int8").predict(x, verbose=0)
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    reference.quantize("int8")
    theirs = reference.predict(x, verbose=0)
    float_diff = np.abs(model.predict(x, verbose=0) - theirs).max()
    diff = np.abs(ours - theirs)
    # equal up to float rounding but where a rounding difference flips one activation code
    assert np.mean(diff < 1e-5) > 0.97, np.mean(diff < 1e-5)
    assert diff.max() < 0.5 * float_diff, (diff.max(), float_diff)


@pytest.mark.parametrize("backend", ["jax", "torch", "tensorflow"])
def test_qat_trains_and_round_trips_on_every_backend(tmp_path, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"the {backend} backend is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", _QAT, str(tmp_path / "m.keras")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == backend and out["moved"] and out["reload_diff"] == 0.0
    assert out["loss"][-1] < out["loss"][0]
