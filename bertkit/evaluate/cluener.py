"""CLUENER2020 scoring: the official ``score.py`` figure plus a strict span-level one.

Official semantics (reference-formats B.2): per type and per line, the *set of entity
strings* (keys of ``label[type]``) of prediction and gold are compared; positions and
repeats are ignored. Per-type F1 is macro-averaged over the 10 fixed types.
Strict: an entity is (type, start, end) on a line, so position counts too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bertkit.evaluate.benchmarks import CLUENER_TYPES
from bertkit.evaluate.prf import Counts


LabelDict = Mapping[str, Mapping[str, Sequence[Sequence[int]]]]


def _string_counts(predicted: LabelDict, gold: LabelDict, entity_type: str) -> Counts:
    predicted_texts = predicted.get(entity_type, {}).keys()
    gold_texts = gold.get(entity_type, {}).keys()
    counts = Counts()
    for text in predicted_texts:
        if text in gold_texts:
            counts.true_positive += 1
        else:
            counts.false_positive += 1
    counts.false_negative = sum(1 for text in gold_texts if text not in predicted_texts)
    return counts


def _spans(labels: LabelDict, entity_type: str) -> set[tuple[int, int]]:
    return {(int(span[0]), int(span[1]))
            for spans in labels.get(entity_type, {}).values() for span in spans}


def _span_counts(predicted: LabelDict, gold: LabelDict, entity_type: str) -> Counts:
    predicted_spans, gold_spans = _spans(predicted, entity_type), _spans(gold, entity_type)
    hits = len(predicted_spans & gold_spans)
    return Counts(hits, len(predicted_spans) - hits, len(gold_spans) - hits)


def score_cluener(predicted_lines: Sequence[LabelDict],
                  gold_lines: Sequence[LabelDict]) -> dict[str, Any]:
    """Lines are paired by position; callers make sure both lists have the same length."""
    if len(predicted_lines) != len(gold_lines):
        raise ValueError(f"{len(predicted_lines)} prediction lines but {len(gold_lines)} gold lines")
    extra_types = sorted({t for line in (*predicted_lines, *gold_lines) for t in line}
                         - set(CLUENER_TYPES))
    official: dict[str, Counts] = {t: Counts() for t in CLUENER_TYPES}
    strict: dict[str, Counts] = {t: Counts() for t in CLUENER_TYPES}
    for predicted, gold in zip(predicted_lines, gold_lines):
        for entity_type in CLUENER_TYPES:
            official[entity_type].add(_string_counts(predicted, gold, entity_type))
            strict[entity_type].add(_span_counts(predicted, gold, entity_type))
    f1_sum = 0.0
    for entity_type in CLUENER_TYPES:
        f1_sum += official[entity_type].f1()
    strict_micro = Counts()
    for counts in strict.values():
        strict_micro.add(counts)
    return {
        "macro_f1": f1_sum / len(CLUENER_TYPES),
        "per_type": {t: official[t].as_dict() for t in CLUENER_TYPES},
        "strict": {
            "micro": strict_micro.as_dict(),
            "per_type": {t: strict[t].as_dict() for t in CLUENER_TYPES},
        },
        "lines": len(gold_lines),
        "ignored_types": extra_types,
    }
