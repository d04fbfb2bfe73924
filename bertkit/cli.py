"""The `bertkit` command line: a thin typer layer over importable functions.

Each command lives in its own module under `bertkit.commands` and keeps heavy
imports (torch and the model code) inside its body, so `bertkit --help` and the
prep/eval commands start fast and never load torch or tensorflow.
"""

from __future__ import annotations

import signal
from types import ModuleType

import typer

from bertkit.commands import (
    demo,
    evaluate,
    export,
    inspect,
    predict,
    prep_chinesener,
    prep_cluener,
    prep_glue,
    prep_pretrain,
    prep_squad,
    prep_tnews,
    tokenize,
    train,
)

app = typer.Typer(
    name="bertkit",
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


def _register(target: typer.Typer, name: str, module: ModuleType) -> None:
    target.command(name)(module.command)


for _name, _module in [
    ("squad", prep_squad),
    ("cluener", prep_cluener),
    ("tnews", prep_tnews),
    ("chinesener", prep_chinesener),
    ("glue", prep_glue),
    ("pretrain", prep_pretrain),
]:
    _register(prep_app, _name, _module)

for _name, _module in [
    ("tokenize", tokenize),
    ("inspect", inspect),
    ("train", train),
    ("predict", predict),
    ("export", export),
    ("eval", evaluate),
    ("demo", demo),
]:
    _register(app, _name, _module)


def main() -> None:
    try:
        app(prog_name="bertkit")
    finally:
        # The command is over: its files are complete, or it failed and cleaned up. A Ctrl-C
        # during interpreter teardown (freeing large tables takes a moment) would otherwise
        # turn that finished run into a death by SIGINT, with a misleading exit status.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
