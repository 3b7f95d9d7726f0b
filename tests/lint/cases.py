"""Small models for the lint conformance suite: one builder per case.

Each `Case` names a builder returning a Keras model with tiny shapes. `risky=True` cases run their
conversions in a subprocess (the pip calibrator can crash on them, docs/converter_facts.md §7).
"""

import dataclasses
from typing import Callable

import keras
from keras import layers, ops


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    build: Callable
    slow: bool = False
    risky: bool = False
    int_input: int = 0  # >0: integer inputs in [0, int_input)


def _img(shape=(8, 8, 3)):
    return keras.Input(shape, name="image")


def _seq(shape=(6, 4)):
    return keras.Input(shape, name="seq")


def _model(inp, out, name):
    return keras.Model(inp, out, name=name)


def _chain(name, *layer_list, inp=None):
    inp = _img() if inp is None else inp
    x = inp
    for layer in layer_list:
        x = layer(x)
    return _model(inp, x, name)


class _OpLayer(layers.Layer):
    """Applies one keras.ops function (so ops have a layer to be attributed to)."""

    def __init__(self, fn, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn

    def call(self, x):
        return self.fn(x)


def _op(name, fn, inp=None, pre=None):
    inp = _seq() if inp is None else inp
    x = pre(inp) if pre is not None else inp
    return _model(inp, _OpLayer(fn, name=name)(x), name)


def _mha():
    inp = _seq((5, 8))
    x = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(inp, inp)
    return _model(inp, x, "mha")


def _attention():
    inp = _seq((5, 8))
    x = layers.Attention(name="attn")([inp, inp])
    return _model(inp, x, "attention")


def _residual():
    inp = _img()
    a = layers.Conv2D(3, 1, name="a")(inp)
    b = layers.Add(name="add")([inp, a])
    c = layers.Multiply(name="mul")([b, a])
    d = layers.Concatenate(name="cat")([c, inp])
    return _model(inp, d, "residual")


def _rnn(cls, unroll=False, batch_size=None, name=None, **kw):
    inp = keras.Input((5, 3), batch_size=batch_size, name="seq")
    x = cls(4, unroll=unroll, name="rnn", **kw)(inp)
    x = layers.Dense(2, name="head")(x)
    return _model(inp, x, name)


def _bidirectional():
    inp = _seq((5, 3))
    x = layers.Bidirectional(layers.GRU(3), name="bi")(inp)
    return _model(inp, x, "bidirectional_gru")


def _embedding():
    inp = keras.Input((6,), dtype="int32", name="tokens")
    x = layers.Embedding(20, 4, name="emb")(inp)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    x = layers.Dense(3, name="head")(x)
    return _model(inp, x, "embedding")


def _float16_dense():
    inp = _seq((8,))
    x = layers.Dense(4, dtype="float16", name="dense16")(inp)
    x = layers.Dense(2, name="head")(x)
    return _model(inp, x, "float16_dense")


def _mixed_float16():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inp = _img()
        x = layers.Conv2D(4, 3, name="conv")(inp)
        x = layers.Activation("linear", dtype="float32", name="out")(x)
        return _model(inp, x, "mixed_float16")
    finally:
        keras.config.set_dtype_policy(policy)


def _mobilenet():
    return keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10)


def _dense_relu():
    return _chain(
        "dense_relu",
        layers.Flatten(name="flat"),
        layers.Dense(8, activation="relu", name="fc1"),
        layers.Dense(3, name="fc2"),
    )


def _conv_bn():
    return _chain(
        "conv_bn",
        layers.Conv2D(4, 3, use_bias=False, name="conv"),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(name="relu"),
    )


CASES = [
    # --- vision
    Case("conv2d_relu", lambda: _chain("conv2d_relu", layers.Conv2D(4, 3, activation="relu", name="conv"))),
    Case(
        "conv2d_stride2",
        lambda: _chain("conv2d_stride2", layers.Conv2D(4, 3, strides=2, padding="same", name="conv")),
    ),
    Case(
        "conv2d_dilated",
        lambda: _chain("conv2d_dilated", layers.Conv2D(4, 3, dilation_rate=2, padding="same", name="conv")),
    ),
    Case("depthwise", lambda: _chain("depthwise", layers.DepthwiseConv2D(3, name="dw"))),
    Case("separable", lambda: _chain("separable", layers.SeparableConv2D(4, 3, name="sep"))),
    Case(
        "conv2d_transpose",
        lambda: _chain("conv2d_transpose", layers.Conv2DTranspose(4, 3, strides=2, name="deconv")),
    ),
    Case("conv1d", lambda: _chain("conv1d", layers.Conv1D(4, 3, name="conv"), inp=_seq())),
    Case("conv3d", lambda: _chain("conv3d", layers.Conv3D(2, 3, name="conv"), inp=keras.Input((4, 6, 6, 2)))),
    Case(
        "pools",
        lambda: _chain(
            "pools", layers.MaxPooling2D(name="maxpool"), layers.AveragePooling2D(2, name="avgpool")
        ),
    ),
    Case(
        "gap_dense",
        lambda: _chain(
            "gap_dense",
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(3, activation="softmax", name="head"),
        ),
    ),
    Case("global_max_pool", lambda: _chain("global_max_pool", layers.GlobalMaxPooling2D(name="gmp"))),
    Case("upsample_nearest", lambda: _chain("upsample_nearest", layers.UpSampling2D(name="up"))),
    Case(
        "upsample_bilinear",
        lambda: _chain("upsample_bilinear", layers.UpSampling2D(interpolation="bilinear", name="up")),
    ),
    Case(
        "resize_bicubic",
        lambda: _chain("resize_bicubic", layers.Resizing(12, 12, interpolation="bicubic", name="resize")),
    ),
    Case(
        "pad_crop",
        lambda: _chain("pad_crop", layers.ZeroPadding2D(1, name="pad"), layers.Cropping2D(2, name="crop")),
    ),
    Case(
        "maxpool3d",
        lambda: _chain("maxpool3d", layers.MaxPooling3D(name="pool3d"), inp=keras.Input((4, 4, 4, 2))),
    ),
    Case("conv_bn", _conv_bn),
    Case("residual_merge", _residual),
    Case(
        "reshape_permute",
        lambda: _chain(
            "reshape_permute",
            layers.Reshape((16, 12), name="rs"),
            layers.Permute((2, 1), name="perm"),
            layers.Flatten(name="flat"),
        ),
    ),
    Case("dense_relu", _dense_relu),
    # --- activations
    Case(
        "gelu_exact",
        lambda: _chain(
            "gelu_exact",
            layers.Dense(4, name="fc"),
            layers.Activation(lambda x: keras.activations.gelu(x, approximate=False), name="gelu"),
            inp=_seq(),
        ),
    ),
    Case(
        "gelu_tanh",
        lambda: _chain(
            "gelu_tanh",
            layers.Dense(4, name="fc"),
            layers.Activation(lambda x: keras.activations.gelu(x, approximate=True), name="gelu"),
            inp=_seq(),
        ),
    ),
    Case("elu", lambda: _chain("elu", layers.Dense(4, name="fc"), layers.ELU(name="elu"), inp=_seq())),
    Case(
        "hard_silu",
        lambda: _chain(
            "hard_silu", layers.Dense(4, name="fc"), layers.Activation("hard_silu", name="act"), inp=_seq()
        ),
    ),
    Case(
        "silu",
        lambda: _chain("silu", layers.Dense(4, name="fc"), layers.Activation("silu", name="act"), inp=_seq()),
    ),
    Case(
        "leaky_prelu",
        lambda: _chain(
            "leaky_prelu",
            layers.Dense(4, name="fc"),
            layers.LeakyReLU(name="leaky"),
            layers.PReLU(name="prelu"),
            inp=_seq(),
        ),
    ),
    Case(
        "tanh_sigmoid_softmax",
        lambda: _chain(
            "tanh_sigmoid_softmax",
            layers.Dense(4, name="fc"),
            layers.Activation("tanh", name="tanh"),
            layers.Activation("sigmoid", name="sig"),
            layers.Softmax(name="softmax"),
            inp=_seq(),
        ),
    ),
    Case(
        "softplus",
        lambda: _chain(
            "softplus", layers.Dense(4, name="fc"), layers.Activation("softplus", name="act"), inp=_seq()
        ),
    ),
    Case(
        "selu",
        lambda: _chain("selu", layers.Dense(4, name="fc"), layers.Activation("selu", name="act"), inp=_seq()),
    ),
    # --- normalization
    Case("layernorm", lambda: _chain("layernorm", layers.LayerNormalization(name="ln"), inp=_seq())),
    Case(
        "groupnorm",
        lambda: _chain(
            "groupnorm", layers.Conv2D(4, 1, name="conv"), layers.GroupNormalization(2, name="gn")
        ),
    ),
    Case("unitnorm", lambda: _chain("unitnorm", layers.UnitNormalization(name="un"), inp=_seq())),
    Case("rmsnorm", lambda: _chain("rmsnorm", layers.RMSNormalization(name="rms"), inp=_seq())),
    # --- attention
    Case("mha", _mha),
    Case("dot_attention", _attention),
    # --- recurrent
    Case("lstm_dynamic", lambda: _rnn(layers.LSTM, name="lstm_dynamic")),
    Case("gru_dynamic", lambda: _rnn(layers.GRU, name="gru_dynamic")),
    Case("simple_rnn_dynamic", lambda: _rnn(layers.SimpleRNN, name="simple_rnn_dynamic")),
    Case("lstm_unroll", lambda: _rnn(layers.LSTM, unroll=True, name="lstm_unroll")),
    Case("gru_unroll", lambda: _rnn(layers.GRU, unroll=True, name="gru_unroll")),
    Case("bidirectional_gru", _bidirectional),
    Case("lstm_static_batch", lambda: _rnn(layers.LSTM, batch_size=1, name="lstm_static_batch"), risky=True),
    # --- keras.ops
    Case("ops_argmax", lambda: _op("argmax", lambda x: ops.argmax(x, axis=-1))),
    Case("ops_cumsum", lambda: _op("cumsum", lambda x: ops.cumsum(x, axis=1))),
    Case("ops_cumprod", lambda: _op("cumprod", lambda x: ops.cumprod(x, axis=1))),
    Case("ops_sort", lambda: _op("sort", lambda x: ops.sort(x, axis=-1))),
    Case("ops_erf", lambda: _op("erf", ops.erf)),
    Case("ops_erfinv", lambda: _op("erfinv", lambda x: ops.erfinv(ops.tanh(x)))),
    Case("ops_einsum", lambda: _op("einsum", lambda x: ops.einsum("bij,bkj->bik", x, x))),
    Case("ops_matmul", lambda: _op("matmul", lambda x: ops.matmul(x, ops.transpose(x, (0, 2, 1))))),
    Case("ops_round", lambda: _op("round", ops.round)),
    Case("ops_square_abs", lambda: _op("square_abs", lambda x: ops.abs(ops.square(x)))),
    Case("ops_top_k", lambda: _op("top_k", lambda x: ops.top_k(x, 2)[0])),
    Case("ops_max_mean", lambda: _op("reduce", lambda x: ops.max(x, axis=1) + ops.mean(x, axis=1))),
    Case("embedding", _embedding, int_input=20),
    # --- dtype policies
    Case("float16_dense", _float16_dense),
    Case("mixed_float16", _mixed_float16),
    # --- keras.applications
    Case("mobilenet_v2_035", _mobilenet),
]
