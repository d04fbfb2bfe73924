"""Sentence-level metrics for GLUE and TNEWS: accuracy, F1, Matthews, Pearson, Spearman.

Plain Python (no numpy import, so ``bertkit eval`` starts fast; no scipy/sklearn); the
definitions match ``sklearn.metrics`` / ``scipy.stats`` on the same inputs (tested).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    if not gold:
        return 0.0
    return sum(1 for g, p in zip(gold, predicted) if g == p) / len(gold)


def binary_f1(gold: Sequence[str], predicted: Sequence[str], positive: str = "1") -> float:
    true_positive = sum(1 for g, p in zip(gold, predicted) if g == p == positive)
    predicted_positive = sum(1 for p in predicted if p == positive)
    gold_positive = sum(1 for g in gold if g == positive)
    if true_positive == 0:
        return 0.0
    precision = true_positive / predicted_positive
    recall = true_positive / gold_positive
    return 2 * precision * recall / (precision + recall)


def macro_f1(gold: Sequence[str], predicted: Sequence[str],
             labels: Sequence[str] | None = None) -> float:
    """Unweighted mean of per-label F1 over ``labels`` (default: those in gold or predictions)."""
    labels = sorted(set(gold) | set(predicted)) if labels is None else list(labels)
    if not labels:
        return 0.0
    return sum(binary_f1(gold, predicted, positive=label) for label in labels) / len(labels)


def confusion_matrix(gold: Sequence[str], predicted: Sequence[str]
                     ) -> tuple[list[str], list[list[int]]]:
    """Labels (sorted) and counts[gold_index][predicted_index]."""
    labels = sorted(set(gold) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted):
        counts[index[g]][index[p]] += 1
    return labels, counts


def matthews_corrcoef(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Multiclass MCC (Gorodkin's R_K), the form sklearn uses; 0 when undefined."""
    _, counts = confusion_matrix(gold, predicted)
    if not counts:
        return 0.0
    true_per_class = [sum(row) for row in counts]
    predicted_per_class = [sum(column) for column in zip(*counts)]
    correct = sum(counts[i][i] for i in range(len(counts)))
    samples = sum(true_per_class)
    cov_true_pred = correct * samples - sum(
        t * p for t, p in zip(true_per_class, predicted_per_class))
    cov_pred_pred = samples * samples - sum(p * p for p in predicted_per_class)
    cov_true_true = samples * samples - sum(t * t for t in true_per_class)
    denominator = cov_true_true * cov_pred_pred
    if denominator == 0:
        return 0.0
    return cov_true_pred / math.sqrt(denominator)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    if len(x) < 2:
        return math.nan
    mean_x = math.fsum(x) / len(x)
    mean_y = math.fsum(y) / len(y)
    dx = [a - mean_x for a in x]
    dy = [b - mean_y for b in y]
    denominator = math.sqrt(math.fsum(a * a for a in dx) * math.fsum(b * b for b in dy))
    if denominator == 0:
        return math.nan  # a constant input has no defined correlation (scipy: nan)
    return math.fsum(a * b for a, b in zip(dx, dy)) / denominator


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks with ties sharing their mean rank (``scipy.stats.rankdata`` 'average')."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and values[order[stop]] == values[order[start]]:
            stop += 1
        for position in order[start:stop]:
            ranks[position] = (start + 1 + stop) / 2.0
        start = stop
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    return pearson(average_ranks(x), average_ranks(y))
