"""Options shared by every command, and the guard that turns errors into one line."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from bertkit.console import stderr_console
from bertkit.errors import BertkitError

T = TypeVar("T")

VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show tracebacks and extra detail.")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object to stdout with every file and figure.")
]
OutputDirOption = Annotated[
    Path, typer.Option("--output", "-o", metavar="OUTPUT_DIR", help="Output directory.")
]


def fail(message: str, code: int = 1) -> typer.Exit:
    # The message is text, not markup: "[start, end]" in it must not vanish as a style tag.
    stderr_console.print(f"[bold red]error:[/bold red] {escape(message)}", markup=True,
                         soft_wrap=True, highlight=False)
    return typer.Exit(code)


def guarded(verbose: bool, action: Callable[[], T]) -> T:
    """Run ``action``; bad input becomes one red line and exit 1 (2 for usage errors).

    Tracebacks are for developers, so they appear only with --verbose.
    """
    try:
        return action()
    except BertkitError as error:
        if verbose:
            traceback.print_exc()
        raise fail(str(error), error.exit_code) from None
    except KeyboardInterrupt:
        raise fail("interrupted; no partial output was left under a final name", 130) from None
    except typer.Exit:
        raise
    except Exception as error:  # noqa: BLE001 - an unexpected failure still gets one line
        if verbose:
            traceback.print_exc()
        raise fail(f"{type(error).__name__}: {error} (rerun with --verbose for the traceback)") from None


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()

# Options every converter shares, declared once so their names and help never drift apart.
VocabOption = Annotated[Path | None, typer.Option("--vocab", help="BERT vocab.txt.")]
SpmModelOption = Annotated[
    Path | None, typer.Option("--spm-model", help="SentencePiece model, instead of --vocab.")
]
DoLowerCaseOption = Annotated[
    bool, typer.Option("--do-lower-case/--no-do-lower-case", help="Lower-case and strip accents.")
]
WorkersOption = Annotated[int, typer.Option("--workers", help="Processes; 0 = every core.")]
MaxSeqLengthOption = Annotated[
    int, typer.Option("--max-seq-length", help="Positions per record, [CLS] and [SEP] included.")
]
SplitNameOption = Annotated[
    str | None,
    typer.Option("--split", metavar="SPLIT",
                 help="train, dev or test (the output's name), when the file name does not say."),
]
