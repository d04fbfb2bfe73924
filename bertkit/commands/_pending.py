"""Stand-in for a command whose issue has not landed: says so plainly, exits 2."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from bertkit.commands._common import fail

# A pending command accepts anything, so the message is the same whatever was typed.
PASS_EVERYTHING: dict[str, Any] = {
    "context_settings": {"allow_extra_args": True, "ignore_unknown_options": True}
}


def pending_command(name: str, issue: str) -> Callable[[typer.Context], None]:
    def command(ctx: typer.Context) -> None:
        raise fail(f"`bertkit {name}` is not implemented yet ({issue})", 2)

    command.__doc__ = f"(not implemented yet: {issue})"
    return command
