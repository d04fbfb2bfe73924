"""Every `bertkit prep` converter command, in the order `bertkit prep --help` lists them.

A new converter: write its command module with `_prep_runner.prep_command` and add its
``command`` here.
"""

from __future__ import annotations

import typer

from bertkit.commands import (
    prep_chinesener,
    prep_cluener,
    prep_glue,
    prep_pretrain,
    prep_squad,
    prep_tnews,
)
from bertkit.commands._prep_runner import PrepCommand

PREP_COMMANDS: tuple[PrepCommand, ...] = (
    prep_squad.command,
    prep_glue.command,
    prep_tnews.command,
    prep_cluener.command,
    prep_chinesener.command,
    prep_pretrain.command,
)


def register_prep_commands(app: typer.Typer) -> None:
    for command in PREP_COMMANDS:
        command.register(app)
