"""BERT `vocab.txt` loading with Google's exact semantics and clear errors."""

from __future__ import annotations

from pathlib import Path

from bertkit.errors import InputError

REQUIRED_SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[UNK]", "[PAD]")


def load_vocab(path: str | Path) -> dict[str, int]:
    """token -> id, where the id is the 0-based line number.

    Like Google's `load_vocab`: every line is stripped, a blank line becomes the
    empty token, and a repeated token keeps its last line number.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "vocab file not found")
    try:
        text = path.read_bytes().decode("utf-8", errors="ignore")
    except OSError as error:
        raise InputError(path, f"cannot read vocab: {error.strerror}") from error
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line, it does not start a new one
    if not any(line.strip() for line in lines):
        raise InputError(path, "vocab file is empty")
    vocab: dict[str, int] = {}
    for number, line in enumerate(lines):
        vocab[line.strip()] = number
    missing = [token for token in REQUIRED_SPECIAL_TOKENS if token not in vocab]
    if missing:
        raise InputError(path, f"vocab lacks the special token(s) {', '.join(missing)}")
    return vocab
