"""Masks have exactly the promised pattern, reach the requested sparsity, and are graph-safe."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mot import codec
from keras_mot.errors import KerasMotError
from keras_mot.sparsity import Block, NofM, SparsityPattern, Unstructured, get_layout

RNG = np.random.default_rng(0)
DENSE = RNG.standard_normal((16, 8)).astype("float32")  # (in, out)
CONV = RNG.standard_normal((3, 3, 8, 16)).astype("float32")  # (kh, kw, in, out)


def _mask(pattern, w, sparsity, kind):
    return np.asarray(pattern.compute_mask(w, sparsity, kind))


def _constant_over(mask, axis):
    """True when mask is constant along `axis` (every block all-0 or all-1)."""
    return bool(np.all(mask.min(axis=axis) == mask.max(axis=axis)))


@pytest.mark.parametrize("sparsity", [0.5, 0.75])
def test_block_4x1_dense_is_tflite_1x4(sparsity):
    m = _mask(Block(4, 1), DENSE, sparsity, "dense")
    assert _constant_over(m.reshape(4, 4, 8), axis=1)  # 4 consecutive inputs
    assert not _constant_over(m.reshape(16, 2, 4), axis=2)  # not blocks along outputs
    assert np.mean(m == 0) == pytest.approx(sparsity)


def test_block_1x4_dense_runs_along_outputs():
    m = _mask(Block(1, 4), DENSE, 0.5, "dense")
    assert _constant_over(m.reshape(16, 2, 4), axis=2)
    assert np.mean(m == 0) == 0.5


def test_block_on_conv_rows_are_input_channels_per_tap():
    m = _mask(Block(4, 1), CONV, 0.75, "conv")
    assert _constant_over(m.reshape(3, 3, 2, 4, 16), axis=3)
    assert np.mean(m == 0) == 0.75
    m = _mask(Block(1, 4), CONV, 0.5, "conv")
    assert _constant_over(m.reshape(3, 3, 8, 4, 4), axis=4)
    assert np.mean(m == 0) == 0.5


def test_block_on_conv_transpose_rows_are_input_channels():
    w = RNG.standard_normal((3, 3, 16, 8)).astype("float32")  # (kh, kw, out, in)
    m = _mask(Block(4, 1), w, 0.5, "conv_transpose")
    assert _constant_over(m.reshape(3, 3, 16, 2, 4), axis=4)
    assert np.mean(m == 0) == 0.5


@pytest.mark.parametrize(
    "w,kind,groups_shape,axis",
    [
        (DENSE, "dense", (4, 4, 8), 1),
        (CONV, "conv", (3, 3, 2, 4, 16), 3),
    ],
)
def test_nofm_2_4_keeps_two_of_every_four_inputs(w, kind, groups_shape, axis):
    m = _mask(NofM(2, 4), w, 0.3, kind)
    assert np.all(m.reshape(groups_shape).sum(axis=axis) == 2)
    kept = np.abs(w.reshape(groups_shape)) * m.reshape(groups_shape)
    dropped = np.abs(w.reshape(groups_shape)) * (1 - m.reshape(groups_shape))
    assert np.all(kept.max(axis=axis) >= dropped.max(axis=axis))
    assert np.all(_mask(NofM(2, 4), w, 0.0, kind) == 1)  # before the schedule starts


@pytest.mark.parametrize("kind,w", [("dense", DENSE), ("conv", CONV), ("depthwise", CONV)])
def test_unstructured_keeps_largest_and_exact_count(kind, w):
    m = _mask(Unstructured(), w, 0.8, kind)
    assert np.sum(m == 0) == round(w.size * 0.8)
    assert np.abs(w[m == 1]).min() >= np.abs(w[m == 0]).max()


def test_block_pooling_avg_vs_max():
    w = np.array([[10, 3], [0, 3], [0, 3], [0, 3]], "float32")  # block0: avg 2.5 max 10
    assert _mask(Block(4, 1, "avg"), w, 0.5, "dense")[:, 1].all()
    assert _mask(Block(4, 1, "max"), w, 0.5, "dense")[:, 0].all()


def test_pruned_entries_stay_pruned_as_sparsity_grows():
    m1 = _mask(Block(4, 1), DENSE, 0.5, "dense")
    m2 = _mask(Block(4, 1), DENSE * m1, 0.75, "dense")
    assert np.all(m2 <= m1)


def test_partial_blocks_still_mask_and_check_reports():
    w = RNG.standard_normal((30, 6)).astype("float32")
    m = _mask(Block(4, 1), w, 0.5, "dense")
    assert m.shape == w.shape and 0.4 < np.mean(m == 0) < 0.6
    finding = Block(4, 1).check(w.shape, "dense", layer="fc")
    assert finding.code == "block-not-divisible" and finding.layer == "fc"
    assert "30 input channels" in finding.message


def test_graph_mode_with_tensor_sparsity():
    fn = tf.function(lambda w, s: Block(4, 1).compute_mask(w, s, "dense"))
    m = fn(tf.constant(DENSE), tf.constant(0.5)).numpy()
    assert np.mean(m == 0) == 0.5
    fn = tf.function(lambda w, s: NofM(2, 4).compute_mask(w, s, "conv"))
    assert np.all(fn(tf.constant(CONV), tf.constant(0.5)).numpy().reshape(3, 3, 2, 4, 16).sum(axis=3) == 2)


def test_checks():
    assert Block(4, 1).check((3, 3, 8, 16), "conv") is None
    assert Block(4, 1).check((3, 3, 6, 16), "conv").code == "block-not-divisible"
    assert Block(1, 4).check((3, 3, 8, 6), "conv").code == "block-not-divisible"
    assert NofM(2, 4).check((16, 8), "dense") is None
    assert NofM(2, 4).check((3, 3, 6, 16), "conv").code == "nofm-not-divisible"
    assert Unstructured().check((8,), "dense").severity == "error"
    with pytest.raises(KerasMotError, match="Unknown layer kind"):
        Unstructured().check((8, 8), "lstm")


@pytest.mark.parametrize(
    "bad", [lambda: Block(0, 4), lambda: Block(4, 1, "median"), lambda: NofM(4, 4), lambda: NofM(2.0, 4)]
)
def test_invalid_arguments_raise_clear_errors(bad):
    with pytest.raises(KerasMotError, match="Received"):
        bad()


@pytest.mark.parametrize("pattern", [Unstructured(), Block(16, 1, "max"), NofM(2, 4)])
def test_pattern_serialization_round_trip(pattern):
    data = codec.encode(pattern)
    assert data["type"] == type(pattern).__name__ and data["version"] == 1
    assert codec.decode(data, expect=SparsityPattern) == pattern


def test_layout_views():
    assert get_layout("conv").matrix_shape((3, 3, 8, 16)) == (72, 16)
    assert get_layout("depthwise").matrix_shape((3, 3, 8, 2)) == (9, 16)
    assert get_layout("conv_transpose").matrix_shape((3, 3, 16, 8)) == (72, 16)
    assert get_layout("conv").matrix_shape((5, 8, 16)) == (40, 16)  # Conv1D
