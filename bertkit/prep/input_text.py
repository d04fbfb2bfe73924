"""Reading a converter's input file as text: UTF-8, BOM dropped, one-line errors.

Every converter (CLUENER, ChineseNER, TNEWS, GLUE; pretrain's corpus; SQuAD's JSON through
`check_regular_file`) needs the same failures named the same way: a missing or unreadable
file, something that is not a regular file (a device or FIFO, which never ends), a line
too long to be text, bad UTF-8 with the line it sits on, and a binary file (a NUL byte,
which no text holds; named before a UTF-8 error it also causes).
"""

from __future__ import annotations

import stat
from pathlib import Path

from bertkit.errors import InputError

MAX_LINE_BYTES = 64 << 20  # no real record line comes near; a longer one is not text
BINARY_SNIFF_BYTES = 1 << 16  # where a file that is not text shows its NUL bytes


def read_input_text(path: Path, *, allow_nul: bool = False) -> str:
    """The whole file as text; bad UTF-8 and NUL bytes are errors naming their line.

    Only regular files are read (a device such as /dev/zero, or a FIFO, never ends), and
    a line longer than `MAX_LINE_BYTES` is an error naming it. ``allow_nul`` is for a
    format whose reference reader takes NUL as a character like any other (GLUE's TSV
    fields); its binary files still fail, on their bad UTF-8.
    """
    check_regular_file(path)
    try:
        data = _read_bounded_lines(path)
    except OSError as error:  # no permission
        raise InputError(path, f"cannot read: {error.strerror}") from None
    except InputError as error:  # a line too long: most likely a binary file
        binary = None if allow_nul else _binary_file_error(path, _head(path))
        raise (binary or error) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        binary = None if allow_nul else _binary_file_error(path, data[:BINARY_SNIFF_BYTES])
        if binary is not None:
            raise binary from None
        line = data[: error.start].count(b"\n") + 1
        raise InputError(path, f"not UTF-8 ({error.reason})", line) from None
    binary = None if allow_nul else _binary_file_error(path, text)
    if binary is not None:
        raise binary
    return text.removeprefix("\ufeff")


def _head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(BINARY_SNIFF_BYTES)


def _binary_file_error(path: Path, content: str | bytes) -> InputError | None:
    """The NUL that marks a binary file (text never holds one), as an error naming its line."""
    newline, nul_char = (b"\n", b"\x00") if isinstance(content, bytes) else ("\n", "\x00")
    nul = content.find(nul_char)  # type: ignore[arg-type]
    if nul < 0:
        return None
    # Lines are counted only for the error: a text file is not read a second time.
    line = content.count(newline, 0, nul) + 1  # type: ignore[arg-type]
    return InputError(path, "binary file (NUL character); expected UTF-8 text", position=line)


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


def _read_bounded_lines(path: Path, chunk_size: int = 1 << 20) -> bytes:
    """The file's bytes, read in chunks; stops at the first line over `MAX_LINE_BYTES`
    (so a huge file without line breaks is refused after reading that much, not all)."""
    chunk_size = min(chunk_size, MAX_LINE_BYTES)  # so no line within one chunk is too long
    chunks: list[bytes] = []
    line_length, line = 0, 1
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            chunks.append(chunk)
            last = chunk.rfind(b"\n")
            if last < 0:
                line_length += len(chunk)
            else:
                # only the line that runs in from earlier chunks can be too long
                first = chunk.find(b"\n")
                if line_length + first > MAX_LINE_BYTES:
                    break
                line += chunk.count(b"\n")
                line_length = len(chunk) - last - 1
            if line_length > MAX_LINE_BYTES:
                break
        else:
            return b"".join(chunks)
    raise InputError(path, f"line is longer than {MAX_LINE_BYTES:,} bytes; this is not a "
                           "text input", line)


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
