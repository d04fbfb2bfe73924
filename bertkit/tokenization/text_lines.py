"""Tokenize a text file line by line into JSON lines (the engine of `bertkit tokenize`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from bertkit.errors import InputError

STDIN = "-"
BATCH_LINES = 2048  # lines handed to tokenize_many at once


def _read_lines(stream: BinaryIO, name: str) -> Iterator[str]:
    """Decoded lines without their line ending; a bad UTF-8 line is an error naming it."""
    for number, raw in enumerate(stream, start=1):
        raw = raw.rstrip(b"\n").rstrip(b"\r")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(name, f"invalid UTF-8 at byte {error.start} of the line",
                             f"{number}") from None


def _open(path: str) -> BinaryIO:
    if path == STDIN:
        return sys.stdin.buffer
    file = Path(path)
    if not file.is_file():
        raise InputError(path, "input file not found")
    try:
        return file.open("rb")
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror}") from None


def tokenize_lines(path: str, tokenizer: Any, as_ids: bool = False) -> Iterator[str]:
    """One JSON array (tokens, or ids with `as_ids`) per input line, in order."""
    for values in token_rows(path, tokenizer, as_ids):
        yield json.dumps(values, ensure_ascii=False)


def token_rows(path: str, tokenizer: Any, as_ids: bool = False) -> Iterator[list[Any]]:
    """Each input line's tokens (or ids with `as_ids`), in order."""
    stream = _open(path)
    name = "<stdin>" if path == STDIN else path
    try:
        batch: list[str] = []
        for line in _read_lines(stream, name):
            batch.append(line)
            if len(batch) == BATCH_LINES:
                yield from _encode(batch, tokenizer, as_ids)
                batch = []
        if batch:
            yield from _encode(batch, tokenizer, as_ids)
    finally:
        if path != STDIN:
            stream.close()


def _encode(lines: list[str], tokenizer: Any, as_ids: bool) -> Iterator[list[Any]]:
    for tokens in tokenizer.tokenize_many(lines):
        yield tokenizer.convert_tokens_to_ids(tokens) if as_ids else tokens
