"""CMRC 2018 span scoring (reference-formats E.3): mixed-segmentation F1 and EM.

Chinese characters are compared one by one, other runs word by word (Treebank rules, see
``treebank.py``); F1 uses the longest common *contiguous* run of segments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bertkit.evaluate.squad_v1 import GoldQuestion, PairedQuestions
from bertkit.evaluate.treebank import word_tokenize

# The scorer's punctuation list. Its two-character entry "……" can never equal a single
# character, so it has no effect and is left out here.
SPECIAL_PUNCTUATION = frozenset(
    "-:_*^/\\~`+=" "，。：？！“”；’《》·、「」（）－～『』"
)


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fa5"


def mixed_segmentation(text: str, remove_punctuation: bool = False) -> list[str]:
    text = text.lower().strip()
    segments: list[str] = []
    buffered = ""
    for char in text:
        if remove_punctuation and char in SPECIAL_PUNCTUATION:
            continue
        if _is_cjk(char) or char in SPECIAL_PUNCTUATION:
            if buffered:
                segments.extend(word_tokenize(buffered))
                buffered = ""
            segments.append(char)
        else:
            buffered += char
    if buffered:
        segments.extend(word_tokenize(buffered))
    return segments


def remove_punctuation(text: str) -> str:
    return "".join(c for c in text.lower().strip() if c not in SPECIAL_PUNCTUATION)


def longest_common_run(a: list[str], b: list[str]) -> int:
    """Length of the longest contiguous run of segments shared by ``a`` and ``b``."""
    best = 0
    previous = [0] * (len(b) + 1)
    for item in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b):
            if item == other:
                current[j + 1] = previous[j] + 1
                best = max(best, current[j + 1])
        previous = current
    return best


def f1_against(golds: Iterable[str], prediction: str) -> float:
    prediction_segments = mixed_segmentation(prediction, remove_punctuation=True)
    scores = [0.0]
    for gold in golds:
        gold_segments = mixed_segmentation(gold, remove_punctuation=True)
        common = longest_common_run(gold_segments, prediction_segments)
        if common == 0:
            scores.append(0.0)
            continue
        precision = 1.0 * common / len(prediction_segments)
        recall = 1.0 * common / len(gold_segments)
        scores.append((2 * precision * recall) / (precision + recall))
    return max(scores)


def exact_against(golds: Iterable[str], prediction: str) -> int:
    cleaned = remove_punctuation(prediction)
    return int(any(remove_punctuation(gold) == cleaned for gold in golds))


def score_cmrc(questions: Iterable[GoldQuestion], predictions: Mapping[str, str]
               ) -> dict[str, Any]:
    """``F1``/``EM``/``AVERAGE`` on 0-100 (numbers, not the script's 3-decimal strings)."""
    f1_sum = 0.0
    exact_sum = 0
    paired = PairedQuestions(questions, predictions, strip_ids=True)
    for question, prediction in paired:
        f1_sum += f1_against(question.answers, prediction)
        exact_sum += exact_against(question.answers, prediction)
    total, missing, unknown = paired.total, paired.missing, paired.unknown()
    f1 = 100.0 * f1_sum / total if total else 0.0
    exact = 100.0 * exact_sum / total if total else 0.0
    return {"AVERAGE": (exact + f1) * 0.5, "F1": f1, "EM": exact, "TOTAL": total,
            "SKIP": len(missing), "missing_count": len(missing), "missing_ids": missing,
            "unknown_ids": unknown, "unknown_count": len(unknown)}
