"""Running the CLI the way a user does, in a fresh interpreter, for the import-cost tests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY_FRAMEWORKS = ("torch", "tensorflow")


def run_in_fresh_interpreter(argv: list[str]) -> tuple[str, dict[str, bool]]:
    """Runs `bertkit ARGV` in a new Python and returns what it printed on stdout and, for
    each heavy framework, whether it got imported."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from bertkit.cli import app
        code = 0
        try:
            app({argv!r}, prog_name="bertkit")
        except SystemExit as exit:
            code = exit.code
        print(json.dumps({{name: name in sys.modules for name in {HEAVY_FRAMEWORKS!r}}}))
        sys.exit(code)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=300
    )
    # The command itself must have worked: a crash that happened before the heavy import
    # would otherwise pass as "imported nothing".
    assert completed.returncode == 0, completed.stderr
    *printed, loaded = completed.stdout.strip().splitlines()
    return "\n".join(printed), json.loads(loaded)


def one_line_error(result, code: int = 1) -> str:
    """Checks a CliRunner result failed with `code` and printed exactly one line, an
    `error:` line; returns that line."""
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:"), result.output
    return lines[0]
