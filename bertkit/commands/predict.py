"""`bertkit predict`: predictions (and scores) from a trained model over an eval TFRecord."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bertkit.commands._common import JsonOption, VerboseOption, guarded, print_json

HELP = """Predict with a model from `bertkit train` and score the result.

SQuAD writes predictions.json, nbest_predictions.json and (v2) null_odds.json exactly as
Google's run_squad.py; NER writes CLUENER JSON lines or `char gold predicted` tag lines;
classification writes `index<TAB>prediction` rows. eval_meta.json records what `bertkit eval`
needs, and eval_results.json holds the scores.
"""


def command(
    model_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="Run directory (or its model/ folder).")],
    eval_file: Annotated[Path, typer.Option("--eval-file", help="Eval TFRecord, or the prep dir holding it.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output directory (default RUN_DIR/eval).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Sequences per forward pass.")] = 32,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[str, typer.Option("--precision", help="fp32, fp16 or bf16.")] = "fp32",
    n_best_size: Annotated[int, typer.Option("--n-best-size", help="SQuAD: candidates kept per question.")] = 20,
    max_answer_length: Annotated[int, typer.Option("--max-answer-length", help="SQuAD: longest answer, in pieces.")] = 30,
    null_score_diff_threshold: Annotated[float, typer.Option(
        "--null-score-diff-threshold", help="SQuAD 2.0: answer null when null score - best span score exceeds this.")] = 0.0,
    score: Annotated[bool, typer.Option("--score/--no-score", help="Score against the gold file.")] = True,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    def run() -> None:
        from bertkit.train.options import check_output_dir

        check_output_dir(output)  # an option error before torch loads
        from bertkit.train.predict import PredictOptions, predict

        result = predict(PredictOptions(
            model_dir=model_dir, eval_file=eval_file, output_dir=output, batch_size=batch_size,
            device=device, precision=precision, n_best_size=n_best_size,
            max_answer_length=max_answer_length,
            null_score_diff_threshold=null_score_diff_threshold, score=score))
        if json_output:
            print_json(result.to_json())
        else:
            _print_table(result)

    guarded(verbose, run)


def _print_table(result) -> None:
    from rich.table import Table

    from bertkit.console import info, stderr_console, warn
    from bertkit.evaluate.report import headline_rows

    for line in (result.scores or {}).get("warnings") or []:
        warn(line)
    # Each file once, on a line of its own: a path in a table cell would wrap mid-name.
    # (The library has already shown result.note as a warning.)
    for path in dict.fromkeys(str(p) for p in result.files):
        info(f"wrote {path}")
    title = f"predict ({result.task}, {result.num_records} records)"
    if not result.scores:
        info(title)
        return
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    for key, shown in headline_rows(result.scores):
        table.add_row(key, shown)
    stderr_console.print(table)


command.__doc__ = HELP
