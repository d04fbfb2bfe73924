"""Running `bertkit eval` in-process and reading its one error line (shared by eval tests)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bertkit.cli import app

runner = CliRunner()


def run_eval(*args: str | Path):
    return runner.invoke(app, ["eval", *map(str, args)])


def error_line(result) -> str:
    """The single non-blank stderr line of a failed run (and no traceback)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
