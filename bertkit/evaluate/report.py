"""Rich tables for a result dict: headline figures, NER per-type rows, MNLI splits.

``format_score`` is the one way bertkit shows a score to people (eval, predict, train and
demo summaries): to 0.01 percentage points, so ``86.21`` on the 0-100 scale of SQuAD and
CMRC, ``0.8621`` for a fraction (accuracy, F1 of GLUE and NER). ``--json`` keeps full floats.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

_ID_COUNTS = ("missing_count", "unknown_count")
_HEADLINE_KEYS = {
    "squad": ("exact_match", "f1", "total", *_ID_COUNTS),
    "squad2": ("exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
               "NoAns_exact", "NoAns_f1", "NoAns_total", "best_exact", "best_exact_thresh",
               "best_f1", "best_f1_thresh", *_ID_COUNTS),
    "cmrc": ("AVERAGE", "F1", "EM", "TOTAL", "SKIP", *_ID_COUNTS),
    "cluener": ("macro_f1", "lines", *_ID_COUNTS),
    "conll": ("precision", "recall", "f1", "accuracy", "sentences", "tokens", *_ID_COUNTS),
}
_LABEL_KEYS = ("accuracy", "accuracy_matched", "accuracy_mismatched", "mcc", "f1", "macro_f1",
               "pearson", "spearman", "corr", "examples", *_ID_COUNTS)
# Tasks whose scores are on the 0-100 scale (the official scripts print them so).
PERCENT_SCALE_TASKS = frozenset({"squad", "squad2", "cmrc"})


def format_score(value: float, *, percent: bool) -> str:
    """A score for people: 2 decimals on the 0-100 scale, 4 for a fraction (0.01 points)."""
    return f"{value:.2f}" if percent else f"{value:.4f}"


def format_figure(task: str, key: str, value: Any) -> str:
    """One result value of ``task`` as a table shows it (counts stay integers)."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    percent = task in PERCENT_SCALE_TASKS and not key.endswith("_thresh")
    return format_score(value, percent=percent)


def headline_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric, shown value) for the figures a summary shows, in the scorer's order."""
    task = str(result.get("task", ""))
    keys = _HEADLINE_KEYS.get(task, _LABEL_KEYS)
    return [(key, format_figure(task, key, result[key])) for key in keys if key in result]


def _format(value: Any) -> str:
    return format_figure("", "", value)  # per-type rows: NER fractions and counts


def _per_type_table(title: str, rows: dict[str, dict[str, Any]],
                    micro: dict[str, Any] | None) -> Table:
    table = Table(title=title)
    for column in ("type", "precision", "recall", "f1", "predicted", "support"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for name, figures in rows.items():
        table.add_row(name, *(_format(figures[k]) for k in
                              ("precision", "recall", "f1", "predicted", "support")))
    if micro is not None:
        table.add_row("[bold]micro[/bold]", *(_format(micro[k]) for k in
                                                ("precision", "recall", "f1", "predicted",
                                                 "support")))
    return table


def result_tables(result: dict[str, Any]) -> list[Table]:
    task = str(result["task"])
    tables: list[Table] = []
    headline = Table(title=f"bertkit eval: {task}")
    headline.add_column("metric")
    headline.add_column("value", justify="right")
    for key, shown in headline_rows(result):
        headline.add_row(key, shown)
    tables.append(headline)
    if task == "cluener":
        tables.append(_per_type_table("official (entity strings per line)", result["per_type"],
                                      None))
        strict = result["strict"]
        tables.append(_per_type_table("strict (text and position)", strict["per_type"],
                                      strict["micro"]))
    if task == "conll":
        tables.append(_per_type_table(f"entities ({result['mode']} mode)", result["per_type"],
                                      result["micro"]))
    if "splits" in result:
        splits = Table(title="MNLI splits")
        splits.add_column("split")
        splits.add_column("accuracy", justify="right")
        splits.add_column("examples", justify="right")
        for name, figures in result["splits"].items():
            splits.add_row(name, _format(figures["accuracy"]), str(figures["examples"]))
        tables.append(splits)
    return tables


def confusion_tables(result: dict[str, Any]) -> list[Table]:
    """Gold labels as rows, predicted labels as columns (for --verbose)."""
    sources = result.get("splits") or {"": result}
    tables: list[Table] = []
    for name, figures in sources.items():
        matrix = figures.get("confusion_matrix")
        if not matrix:
            continue
        table = Table(title=f"confusion matrix {name}".strip() + " (rows gold, columns predicted)")
        table.add_column("gold \\ pred")
        for label in matrix["labels"]:
            table.add_column(label, justify="right")
        for label, counts in zip(matrix["labels"], matrix["counts"]):
            table.add_row(label, *(str(c) for c in counts))
        tables.append(table)
    return tables
