"""Human-facing output: everything for people goes to stderr through rich.

stdout is reserved for machine output (`--json`, `tokenize` lines), so progress
bars and tables never corrupt a pipe.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# soft_wrap: rich inserts no line breaks of its own, so a path or a table title is never cut
# mid-word on a narrow terminal or in a log (where rich assumes 80 columns); the terminal
# wraps long lines visually and a copied path stays whole.
stderr_console = Console(stderr=True, highlight=False, soft_wrap=True)


def progress_enabled(json_output: bool = False) -> bool:
    """Bars only for a person at a terminal, and never alongside --json."""
    return not json_output and sys.stderr.isatty()


def make_progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(show_speed=True),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        disable=not enabled,
        transient=True,
    )


def warn(message: str) -> None:
    stderr_console.print(f"[yellow]warning:[/yellow] {message}", markup=True, soft_wrap=True)


def info(message: str) -> None:
    stderr_console.print(message, markup=False, soft_wrap=True)
