"""`bertkit export RUN_DIR -o DIR`: a trained run as an HF `from_pretrained` directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bertkit.commands._common import JsonOption, OutputDirOption, VerboseOption, guarded, print_json


def command(
    run_dir: Annotated[Path, typer.Argument(
        metavar="RUN_DIR", help="Training run directory (holds model/).")],
    output: OutputDirOption,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Export a trained model: config.json, model.safetensors, vocab.txt for transformers."""
    def run():  # noqa: ANN202 -- an ExportResult (torch-free import here)
        from bertkit.train.options import check_output_dir

        check_output_dir(output)  # an option error before torch loads
        from bertkit.train.export import export_run  # torch stays out of `bertkit --help`

        return export_run(run_dir, output)

    result = guarded(verbose, run)
    if json_output:
        print_json({
            "output_dir": str(result.output_dir),
            "model_dir": str(result.model_dir),
            "task": result.task,
            "num_labels": result.num_labels,
            "use_crf": result.use_crf,
            "files": [str(path) for path in result.files],
            "notes": result.notes,
        })
        return
    from rich.table import Table

    from bertkit.console import info, stderr_console

    # Paths on lines of their own: in a table title they would wrap mid-name.
    info(f"exported {result.model_dir}")
    info(f"      to {result.output_dir}")
    table = Table(title="files", title_justify="left")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for path in result.files:
        table.add_row(path.name, f"{path.stat().st_size:,}")
    stderr_console.print(table)
    info(f"task {result.task}, {result.num_labels} labels, crf {result.use_crf}")
    for note in result.notes:
        info(f"note: {note}")
