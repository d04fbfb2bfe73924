"""`bertkit eval` on CMRC 2018 / DRCD equals the official cmrc2018_evaluate.py semantics
(reference-formats E.3) to 1e-9, on real dev answers and on hand-made edge cases.

The peer below is written from the E.3 description, with NLTK's own Treebank word
tokenizer for the non-Chinese runs (the Punkt sentence model is not available offline;
see bertkit/evaluate/treebank.py for why that does not change lower-cased answers)."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path
from typing import Any

import pytest

from bertkit.evaluate import evaluate

PUNCTUATION = ["-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：", "？",
               "！", "“", "”", "；", "’", "《", "》", "……", "·", "、", "「", "」", "（", "）",
               "－", "～", "『", "』"]


@pytest.fixture(scope="module")
def nltk_words():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer().tokenize


def official_scores(gold: dict[str, Any], predictions: dict[str, str], words) -> dict[str, float]:
    def stands_alone(char: str) -> bool:
        return "\u4e00" <= char <= "\u9fa5" or char in PUNCTUATION

    def segments(text: str, drop_punctuation: bool) -> list[str]:
        # each CJK character or punctuation mark alone; every run of other characters (with
        # dropped punctuation already gone) through the word tokenizer
        chars = [c for c in text.lower().strip() if not (drop_punctuation and c in PUNCTUATION)]
        out: list[str] = []
        for alone, run in itertools.groupby(chars, key=stands_alone):
            out.extend(run if alone else words("".join(run)))
        return out

    def longest_run(a: list[str], b: list[str]) -> int:
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        best = 0
        for i in range(len(a)):
            for j in range(len(b)):
                if a[i] == b[j]:
                    table[i + 1][j + 1] = table[i][j] + 1
                    best = max(best, table[i + 1][j + 1])
        return best

    def f1(answers: list[str], prediction: str) -> float:
        scores = []
        for answer in answers:
            gold_segments = segments(answer, True)
            predicted = segments(prediction, True)
            common = longest_run(gold_segments, predicted)
            if common == 0:
                scores.append(0.0)
                continue
            precision, recall = common / len(predicted), common / len(gold_segments)
            scores.append(2 * precision * recall / (precision + recall))
        return max(scores)

    def stripped(text: str) -> str:
        return "".join(c for c in text.lower().strip() if c not in PUNCTUATION)

    f1_sum = em_sum = 0.0
    total = skipped = 0
    for article in gold["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                qid = qa["id"].strip()
                answers = [answer["text"] for answer in qa["answers"]]
                if qid not in predictions:
                    skipped += 1
                    continue
                prediction = str(predictions[qid])
                f1_sum += f1(answers, prediction)
                em_sum += any(stripped(a) == stripped(prediction) for a in answers)
    f1_score, em_score = 100.0 * f1_sum / total, 100.0 * em_sum / total
    return {"F1": f1_score, "EM": em_score, "AVERAGE": (f1_score + em_score) * 0.5,
            "TOTAL": total, "SKIP": skipped}


def perturbed(answer: str, context: str, rng: random.Random) -> str:
    """A plausible model answer near the gold one."""
    choice = rng.randrange(6)
    if choice == 0:
        return answer
    if choice == 1:
        return answer[:-1]
    if choice == 2:
        at = context.find(answer)
        return context[max(at - 3, 0) : at + len(answer) + 2] if at >= 0 else answer
    if choice == 3:
        return answer + "，the 2nd U.S. team's"
    if choice == 4:
        return answer.upper() + "。"
    return context[:rng.randrange(1, 12)]


def assert_same(result: dict[str, Any], expected: dict[str, float]) -> None:
    assert result["task"] == "cmrc"
    for key in ("F1", "EM", "AVERAGE"):
        assert abs(result[key] - expected[key]) <= 1e-9, (key, result[key], expected[key])
    assert (result["TOTAL"], result["SKIP"]) == (expected["TOTAL"], expected["SKIP"])


@pytest.mark.parametrize("name", ["cmrc2018/cmrc2018_dev.json", "drcd/DRCD_dev.json"])
def test_real_dev_answers_score_as_the_official_script(
    name: str, shared_data: Path, tmp_path: Path, nltk_words
) -> None:
    gold_path = shared_data / name
    gold = json.loads(gold_path.read_text(encoding="utf-8"))
    rng = random.Random(2018)
    predictions = {}
    for article in gold["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if rng.random() < 0.02:
                    continue  # a missing id: scored 0, counted in SKIP
                predictions[qa["id"]] = perturbed(qa["answers"][0]["text"],
                                                  paragraph["context"], rng)
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions, ensure_ascii=False), encoding="utf-8")
    expected = official_scores(gold, predictions, nltk_words)
    assert 0 < expected["EM"] < 100 and expected["SKIP"] > 0
    assert_same(evaluate(path, gold_path), expected)


EDGE_CASES = {
    "mixed": ("他在2008年加入Apple Inc.，担任CEO", "2008年加入apple inc."),
    "punctuation-only": ("《》", "：”"),
    "punctuation-gold": ("「北京」", "北京"),
    "empty-prediction": ("上海市", ""),
    "latin-only": ("The U.S. Army's 2nd division", "u.s. army's 2nd"),
    "ellipsis": ("等等……", "等等"),
}


def test_edge_cases_score_as_the_official_script(tmp_path: Path, nltk_words) -> None:
    qas = [{"id": f" {name} ", "question": "？",
            "answers": [{"text": gold, "answer_start": 0}, {"text": gold + "们", "answer_start": 0}]}
           for name, (gold, _) in EDGE_CASES.items()]
    qas.append({"id": "missing", "question": "？", "answers": [{"text": "没有", "answer_start": 0}]})
    gold = {"version": "v1.0", "data": [{"paragraphs": [{"context": "中文上下文。" * 40,
                                                         "qas": qas}]}]}
    gold_path = tmp_path / "cmrc_gold.json"
    gold_path.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    predictions = {name: prediction for name, (_, prediction) in EDGE_CASES.items()}
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions, ensure_ascii=False), encoding="utf-8")
    expected = official_scores(gold, predictions, nltk_words)
    assert expected["SKIP"] == 1
    assert_same(evaluate(path, gold_path, task="cmrc"), expected)
