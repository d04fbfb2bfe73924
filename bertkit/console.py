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

stderr_console = Console(stderr=True, highlight=False)


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
