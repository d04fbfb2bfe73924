"""CMRC 2018 scoring (mixed segmentation) on hand cases, and the Treebank word splitter
against NLTK's own tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.evaluate import evaluate
from bertkit.evaluate.cmrc import (
    exact_against,
    f1_against,
    longest_common_run,
    mixed_segmentation,
    score_cmrc,
)
from bertkit.evaluate.squad_v1 import GoldQuestion
from bertkit.evaluate.treebank import word_tokenize


def test_segmentation_splits_chinese_per_character_and_english_per_word() -> None:
    text = "Hello World，我爱北京！"
    assert mixed_segmentation(text, remove_punctuation=True) == [
        "hello", "world", "我", "爱", "北", "京"]
    assert mixed_segmentation(text) == ["hello", "world", "，", "我", "爱", "北", "京", "！"]
    # ASCII , . ? ! are not in the scorer's list: the word splitter handles them.
    assert mixed_segmentation("GDP增长3.5%.", remove_punctuation=True) == [
        "gdp", "增", "长", "3.5", "%", "."]


def test_f1_uses_longest_contiguous_run() -> None:
    assert f1_against(["北京大学"], "北京") == pytest.approx(2 / 3)
    assert longest_common_run(list("abxcd"), list("abcd")) == 2  # contiguous, not a subsequence
    assert f1_against(["北京大学", "北大"], "北大") == 1.0      # max over golds
    assert f1_against(["北京"], "上海") == 0.0
    assert f1_against(["3.5%"], "3.5") == pytest.approx(2 / 3)


def test_exact_ignores_listed_punctuation_and_case() -> None:
    assert exact_against(["《红楼梦》"], "红楼梦") == 1
    assert exact_against(["iPhone"], " IPHONE ") == 1
    assert exact_against(["3.5%"], "3.5") == 0
    assert exact_against(["a-b"], "ab") == 1  # "-" is in the list


def test_totals_count_missing_predictions_as_zero() -> None:
    questions = [GoldQuestion("q1 ", ("北京",)), GoldQuestion("q2", ("上海",))]
    result = score_cmrc(questions, {"q1": "北京"})  # ids are stripped, as the scorer does
    assert (result["F1"], result["EM"], result["TOTAL"], result["SKIP"]) == (50.0, 50.0, 2, 1)
    assert result["AVERAGE"] == 50.0 and result["missing_ids"] == ["q2"]


def test_cmrc_through_evaluate_on_chinese_squad_layout(tmp_path: Path, shared_data: Path) -> None:
    """A SQuAD-layout file with Chinese contexts, built from CLUENER dev, is scored as cmrc."""
    lines = (shared_data / "cluener2020" / "dev.json").read_text(encoding="utf-8").splitlines()
    paragraphs, predictions = [], {}
    for index, line in enumerate(lines[:200]):
        record = json.loads(line)
        qas = []
        for entity_type, entities in record["label"].items():
            qid = f"{index}-{entity_type}"
            qas.append({"id": qid, "question": entity_type,
                        "answers": [{"text": text, "answer_start": spans[0][0]}
                                    for text, spans in entities.items()]})
            predictions[qid] = next(iter(entities))
        paragraphs.append({"context": record["text"], "qas": qas})
    gold = tmp_path / "cmrc_dev.json"
    gold.write_text(json.dumps({"version": "v1.0", "data": [{"paragraphs": paragraphs}]},
                               ensure_ascii=False), encoding="utf-8")
    pred = tmp_path / "predictions.json"
    pred.write_text(json.dumps(predictions, ensure_ascii=False), encoding="utf-8")
    result = evaluate(pred, gold)
    assert result["task"] == "cmrc"
    assert (result["EM"], result["F1"]) == (100.0, 100.0)
    assert result["TOTAL"] == len(predictions)


@pytest.fixture(scope="module")
def nltk_tokenizer():
    """NLTK's own Treebank tokenizer (test-only oracle; needs no Punkt data)."""
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


@pytest.mark.parametrize("text", [
    "Good muffins cost $3.88 (roughly 3,36 euros) in new york.",
    "they'll say \"can't\" -- i'm sure, isn't it?",
    "u.s. gdp rose 2.5% in 1990... 'quoted' text!",
    "a [b] {c} <d> e; f@g #h &i *j",
    "gonna wanna cannot 'tis",
])
def test_word_tokenize_matches_nltk_examples(nltk_tokenizer, text: str) -> None:
    assert word_tokenize(text) == nltk_tokenizer.tokenize(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abnt's 019.,;:!?'\"()$%&-[]`", max_size=30))
def test_word_tokenize_matches_nltk_generated(nltk_tokenizer, text: str) -> None:
    assert word_tokenize(text) == nltk_tokenizer.tokenize(text)
