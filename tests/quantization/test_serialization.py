"""Everything round-trips: registry conformance, get_config/from_config, `.keras` safe_mode."""

import keras
import numpy as np
import pytest

import keras_mot as mot
from keras_mot.layers.base import registered_types
from keras_mot.layers.elementwise import ConstantOp
from keras_mot.quantization.scheme import _SCHEMES

L = keras.layers

# One small instance (and input shape) per layer type that has an adapter. A new adapter without
# an entry here fails `test_every_adapter_has_a_conformance_case`.
EXAMPLES = {
    L.Conv1D: (lambda: L.Conv1D(4, 3), (10, 3)),
    L.Conv2D: (lambda: L.Conv2D(4, 3, activation="relu"), (6, 6, 3)),
    L.Conv3D: (lambda: L.Conv3D(2, 2), (4, 4, 4, 2)),
    L.Dense: (lambda: L.Dense(4, activation="softmax"), (5,)),
    L.DepthwiseConv1D: (lambda: L.DepthwiseConv1D(3), (10, 3)),
    L.DepthwiseConv2D: (lambda: L.DepthwiseConv2D(3, depth_multiplier=2), (6, 6, 3)),
    L.SeparableConv1D: (lambda: L.SeparableConv1D(4, 3), (10, 3)),
    L.SeparableConv2D: (lambda: L.SeparableConv2D(4, 3), (6, 6, 3)),
    L.Conv1DTranspose: (lambda: L.Conv1DTranspose(4, 3), (10, 3)),
    L.Conv2DTranspose: (lambda: L.Conv2DTranspose(4, 3, strides=2), (6, 6, 3)),
    L.Activation: (lambda: L.Activation("silu"), (5,)),
    L.ReLU: (lambda: L.ReLU(6.0), (5,)),
    L.Softmax: (lambda: L.Softmax(), (5,)),
    L.LeakyReLU: (lambda: L.LeakyReLU(0.2), (5,)),
    L.ELU: (lambda: L.ELU(), (5,)),
    L.Add: (lambda: L.Add(), [(5,), (5,)]),
    L.Subtract: (lambda: L.Subtract(), [(5,), (5,)]),
    L.Multiply: (lambda: L.Multiply(), [(5,), (5,)]),
    L.Maximum: (lambda: L.Maximum(), [(5,), (5,)]),
    L.Minimum: (lambda: L.Minimum(), [(5,), (5,)]),
    L.Concatenate: (lambda: L.Concatenate(), [(5,), (3,)]),
    L.GlobalAveragePooling1D: (lambda: L.GlobalAveragePooling1D(), (10, 3)),
    L.GlobalAveragePooling2D: (lambda: L.GlobalAveragePooling2D(), (6, 6, 3)),
    L.AveragePooling1D: (lambda: L.AveragePooling1D(2), (10, 3)),
    L.AveragePooling2D: (lambda: L.AveragePooling2D(2), (6, 6, 3)),
    L.UpSampling2D: (lambda: L.UpSampling2D(interpolation="bilinear"), (6, 6, 3)),
    L.Resizing: (lambda: L.Resizing(4, 4), (6, 6, 3)),
    L.Identity: (lambda: L.Identity(), (5,)),
    L.Rescaling: (lambda: L.Rescaling(0.5, offset=0.1), (5,)),
    L.Normalization: (lambda: L.Normalization(mean=0.5, variance=2.0), (5,)),
    L.BatchNormalization: (lambda: L.BatchNormalization(), (5,)),
    ConstantOp: (lambda: ConstantOp("add", 3.0), (5,)),
    # attention adapters (keras_mot/layers/attention.py, einsum.py, normalization.py, embedding.py)
    L.EinsumDense: (lambda: L.EinsumDense("abc,cde->abde", (5, 2, 2), bias_axes="de"), (5, 4)),
    L.MultiHeadAttention: (lambda: lambda qv: L.MultiHeadAttention(2, 2)(*qv), [(5, 4), (5, 4)]),
    L.LayerNormalization: (lambda: L.LayerNormalization(), (5, 4)),
    L.Embedding: (lambda: L.Embedding(4, 3), (5,)),
}


def _model(layer_type):
    make, shape = EXAMPLES[layer_type]
    inputs = [keras.Input(s) for s in shape] if isinstance(shape, list) else keras.Input(shape)
    return keras.Model(inputs, make()(inputs)), inputs


def _data(inputs, n=8):
    rng = np.random.default_rng(0)
    if isinstance(inputs, list):
        return [rng.uniform(-1, 1, (n,) + tuple(i.shape[1:])).astype("float32") for i in inputs]
    return rng.uniform(-1, 1, (n,) + tuple(inputs.shape[1:])).astype("float32")


def test_every_adapter_has_a_conformance_case():
    missing = [t.__name__ for t in registered_types() if t not in EXAMPLES]
    assert not missing, f"add conformance cases for {missing}"


@pytest.mark.parametrize("layer_type", list(EXAMPLES), ids=lambda t: t.__name__)
def test_wrapper_config_roundtrip_and_keras_file(layer_type, tmp_path):
    model, inputs = _model(layer_type)
    x = _data(inputs)
    q = mot.quantize(model, calibration_data=[x] if isinstance(x, list) else x, calibration_steps=1)
    wrapped = [
        layer for layer in q.layers if isinstance(layer, mot.Wrapper) and type(layer.layer) is layer_type
    ]
    assert wrapped, f"{layer_type.__name__} was not wrapped"
    w = wrapped[0]
    clone = mot.Wrapper.from_config(w.get_config())
    assert clone.get_config() == w.get_config()
    path = tmp_path / "m.keras"
    q.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, mot.PreparedModel) and loaded.mot_target == "tflite_int8"
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(q(x)))


def test_trained_qat_model_roundtrips_exactly_and_keeps_training(tmp_path):
    i = keras.Input((8, 8, 3))
    h = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same", use_bias=False)(i)))
    y = L.Dense(3)(L.GlobalAveragePooling2D()(L.Concatenate()([h, L.Conv2D(4, 1)(h)])))
    x = np.random.default_rng(0).uniform(0, 1, (32, 8, 8, 3)).astype("float32")
    t = np.random.default_rng(1).integers(0, 3, 32)
    q = mot.quantize(keras.Model(i, y), calibration_data=x)
    q.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), lint="off")
    q.fit(x, t, epochs=1, batch_size=8, verbose=0)
    q.save(tmp_path / "q.keras")
    loaded = keras.saving.load_model(tmp_path / "q.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(q(x)))
    loaded.fit(x, t, epochs=1, batch_size=8, verbose=0)  # compiled state restored


@pytest.mark.parametrize("name", sorted(_SCHEMES))
def test_scheme_config_roundtrip(name):
    scheme = _SCHEMES[name]
    assert type(scheme).from_config(scheme.get_config()) == scheme


def test_annotated_and_constant_op_roundtrip(tmp_path):
    a = mot.annotate(L.Dense(3, name="d"), quantize=None, prune=mot.Block(4, 1))
    b = mot.Annotated.from_config(a.get_config())
    assert b.quantize is None and b.prune == mot.Block(4, 1) and b.layer.units == 3
    c = ConstantOp.from_config(ConstantOp("multiply", 0.5, constant_first=True).get_config())
    assert (c.op, c.value, c.constant_first) == ("multiply", 0.5, True)
    i = keras.Input((4,))
    m = keras.Model(i, a(i))
    m.save(tmp_path / "a.keras")
    loaded = keras.saving.load_model(tmp_path / "a.keras", safe_mode=True)
    assert isinstance(loaded.layers[-1], mot.Annotated)
