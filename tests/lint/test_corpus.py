"""The lint against the generated corpus (tests/lint/corpus/): one model per keras.ops function and
keras.layers class, with integer inputs, dynamic shapes and mixed dtype policies.

Fast tests compare the lint with the converter verdicts recorded in corpus/verdicts.json (no
conversion); the slow test re-converts a sample that rotates every week (all cases with
`KERAS_MOT_CORPUS_FULL=1`) and checks that the recorded verdicts still hold.
"""

import datetime
import os
import random

import pytest

from keras_mot.lint import lint
from tests.lint.corpus import record
from tests.lint.corpus.generate import case, cases

RECORDED = record.load()
NAMES = sorted(RECORDED["cases"])

# One representative per family the issue describes; the corpus must keep covering them.
FAMILIES = {
    "select-only / no int8 kernel": [
        "op/unique/float",
        "op/scatter_update/float",
        "op/segment_sum/float",
        "op/segment_max/float",
    ],
    "control flow": ["op/fori_loop/float", "op/while_loop/float", "op/cond/float"],
    "elementwise math and index ops": [
        "op/sqrt/float",
        "op/rsqrt/float",
        "op/power/float",
        "op/argmax/float",
        "op/one_hot/int",
        "op/dot_product_attention/float",
    ],
    "string preprocessing": ["layer/StringLookup/vec_string"],
}


def test_corpus_is_large_and_generated_from_the_api():
    generated = {c.name for c in cases()}
    assert len(generated) >= 300
    missing = sorted(generated - set(NAMES))
    vanished = sorted(set(NAMES) - generated)
    assert not missing and not vanished, (
        "The generated corpus and verdicts.json differ; re-record with "
        f"`python -m tests.lint.corpus.record --write`. New: {missing[:10]}, gone: {vanished[:10]}"
    )


def test_recorded_with_the_installed_converter():
    installed = record.versions()
    recorded = {k: RECORDED[k] for k in installed}
    assert recorded == installed, (
        f"verdicts.json was recorded with {recorded}, this is {installed}: run "
        "`python -m tests.lint.corpus.record` to see which verdicts changed, then --write."
    )


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_families_are_covered(family):
    for name in FAMILIES[family]:
        assert name in RECORDED["cases"], (family, name)


def _check(name):
    c = case(name)
    assert c is not None, f"{name} is no longer generated"
    model = c.build()
    want = RECORDED["cases"][name]
    got_float = lint(model, "tflite")
    got_int8 = lint(model, "tflite_int8")
    assert got_float.verdict == want["float"], got_float.format_table()
    assert got_int8.verdict == want["int8"], (want.get("int8_float_ops"), got_int8.format_table())
    for report in (got_float, got_int8):
        for finding in report.errors:
            assert finding.layer and finding.fix, finding


@pytest.mark.parametrize("name", NAMES)
def test_lint_matches_recorded_converter(name):
    _check(name)


def _weekly_sample(k=24):
    if os.environ.get("KERAS_MOT_CORPUS_FULL"):
        return NAMES
    week = datetime.date.today().isocalendar()
    return sorted(random.Random(week[0] * 100 + week[1]).sample(NAMES, k))


@pytest.mark.slow
def test_recorded_verdicts_still_hold():
    names = _weekly_sample()
    fresh = record.record(names, jobs=2, verbose=False)
    changes = record.diff({n: RECORDED["cases"][n] for n in names}, fresh)
    assert not changes, "\n".join(changes)
