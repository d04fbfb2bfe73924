"""`bertkit eval`: score predictions with the official metric of their task."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bertkit.commands._common import JsonOption, VerboseOption, guarded, print_json

TaskOption = Annotated[str | None, typer.Option(
    "--task", help="squad | squad2 | cmrc | cluener | conll | glue-<task> | tnews "
                   "(detected from the files when unambiguous).")]
GoldOption = Annotated[Path | None, typer.Option(
    "--gold", help="Gold file (SQuAD/CMRC JSON, CLUENER/TNEWS JSON lines, tag file, GLUE TSV "
                   "or task folder). Read from eval_meta.json beside the predictions if absent.")]


def command(
    predictions: Annotated[Path, typer.Argument(
        metavar="PREDICTIONS", help="Predictions file (or a run folder holding eval_meta.json).")],
    gold: GoldOption = None,
    task: TaskOption = None,
    na_prob_file: Annotated[Path | None, typer.Option(
        "--na-prob-file", help="squad2: question id -> no-answer probability JSON.")] = None,
    na_prob_thresh: Annotated[float, typer.Option(
        "--na-prob-thresh", help="squad2: predict no answer when na_prob > this.")] = 1.0,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 1 when a gold example has no prediction or a prediction id is "
                         "not in the gold file (by default missing ones count as wrong).")] = False,
    mode: Annotated[str, typer.Option(
        "--mode", help="conll entities: default (conlleval) or strict (seqeval "
                       "mode='strict', entities must follow the scheme).")] = "default",
    scheme: Annotated[str | None, typer.Option(
        "--scheme", help="conll --mode strict: IOB1, IOB2, IOE1, IOE2, IOBES or BILOU "
                         "(default: detected).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Also write the result object to this JSON file "
                               "(a folder gets eval_results.json).")] = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Score predictions: SQuAD v1.1/v2.0, CMRC 2018, CLUENER, CoNLL tags, GLUE, TNEWS.

    bertkit predict's files are scored as their eval_meta.json says (the eval
    contract of the prep manifest). For other files the gold file decides the task
    (--task overrides); predictions that do not fit it stop with one line naming both files. A gold example without a prediction counts as wrong
    and is counted (missing_count), as are prediction ids the gold file lacks
    (unknown_count); --strict makes either an error. --verbose names the detection rule.
    """

    def run() -> dict[str, Any]:
        from bertkit.evaluate.api import evaluate
        from bertkit.fsutil import write_json_atomic

        result = evaluate(predictions, gold, task, na_prob_file=na_prob_file,
                          na_prob_thresh=na_prob_thresh, strict=strict, mode=mode,
                          scheme=scheme)
        if output is not None:
            target = output / "eval_results.json" if output.is_dir() else output
            result["output"] = str(target)
            write_json_atomic(target, result)
        return result

    result = guarded(verbose, run)
    _show(result, json_output, verbose)


def _show(result: dict[str, Any], json_output: bool, verbose: bool) -> None:
    from bertkit.console import info, stderr_console, warn
    from bertkit.evaluate.report import confusion_tables, result_tables

    if verbose:
        info(f"detection: {result['detection']}")
    for line in result["warnings"]:
        warn(line)
    # Paths go on lines of their own (never into a table cell or title, where they would
    # wrap mid-name on a narrow or non-terminal output).
    info(f"predictions: {result['predictions']}")
    if result.get("gold"):
        info(f"gold: {result['gold']}")
    for table in result_tables(result):
        stderr_console.print(table)
    if verbose:
        for table in confusion_tables(result):
            stderr_console.print(table)
    if "output" in result:
        info(f"wrote {result['output']}")
    if json_output:
        print_json(result)
