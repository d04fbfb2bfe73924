"""`PrepResult`: what every converter returns to `bertkit prep` (a light module: the
commands import it at start-up, before any converter is loaded)."""

from __future__ import annotations

from typing import Any, Protocol


class PrepResult(Protocol):
    """`bertkit prep` prints ``manifest`` for --json, else `print_summary()` (tables on
    stderr, then the file list), and `print_preview()` (the first records, decoded) with
    --verbose."""

    @property
    def manifest(self) -> dict[str, Any]: ...

    def print_summary(self) -> None: ...

    def print_preview(self) -> None: ...
