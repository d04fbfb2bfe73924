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
