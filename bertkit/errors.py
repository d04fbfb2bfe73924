"""Error types that the CLI turns into one line and an exit code.

Library code raises these instead of printing or exiting, so the same functions
work from Python, from tests and from the CLI.
"""

from __future__ import annotations

from pathlib import Path


class BertkitError(Exception):
    """A problem with the user's input or files. The message is one line."""

    exit_code = 1


class InputError(BertkitError):
    """Bad input data: names the file, the position inside it and the problem.

    The message reads like a compiler's: ``path:position: problem``, so editors
    and people can jump straight to the spot.
    """

    def __init__(self, path: str | Path, problem: str, position: str | int | None = None):
        self.path = str(path)
        self.position = position
        self.problem = problem
        where = self.path if position is None else f"{self.path}:{position}"
        super().__init__(f"{where}: {problem}")


class UsageError(BertkitError):
    """Options that contradict each other or the data; detected before any I/O."""

    exit_code = 2


class OutputWriteError(BertkitError):
    """Writing an output file failed (a full disk, a file-size limit, an I/O error); names
    the file by its final name and says what the failure left behind (``consequence``)."""

    def __init__(self, path: str | Path, reason: str,
                 consequence: str = "nothing was left under that name"):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: cannot write: {reason}; {consequence}")


def first_line(error: BaseException) -> str:
    """The first non-empty line of what ``error`` says (its type's name when it says
    nothing): a library's multi-line message, fit for an error line of ours. TensorFlow's
    errors keep theirs in ``message``."""
    text = getattr(error, "message", None) or str(error)
    return (str(text).strip().splitlines() or [type(error).__name__])[0]
