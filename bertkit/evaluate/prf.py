"""Precision / recall / F1 from counts, with 0 (not a crash) when a denominator is 0."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counts:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    def add(self, other: Counts) -> None:
        self.true_positive += other.true_positive
        self.false_positive += other.false_positive
        self.false_negative += other.false_negative

    @property
    def predicted(self) -> int:
        return self.true_positive + self.false_positive

    @property
    def gold(self) -> int:
        return self.true_positive + self.false_negative

    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 0.0

    def recall(self) -> float:
        return self.true_positive / self.gold if self.gold else 0.0

    def f1(self) -> float:
        precision, recall = self.precision(), self.recall()
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": self.precision(), "recall": self.recall(), "f1": self.f1(),
                "true_positive": self.true_positive, "predicted": self.predicted,
                "support": self.gold}
