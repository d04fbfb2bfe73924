"""The `bertkit` command line: a thin typer layer over importable functions.

Each command lives in its own module under `bertkit.commands` and keeps heavy
imports (torch and the model code) inside its body, so `bertkit --help` and the
prep/eval commands start fast and never load torch or tensorflow.
"""

from __future__ import annotations

import inspect as _inspect
import os
import signal
import sys
from types import ModuleType
from typing import Annotated

import typer
from typer.core import TyperGroup

from bertkit import __version__
from bertkit.commands import (
    demo,
    evaluate,
    export,
    inspect,
    predict,
    submit,
    tokenize,
    train,
)
from bertkit.commands.prep_registry import register_prep_commands

# `bertkit --help` lists the job's steps in the order they run, then the tools.
PIPELINE_ORDER = (
    "prep", "train", "predict", "eval", "submit", "tokenize", "inspect", "export", "demo",
)


class _PipelineOrderGroup(TyperGroup):
    def list_commands(self, ctx: typer.Context) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: index for index, name in enumerate(PIPELINE_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    name="bertkit",
    cls=_PipelineOrderGroup,
    help="BERT fine-tuning from raw public data to a scored result.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
prep_app = typer.Typer(
    name="prep",
    help="Convert a raw dataset into TFRecord files plus the sidecars later steps need.",
    no_args_is_help=True,
)
app.add_typer(prep_app, name="prep")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bertkit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    pass


# One line each in a command listing: the first paragraph of the help, joined onto one line.
def summary_line(function: object) -> str:
    doc = _inspect.cleandoc(getattr(function, "__doc__", None) or "")
    return " ".join(doc.split("\n\n")[0].split())


def _register(target: typer.Typer, name: str, module: ModuleType) -> None:
    target.command(name, short_help=summary_line(module.command))(module.command)


register_prep_commands(prep_app)

for _name, _module in [
    ("train", train),
    ("predict", predict),
    ("eval", evaluate),
    ("tokenize", tokenize),
    ("inspect", inspect),
    ("export", export),
    ("submit", submit),
    ("demo", demo),
]:
    _register(app, _name, _module)


# Commands that never do linear algebra (the ones that import neither torch nor
# TensorFlow). numpy's OpenBLAS starts a thread pool when numpy is imported, which cost
# them about 40 ms of CPU per run on a 2-core machine (numpy's import: 0.11 -> 0.08 CPU s)
# and gave nothing back; a user's own OPENBLAS_NUM_THREADS is kept.
SINGLE_THREAD_BLAS_COMMANDS = frozenset({"prep", "eval", "tokenize", "inspect"})


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in SINGLE_THREAD_BLAS_COMMANDS:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app(prog_name="bertkit")
    finally:
        # The command is over: its files are complete, or it failed and cleaned up. A Ctrl-C
        # during interpreter teardown (freeing large tables takes a moment) would otherwise
        # turn that finished run into a death by SIGINT, with a misleading exit status.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
