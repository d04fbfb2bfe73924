"""GLUE and TNEWS label scoring: reading gold labels and choosing each task's metrics.

Gold TSVs are read without quote handling (GLUE text contains bare ``"``). The label
column is found by header name; CoLA's dev/train files have no header, so column 1.
Rows are identified by the ``index``/``id`` column when there is one, else by their
0-based row number, which is what GLUE submissions and HF ``predict_results`` use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertkit.errors import InputError
from bertkit.evaluate import classification
from bertkit.evaluate.benchmarks import GLUE_SCORED_TASKS, glue_key
from bertkit.evaluate.inputs import iter_json_lines, read_text, require_some_match

_LABEL_COLUMNS = ("label", "gold_label", "is_duplicate", "score", "quality")
ID_COLUMNS = ("index", "id")


def glue_task_name(name: str) -> str | None:
    """``CoLA`` / ``glue-sst2`` / ``STS-B`` -> the key of a task eval scores, else None."""
    key = glue_key(name)
    return key if key in GLUE_SCORED_TASKS else None


@dataclass
class GoldLabels:
    labels: dict[str, str]  # id -> label text


def load_glue_gold(path: str | Path, task: str) -> GoldLabels:
    rows = read_text(path).splitlines()
    if not rows:
        raise InputError(path, "empty gold file")
    if task == "cola" and len(rows[0].split("\t")) == 4:
        return GoldLabels({str(i): row.split("\t")[1] for i, row in enumerate(rows) if row})
    header = [name.strip().lower() for name in rows[0].split("\t")]
    label_column = next((header.index(n) for n in _LABEL_COLUMNS if n in header), None)
    if label_column is None:
        raise InputError(path, f"no label column in header {rows[0]!r} (an unlabelled test "
                               "split?)", 1)
    id_column = next((header.index(n) for n in ID_COLUMNS if n in header), None)
    labels: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        fields = row.split("\t")
        if len(fields) <= label_column:
            raise InputError(path, f"{len(fields)} columns, the label is column "
                                   f"{label_column + 1}", number)
        key = fields[id_column].strip() if id_column is not None else str(number - 2)
        labels[key] = fields[label_column].strip()
    return GoldLabels(labels)


def load_tnews_gold(path: str | Path) -> GoldLabels:
    """TNEWS JSON lines; ``id`` when present, else the 0-based line index (CLUE's convention)."""
    labels: dict[str, str] = {}
    for index, (number, record) in enumerate(iter_json_lines(path)):
        if not isinstance(record, dict) or "label" not in record:
            raise InputError(path, "expected an object with a \"label\"", number)
        key = str(record["id"]) if "id" in record else str(index)
        labels[key] = str(record["label"])
    return GoldLabels(labels)


NO_PREDICTION = "(no prediction)"  # stands for a missing prediction: equal to no gold label


@dataclass
class Paired:
    """Every gold example in gold order, its prediction or ``NO_PREDICTION``."""

    ids: list[str]
    gold: list[str]
    predicted: list[str]
    missing_ids: list[str]
    unknown_ids: list[str]


def pair_labels(gold: Mapping[str, str], predictions: Mapping[str, str],
                predictions_path: str | Path = "predictions",
                gold_path: str | Path = "gold") -> Paired:
    """Pair by id; a gold example without a prediction is kept and counts as wrong.

    A file where no id matches is the wrong file for this gold, not a score of 0.
    """
    missing = [k for k in gold if k not in predictions]
    require_some_match(len(missing), len(gold), predictions_path, gold_path)
    ids = list(gold)
    return Paired(ids, [gold[k] for k in ids], [predictions.get(k, NO_PREDICTION) for k in ids],
                  missing, [k for k in predictions if k not in gold])


def _as_floats(values: list[str], path: str | Path, ids: list[str]) -> list[float]:
    numbers: list[float] = []
    for key, value in zip(ids, values):
        try:
            numbers.append(float(value))
        except ValueError:
            raise InputError(path, f"label {value!r} is not a number (STS-B is regression)",
                             f"id {key}") from None
    return numbers


def label_metrics(task: str, paired: Paired, predictions_path: str | Path,
                  gold_path: str | Path) -> dict[str, Any]:
    """The task's metrics over every gold example; a missing prediction is a wrong one."""
    if task == "sts-b":
        if paired.missing_ids:
            # A correlation has no "wrong" value to give a missing prediction.
            raise InputError(predictions_path,
                             f"{len(paired.missing_ids)} of {len(paired.ids)} examples of "
                             f"{gold_path} have no prediction (first id "
                             f"{paired.missing_ids[0]}); STS-B correlations need them all")
        gold = _as_floats(paired.gold, gold_path, paired.ids)
        predicted = _as_floats(paired.predicted, predictions_path, paired.ids)
        pearson = classification.pearson(gold, predicted)
        spearman = classification.spearman(gold, predicted)
        return {"pearson": pearson, "spearman": spearman,
                "corr": (pearson + spearman) / 2, "examples": len(paired.ids)}
    gold_set = set(paired.gold)
    if not gold_set & set(paired.predicted):
        real = sorted(set(paired.predicted) - {NO_PREDICTION})
        raise InputError(predictions_path,
                         f"predicted labels {real[:5]} share nothing with the gold labels "
                         f"{sorted(gold_set)[:5]} of {gold_path}")
    metrics: dict[str, Any] = {"accuracy": classification.accuracy(paired.gold, paired.predicted)}
    if task == "cola":
        metrics["mcc"] = classification.matthews_corrcoef(paired.gold, paired.predicted)
    if task in ("mrpc", "qqp"):
        metrics["f1"] = classification.binary_f1(paired.gold, paired.predicted, positive="1")
    if task == "tnews":
        labels = sorted(gold_set | set(paired.predicted) - {NO_PREDICTION})
        metrics["macro_f1"] = classification.macro_f1(paired.gold, paired.predicted, labels)
    metrics["examples"] = len(paired.ids)
    labels, counts = classification.confusion_matrix(paired.gold, paired.predicted)
    metrics["confusion_matrix"] = {"labels": labels, "counts": counts}
    return metrics
