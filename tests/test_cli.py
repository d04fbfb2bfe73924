"""The CLI surface: commands listed, heavy frameworks never imported where they must not be."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_support import run_in_fresh_interpreter
from typer.testing import CliRunner

from bertkit.cli import app

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("prep", "tokenize", "inspect", "train", "predict", "eval"):
        assert command in result.output


def test_prep_help_lists_every_dataset() -> None:
    result = runner.invoke(app, ["prep", "--help"])
    assert result.exit_code == 0
    for dataset in ("squad", "cluener", "tnews", "chinesener", "glue", "pretrain"):
        assert dataset in result.output


def test_python_dash_m_runs_the_same_app() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bertkit", "--help"], check=False, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0
    assert "prep" in completed.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["prep", "--help"],
        ["tokenize", "--help"],
        ["inspect", "--help"],
        ["eval", "--help"],
        ["prep", "squad", "--help"],
        ["prep", "cluener", "--help"],
        ["prep", "tnews", "--help"],
        ["prep", "chinesener", "--help"],
        ["prep", "glue", "--help"],
        ["train", "--help"],
        ["predict", "--help"],
    ],
)
def test_help_imports_neither_torch_nor_tensorflow(argv: list[str]) -> None:
    _, loaded = run_in_fresh_interpreter(argv)
    assert loaded == {"torch": False, "tensorflow": False}


@pytest.mark.parametrize(("argv", "preset", "expected"), [
    (["prep", "--help"], None, "1"),
    (["tokenize", "--help"], None, "1"),
    (["train", "--help"], None, None),  # training's BLAS keeps its threads
    (["prep", "--help"], "4", "4"),  # the user's own choice wins
])
def test_commands_without_linear_algebra_start_blas_single_threaded(
        argv, preset, expected, monkeypatch) -> None:
    import os
    import signal

    from bertkit.cli import main

    # main() ignores Ctrl-C once the command is over: give pytest its handler back.
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    if preset is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", preset)
    monkeypatch.setattr(sys, "argv", ["bertkit", *argv])
    with pytest.raises(SystemExit):
        main()
    assert os.environ.get("OPENBLAS_NUM_THREADS") == expected
