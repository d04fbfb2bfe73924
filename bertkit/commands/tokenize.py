"""`bertkit tokenize`: print the tokens (or ids) of each input line, to debug vocab and casing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bertkit.commands._common import VerboseOption, guarded, print_json


def command(
    file: Annotated[Path, typer.Argument(
        metavar="FILE", help="Text file, one text per line; '-' reads stdin.")],
    vocab: Annotated[Path | None, typer.Option(
        "--vocab", help="BERT WordPiece vocab.txt.")] = None,
    spm_model: Annotated[Path | None, typer.Option(
        "--spm-model",
        help="SentencePiece .model file (ALBERT style), instead of --vocab.")] = None,
    do_lower_case: Annotated[bool, typer.Option(
        "--do-lower-case/--no-do-lower-case",
        help="Lower-case (and for WordPiece strip accents) like an uncased model.")] = True,
    ids: Annotated[bool, typer.Option("--ids", help="Print token ids instead of tokens.")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object instead of JSON lines: the input, the tokenizer "
                       "and every line's tokens (or ids).")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Tokenize FILE like Google's BERT tokenizer: one JSON array per input line (JSON lines)."""

    def run() -> None:
        from bertkit.tokenization import load_tokenizer
        from bertkit.tokenization.text_lines import token_rows, tokenize_lines

        tokenizer = load_tokenizer(vocab=vocab, spm_model=spm_model, do_lower_case=do_lower_case)
        if json_output:
            rows = list(token_rows(str(file), tokenizer, as_ids=ids))
            print_json(_as_object(file, vocab, spm_model, do_lower_case, ids, rows))
            return
        out = sys.stdout
        try:
            for line in tokenize_lines(str(file), tokenizer, as_ids=ids):
                out.write(line + "\n")
            out.flush()
        except BrokenPipeError:
            # `bertkit tokenize ... | head` closed the pipe: not an error for the user.
            sys.stdout = None  # type: ignore[assignment]  # no flush error at exit
            raise typer.Exit(0) from None

    guarded(verbose, run)


def _as_object(file: Path, vocab: Path | None, spm_model: Path | None, do_lower_case: bool,
               ids: bool, rows: list[Any]) -> dict[str, Any]:
    return {
        "input": "<stdin>" if str(file) == "-" else str(file),
        "vocab": str(vocab) if vocab is not None else None,
        "spm_model": str(spm_model) if spm_model is not None else None,
        "do_lower_case": do_lower_case,
        "lines": len(rows),
        "ids" if ids else "tokens": rows,
    }
