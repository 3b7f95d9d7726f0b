"""examples/bert_encoder_qat.py end to end (slow: trains the encoder three times)."""

import importlib.util
import pathlib

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "bert_encoder_qat.py"


@pytest.mark.slow
def test_bert_encoder_qat_example_meets_acceptance():
    spec = importlib.util.spec_from_file_location("bert_encoder_qat", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    r = module.run(train=3000, test=1000, epochs=8, qat_epochs=2)
    assert r["float"] >= 0.9, r["float"]
    assert r["int8_float_ops"] == [] and r["int16x8_float_ops"] == []
    assert r["int8_agreement"] >= 0.995 and r["int16x8_agreement"] >= 0.995
    assert r["int8"] >= r["float"] - 0.01
    assert r["int16x8"] >= r["float"] - 0.003
