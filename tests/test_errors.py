"""The error types and helpers every layer shares (bertkit/errors.py)."""

from __future__ import annotations

import pytest

from bertkit.errors import OutputWriteError, first_line


class _TensorFlowLike(Exception):
    """TensorFlow's errors carry their text in ``message``."""

    def __init__(self, message: str):
        super().__init__("OpError(...)")
        self.message = message


@pytest.mark.parametrize("error, expected", [
    (ValueError("header too large\n  at offset 8\nmore"), "header too large"),
    (ValueError("\n  truncated file\n"), "truncated file"),  # leading blank lines skipped
    (ValueError(""), "ValueError"),  # says nothing: its type
    (OSError(), "OSError"),
    (_TensorFlowLike("Unsuccessful TensorSliceReader\nconstructor"),
     "Unsuccessful TensorSliceReader"),
])
def test_first_line_is_the_first_thing_an_error_says(error, expected) -> None:
    assert first_line(error) == expected


def test_output_write_error_names_the_file_and_what_was_left() -> None:
    assert str(OutputWriteError("/o/model.safetensors", "no space left on device")) == (
        "/o/model.safetensors: cannot write: no space left on device; nothing was left under "
        "that name")
    staged = OutputWriteError("/o/a.json", "file too large", "nothing was published")
    assert str(staged) == "/o/a.json: cannot write: file too large; nothing was published"
    assert (staged.path, staged.reason) == ("/o/a.json", "file too large")
