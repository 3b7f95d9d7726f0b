"""Sparsity targets: every table entry is a valid cited rule; pattern_for picks per layer."""

import pytest

from keras_mot import targets
from keras_mot.errors import KerasMotError
from keras_mot.sparsity import Block, NofM, SparsityPattern, Unstructured, kinds

SPARSE_TARGETS = ["generic", "xnnpack_sparse", "tflite_sparse_fc", "tflite_sparse_fc_int8", "nvidia_2x4"]


@pytest.mark.parametrize("name", SPARSE_TARGETS)
def test_every_entry_is_a_cited_rule_for_a_known_kind(name):
    target = targets.get(name)
    assert target.sparsity and target.references
    for kind, rule in target.sparsity.items():
        assert kind in kinds()
        assert isinstance(rule.pattern, SparsityPattern) and rule.source


@pytest.mark.parametrize(
    "name,kind,shape,expected",
    [
        ("tflite_sparse_fc", "dense", (512, 2048), Block(4, 1)),
        ("tflite_sparse_fc", "conv", (1, 1, 16, 32), None),
        ("tflite_sparse_fc_int8", "dense", (512, 2048), Block(16, 1)),
        ("xnnpack_sparse", "conv", (1, 1, 16, 32), Unstructured()),
        ("xnnpack_sparse", "conv", (3, 3, 16, 32), None),
        ("xnnpack_sparse", "dense", (16, 32), None),
        ("nvidia_2x4", "conv", (3, 3, 16, 32), NofM(2, 4)),
        ("generic", "depthwise", (3, 3, 16, 1), Unstructured()),
        ("tflite", "dense", (16, 32), None),
    ],
)
def test_pattern_for(name, kind, shape, expected):
    assert targets.get(name).pattern_for(kind, shape) == expected
    assert targets.pattern_for(name, kind, shape) == expected


def test_a_malformed_sparsity_entry_is_refused_when_the_target_is_built():
    with pytest.raises(KerasMotError, match="my_sparse.*'dense'"):
        targets.Target("my_sparse", "bad table", sparsity={"dense": 0.5})


def test_thresholds_and_converter_settings():
    assert targets.get("xnnpack_sparse").min_sparsity == pytest.approx(2 / 3)
    fc = targets.get("tflite_sparse_fc").converter
    assert fc.optimizations == ("EXPERIMENTAL_SPARSITY",) and fc.sparsity  # no DEFAULT: hybrid
    assert targets.get("tflite_sparse_fc_int8").converter.quantize == "int8"
