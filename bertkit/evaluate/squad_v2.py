"""SQuAD v2.0 scoring, numerically identical to the official ``evaluate-v2.0.py``.

Rules kept from the official script (each has a hand-computed test):
- gold answers whose normalised text is empty are dropped; none left means gold ``[""]``;
- F1 with an empty side is 1 when both sides are empty, else 0;
- a question without a prediction counts as wrong (exact 0, F1 0, in every total);
- with na-probs, ``na_prob > thresh`` turns the score into "predicted no answer";
- the best-threshold search walks the na-prob file's keys in stable ascending order,
  so ties are resolved by the file's key order exactly as ``sorted`` does there.

Missing predictions are the one deliberate difference: the official script leaves them out
of the overall totals and then stops with a KeyError in the HasAns/NoAns breakdown. Here a
missing prediction scores 0 everywhere, as in the v1.1 script, so a partial file cannot
score higher than a complete one. With every question predicted, the figures are the
official ones bit for bit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bertkit.evaluate.squad_v1 import GoldQuestion, normalize_answer


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def compute_exact(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def compute_f1(gold: str, prediction: str) -> float:
    gold_tokens = _tokens(gold)
    prediction_tokens = _tokens(prediction)
    return _f1_from_tokens(gold_tokens, prediction_tokens)


def _f1_from_tokens(gold_tokens: list[str], prediction_tokens: list[str]) -> float:
    if not gold_tokens or not prediction_tokens:
        return int(gold_tokens == prediction_tokens)
    common = Counter(gold_tokens) & Counter(prediction_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


@dataclass
class RawScores:
    exact: dict[str, float]
    f1: dict[str, float]
    has_answer: dict[str, bool]
    missing_ids: list[str]
    unknown_ids: list[str]


def raw_scores(questions: Iterable[GoldQuestion], predictions: Mapping[str, str]) -> RawScores:
    exact: dict[str, float] = {}
    f1: dict[str, float] = {}
    has_answer: dict[str, bool] = {}
    missing: list[str] = []
    for question in questions:
        # HasAns comes from the raw answer list, before empty answers are filtered (official).
        has_answer[question.qid] = bool(question.answers)
        golds = [text for text in question.answers if normalize_answer(text)] or [""]
        if question.qid not in predictions:
            missing.append(question.qid)
            continue
        prediction = predictions[question.qid]
        prediction_norm = normalize_answer(prediction)
        prediction_tokens = prediction_norm.split() if prediction else []
        exact[question.qid] = max(int(normalize_answer(g) == prediction_norm) for g in golds)
        f1[question.qid] = max(_f1_from_tokens(_tokens(g), prediction_tokens) for g in golds)
    unknown = [qid for qid in predictions if qid not in has_answer]
    return RawScores(exact, f1, has_answer, missing, unknown)


def apply_no_answer_threshold(
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_answer: Mapping[str, bool],
    threshold: float,
) -> dict[str, float]:
    return {
        qid: (float(not has_answer[qid]) if na_probs[qid] > threshold else score)
        for qid, score in scores.items()
    }


def _eval_block(exact: Mapping[str, float], f1: Mapping[str, float],
                qids: list[str] | None = None) -> dict[str, float]:
    if qids is None:
        total = len(exact)
        return {"exact": 100.0 * sum(exact.values()) / total,
                "f1": 100.0 * sum(f1.values()) / total, "total": total}
    total = len(qids)
    return {"exact": 100.0 * sum(exact[k] for k in qids) / total,
            "f1": 100.0 * sum(f1[k] for k in qids) / total, "total": total}


def find_best_threshold(
    predictions: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_answer: Mapping[str, bool],
) -> tuple[float, float]:
    """Best score over thresholds, walking questions by ascending na-prob (stable order)."""
    # Start as if every question were predicted "no answer": all unanswerable ones right,
    # except those without a prediction (``scores`` holds only predicted questions).
    current: float = sum(1 for qid in scores if not has_answer[qid])
    best, best_threshold = current, 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        diff: float
        if has_answer[qid]:
            diff = scores[qid]
        else:
            diff = -1 if predictions[qid] else 0
        current += diff
        if current > best:
            best, best_threshold = current, na_probs[qid]
    return 100.0 * best / len(has_answer), best_threshold


def score_squad_v2(
    questions: Iterable[GoldQuestion],
    predictions: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_threshold: float = 1.0,
) -> dict[str, Any]:
    """The official v2.0 output dict (same keys, same order) plus missing/unknown ids.

    ``na_probs`` must hold a number for every scored question (``inputs.load_na_probs`` and
    ``api`` check that before calling).
    """
    raw = raw_scores(questions, predictions)
    if not raw.exact:
        raise ValueError("no prediction matches a gold question id")
    probs: Mapping[str, float] = (
        na_probs if na_probs is not None else {qid: 0.0 for qid in predictions}
    )
    exact_t = apply_no_answer_threshold(raw.exact, probs, raw.has_answer, na_prob_threshold)
    f1_t = apply_no_answer_threshold(raw.f1, probs, raw.has_answer, na_prob_threshold)
    for qid in raw.missing_ids:  # wrong; adding 0.0 leaves the other sums bit-identical
        exact_t[qid] = f1_t[qid] = 0.0
    result: dict[str, Any] = _eval_block(exact_t, f1_t)
    has_ans = [qid for qid in raw.has_answer if raw.has_answer[qid]]
    no_ans = [qid for qid in raw.has_answer if not raw.has_answer[qid]]
    for prefix, qids in (("HasAns", has_ans), ("NoAns", no_ans)):
        if qids:
            for key, value in _eval_block(exact_t, f1_t, qids).items():
                result[f"{prefix}_{key}"] = value
    if na_probs is not None:
        best_exact, exact_threshold = find_best_threshold(predictions, raw.exact, probs,
                                                          raw.has_answer)
        best_f1, f1_threshold = find_best_threshold(predictions, raw.f1, probs, raw.has_answer)
        result.update(best_exact=best_exact, best_exact_thresh=exact_threshold,
                      best_f1=best_f1, best_f1_thresh=f1_threshold)
    result.update(missing_count=len(raw.missing_ids), missing_ids=raw.missing_ids,
                  unknown_count=len(raw.unknown_ids), unknown_ids=raw.unknown_ids)
    return result
