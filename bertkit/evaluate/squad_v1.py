"""SQuAD v1.1 scoring, numerically identical to the official ``evaluate-v1.1.py``.

The official loop normalises every (prediction, gold) pair twice per metric. Here each
string is normalised once and its token counts are built once, which is where the
speed comes from; the arithmetic of EM/F1 is kept in the official order so the
averages agree to the last bit.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

_PUNCTUATION_TABLE = {ord(char): None for char in string.punctuation}
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


_PUNCTUATION_BYTES = string.punctuation.encode("ascii")


def normalize_answer(text: str) -> str:
    """Lower-case, drop ASCII punctuation, blank out a/an/the, collapse whitespace."""
    text = text.lower()
    if text.isascii():  # bytes.translate deletes in C; str.translate looks up every char
        text = text.encode("ascii").translate(None, _PUNCTUATION_BYTES).decode("ascii")
    else:
        text = text.translate(_PUNCTUATION_TABLE)
    return " ".join(_ARTICLES.sub(" ", text).split())


class GoldQuestion(NamedTuple):
    qid: str
    answers: tuple[str, ...]
    is_impossible: bool = False


def iter_gold_questions(data: Iterable[Mapping[str, Any]]) -> Iterator[GoldQuestion]:
    """Questions in file order from the ``data`` list of a SQuAD-layout JSON."""
    for article in data:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = tuple([answer["text"] for answer in qa.get("answers", ())])
                yield GoldQuestion(str(qa["id"]), answers, bool(qa.get("is_impossible", False)))


class PairedQuestions:
    """Gold questions paired with their predictions by id, counting what has none.

    Iterating yields (question, prediction) for every question that has one; afterwards
    ``total``, ``missing`` (question ids without a prediction, in gold order) and
    ``unknown()`` (prediction ids that are no question's) describe the pairing.
    ``strip_ids``: compare ids without surrounding whitespace (the CMRC 2018 scorer does).
    """

    def __init__(self, questions: Iterable[GoldQuestion], predictions: Mapping[str, str],
                 strip_ids: bool = False):
        self._questions = questions
        self._predictions = predictions
        self._strip_ids = strip_ids
        self.total = 0
        self.missing: list[str] = []
        self._gold_ids: set[str] = set()

    def __iter__(self) -> Iterator[tuple[GoldQuestion, str]]:
        predictions = self._predictions
        for question in self._questions:
            qid = question.qid.strip() if self._strip_ids else question.qid
            self.total += 1
            self._gold_ids.add(qid)
            prediction = predictions.get(qid)
            if prediction is None:
                self.missing.append(qid)
                continue
            yield question, prediction

    def unknown(self) -> list[str]:
        return [qid for qid in self._predictions if qid not in self._gold_ids]


class _Normalized:
    """A normalised string with its tokens and token counts, computed once per distinct string."""

    __slots__ = ("counts", "text", "tokens")

    def __init__(self, raw: str):
        self.text = normalize_answer(raw)
        self.tokens = self.text.split()
        counts: dict[str, int] = {}
        for token in self.tokens:
            counts[token] = counts.get(token, 0) + 1
        self.counts = counts


def _token_f1_v1(prediction: _Normalized, gold: _Normalized) -> float:
    # v1.1 rule: no overlap (which includes either side being empty) scores 0.
    small, large = ((prediction.counts, gold.counts)
                    if len(prediction.counts) <= len(gold.counts)
                    else (gold.counts, prediction.counts))
    num_same = 0
    for token, count in small.items():
        other = large.get(token)
        if other:
            num_same += min(other, count)
    if num_same == 0:
        return 0
    # Same expression and operation order as the official script, so the floats are equal.
    precision = 1.0 * num_same / len(prediction.tokens)
    recall = 1.0 * num_same / len(gold.tokens)
    return (2 * precision * recall) / (precision + recall)


@dataclass
class SquadV1Scores:
    exact_match: float
    f1: float
    total: int
    missing_ids: list[str] = field(default_factory=list)
    unknown_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "exact_match": self.exact_match,
            "f1": self.f1,
            "total": self.total,
            "missing_count": len(self.missing_ids),
            "missing_ids": self.missing_ids,
            "unknown_count": len(self.unknown_ids),
            "unknown_ids": self.unknown_ids,
        }


def score_squad_v1(
    questions: Iterable[GoldQuestion], predictions: Mapping[str, str]
) -> SquadV1Scores:
    """EM and F1 on the 0-100 scale; unanswered questions score 0 but stay in the total."""
    cache: dict[str, _Normalized] = {}  # answers repeat a lot: normalise each text once

    exact_sum = 0
    f1_sum = 0.0
    paired = PairedQuestions(questions, predictions)
    for question, prediction_raw in paired:
        prediction = cache.get(prediction_raw)
        if prediction is None:
            prediction = cache[prediction_raw] = _Normalized(prediction_raw)
        best_exact = 0
        best_f1: float = 0
        seen: list[_Normalized] = []
        for answer_raw in question.answers:
            gold = cache.get(answer_raw)
            if gold is None:
                gold = cache[answer_raw] = _Normalized(answer_raw)
            if gold in seen:  # gold lists repeat the same text; the max cannot change
                continue
            seen.append(gold)
            if gold.text == prediction.text:
                best_exact = 1
                if prediction.tokens:  # identical non-empty token lists: F1 is exactly 1.0
                    best_f1 = 1.0
                    break
            score = _token_f1_v1(prediction, gold)
            best_f1 = max(best_f1, score)
        exact_sum += best_exact
        f1_sum += best_f1
    total, missing, unknown = paired.total, paired.missing, paired.unknown()
    if total == 0:
        return SquadV1Scores(0.0, 0.0, 0, missing, unknown)
    return SquadV1Scores(100.0 * exact_sum / total, 100.0 * f1_sum / total, total, missing, unknown)
