"""Rich tables for a result dict: headline figures, NER per-type rows, MNLI splits."""

from __future__ import annotations

from typing import Any

from rich.table import Table

_HEADLINE_KEYS = {
    "squad": ("exact_match", "f1", "total", "missing_count"),
    "squad2": ("exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
               "NoAns_exact", "NoAns_f1", "NoAns_total", "best_exact", "best_exact_thresh",
               "best_f1", "best_f1_thresh", "missing_count"),
    "cmrc": ("AVERAGE", "F1", "EM", "TOTAL", "SKIP"),
    "cluener": ("macro_f1",),
    "conll": ("precision", "recall", "f1", "accuracy", "sentences", "tokens"),
}


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


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
    if task in _HEADLINE_KEYS:
        keys = [k for k in _HEADLINE_KEYS[task] if k in result]
    else:
        keys = [k for k in ("accuracy", "accuracy_matched", "accuracy_mismatched", "mcc", "f1",
                            "macro_f1", "pearson", "spearman", "corr", "examples",
                            "missing_count") if k in result]
    for key in keys:
        headline.add_row(key, _format(result[key]))
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
