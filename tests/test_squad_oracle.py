"""The oracle check: gold positions fed back as logits must give back the gold answers
(bertkit.train.squad_oracle), for Chinese with character doc tokens and for English SQuAD.

Figures and misses by cause: bench/results/cmrc_oracle.md (bench/bench_cmrc_oracle.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from bertkit.evaluate import evaluate
from bertkit.prep.squad.chinese import cjk_doc_tokens
from bertkit.tokenization import load_tokenizer
from bertkit.train.squad_oracle import INSIDE_PIECE, miss_counts, run_oracle
from bertkit.train.squad_postprocess import (
    PostprocessOptions,
    SpanLogits,
    compute_predictions,
    original_text,
)


@pytest.fixture(scope="module")
def chinese_tokenizer(chinese_vocab: Path):
    return load_tokenizer(vocab=chinese_vocab, do_lower_case=True)


def test_cmrc_dev_oracle(shared_data: Path, chinese_tokenizer) -> None:
    report = run_oracle(shared_data / "cmrc2018" / "cmrc2018_dev.json", chinese_tokenizer,
                        doc_tokens="auto", max_seq_length=512, doc_stride=128)
    assert report.doc_tokens == "cjk-chars"
    assert report.aligned == 3219  # every first answer aligns or is repaired
    assert report.repaired == 3
    assert report.em >= 99.5
    assert report.exact_first >= 99.5
    # The one miss: the gold '4个' sits inside the doc token '34' (a number run).
    assert miss_counts(report) == {INSIDE_PIECE: 1}
    # Every prediction is a substring of its context (no spaces put between characters).
    contexts = {qa["id"]: p["context"] for a in json.loads(
        (shared_data / "cmrc2018" / "cmrc2018_dev.json").read_text(encoding="utf-8"))["data"]
        for p in a["paragraphs"] for qa in p["qas"]}
    assert all(text in contexts[qid] for qid, text in report.predictions.items())


def test_drcd_dev_oracle(shared_data: Path, chinese_tokenizer) -> None:
    report = run_oracle(shared_data / "drcd" / "DRCD_dev.json", chinese_tokenizer,
                        doc_tokens="auto", max_seq_length=512, doc_stride=128)
    assert (report.doc_tokens, report.aligned, report.skipped) == ("cjk-chars", 3524, 0)
    assert report.em >= 99.5
    assert report.exact_first >= 99.5
    assert set(miss_counts(report)) <= {INSIDE_PIECE}


def test_oracle_predictions_score_the_same_through_bertkit_eval(
    shared_data: Path, chinese_tokenizer, tmp_path: Path
) -> None:
    """`bertkit eval PRED --gold DRCD_dev.json` picks the CMRC metric by itself."""
    gold = shared_data / "drcd" / "DRCD_dev.json"
    report = run_oracle(gold, chinese_tokenizer, doc_tokens="auto")
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps(report.predictions, ensure_ascii=False), encoding="utf-8")
    result = evaluate(predictions, gold)
    assert result["task"] == "cmrc"
    assert result["EM"] == pytest.approx(report.scores["EM"], abs=1e-9)
    assert result["F1"] == pytest.approx(report.scores["F1"], abs=1e-9)


@pytest.mark.oracle  # all 10,570 SQuAD dev questions (about 35 s)
def test_english_squad_dev_oracle(shared_data: Path, uncased_vocab: Path) -> None:
    tokenizer = load_tokenizer(vocab=uncased_vocab, do_lower_case=True)
    report = run_oracle(shared_data / "squad_v1.1" / "dev-v1.1.json", tokenizer,
                        doc_tokens="auto")
    assert report.doc_tokens == "whitespace"
    assert report.aligned == 10570
    assert report.em >= 99.5
    assert report.exact_first >= 99.5


@pytest.mark.oracle  # Google's whitespace doc tokens on CMRC dev (about 75 s)
def test_cmrc_dev_oracle_with_googles_whitespace_tokens_is_worse(
    shared_data: Path, chinese_tokenizer
) -> None:
    """The issue's figure for Google's code: 96.83 EM (paragraph-wide fallbacks)."""
    report = run_oracle(shared_data / "cmrc2018" / "cmrc2018_dev.json", chinese_tokenizer,
                        doc_tokens="whitespace", max_seq_length=512, doc_stride=128,
                        metric="cmrc")
    assert round(report.em, 2) == 96.83


def test_character_tokens_cut_answers_from_the_context() -> None:
    context = "他在 New  York 住了3年。"
    doc_tokens, starts = cjk_doc_tokens(context)
    assert doc_tokens == ["他", "在", "New", "York", "住", "了", "3", "年", "。"]
    example = SimpleNamespace(qas_id="q", doc_tokens=doc_tokens, context=context,
                              token_starts=starts)
    # Original spacing between Latin words is kept; none is added between characters.
    assert original_text(example, 2, 3) == "New  York"
    assert original_text(example, 4, 7) == "住了3年"
    google = SimpleNamespace(qas_id="q", doc_tokens=["他在", "New", "York"])
    assert original_text(google, 0, 2) == "他在 New York"

    tokens = ["[CLS]", "哪", "[SEP]", "他", "在", "new", "york", "住", "了", "3", "年", "。",
              "[SEP]"]
    feature = SimpleNamespace(
        unique_id=1, example_index=0, tokens=tokens,
        token_to_orig_map={3 + i: i for i in range(9)},
        token_is_max_context={3 + i: True for i in range(9)})
    start, end = [0.0] * 13, [0.0] * 13
    start[7], end[10] = 5.0, 5.0
    answers = compute_predictions([example], [feature], {1: SpanLogits(start, end)},
                                  PostprocessOptions()).answers
    assert answers == {"q": "住了3年"}
