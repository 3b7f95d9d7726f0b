"""Schedules: values equal tfmot's formula (hand-computed), graph-mode == pure python."""

import pytest
import tensorflow as tf

from keras_mot import codec
from keras_mot.errors import KerasMotError
from keras_mot.sparsity import Block, ConstantSparsity, NofM, PolynomialDecay, PruneSpec, Unstructured

POLY = PolynomialDecay(0.0, 0.8, begin_step=100, end_step=1100, power=3, frequency=100)

# (step, should_update, sparsity) computed by hand from
# s = final + (initial - final) * (1 - clip((step - begin) / (end - begin), 0, 1)) ** power
POLY_EXPECTED = [
    (0, False, 0.0),
    (99, False, 0.0),
    (100, True, 0.0),
    (150, False, 0.8 - 0.8 * 0.95**3),  # 0.114100
    (200, True, 0.8 - 0.8 * 0.9**3),  # 0.216800
    (600, True, 0.7),
    (1100, True, 0.8),
    (1150, False, 0.8),
    (1200, False, 0.8),
]


@pytest.mark.parametrize("step,update,sparsity", POLY_EXPECTED)
def test_polynomial_decay_matches_hand_values(step, update, sparsity):
    assert POLY.sparsity_at(step) == pytest.approx(sparsity, abs=1e-6)
    assert POLY.should_update_at(step) is update


def test_graph_mode_equals_python_every_step():
    fn = tf.function(lambda s: POLY(s))
    cfn = tf.function(lambda s: CONST(s))
    for step in range(0, 1300, 25):
        upd, sp = fn(tf.constant(step, tf.int64))
        assert bool(upd) == POLY.should_update_at(step)
        assert float(sp) == pytest.approx(POLY.sparsity_at(step), abs=1e-6)
        upd, sp = cfn(tf.constant(step, tf.int32))
        assert bool(upd) == CONST.should_update_at(step)
        assert float(sp) == pytest.approx(0.5)


CONST = ConstantSparsity(0.5, begin_step=10, frequency=5)


def test_constant_sparsity():
    assert [CONST.should_update_at(s) for s in (5, 10, 12, 15, 10**6)] == [False, True, False, True, True]
    bounded = ConstantSparsity(0.5, begin_step=0, end_step=20, frequency=10)
    assert [bounded.should_update_at(s) for s in (0, 10, 20, 30)] == [True, True, True, False]
    assert CONST.last_update_step is None


def test_last_update_step_warns_about_unreached_final():
    s = PolynomialDecay(0.0, 0.9, 0, 950, frequency=100)
    assert s.last_update_step == 900 and s.sparsity_at(900) < 0.9
    assert POLY.last_update_step == 1100


@pytest.mark.parametrize(
    "bad",
    [
        lambda: PolynomialDecay(0.0, 1.0, 0, 10),
        lambda: PolynomialDecay(0.0, 0.5, 10, 10),
        lambda: PolynomialDecay(0.0, 0.5, 0, -1),
        lambda: PolynomialDecay(0.0, 0.5, 0, 10, power=0),
        lambda: ConstantSparsity(0.5, -1),
        lambda: ConstantSparsity(0.5, 0, frequency=0),
        lambda: ConstantSparsity(0.5, 0, end_step=2.5),
        lambda: PruneSpec("block", CONST),
    ],
)
def test_invalid_arguments(bad):
    with pytest.raises(KerasMotError, match="Received"):
        bad()


@pytest.mark.parametrize(
    "obj",
    [
        POLY,
        CONST,
        PruneSpec(Block(4, 1), POLY),
        PruneSpec(NofM(2, 4), CONST),
        PruneSpec(Unstructured(), CONST),
    ],
)
def test_serialization_round_trip(obj):
    data = codec.encode(obj)
    assert data["type"] == type(obj).__name__
    assert codec.decode(data, expect=type(obj)) == obj
