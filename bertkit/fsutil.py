"""Writing files so that nothing half-written is ever left under its real name.

Every output goes to a temporary sibling first and is renamed into place only
when complete; an exception or Ctrl-C removes the temporary file instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bertkit.errors import UsageError


def temporary_sibling(path: Path) -> Path:
    """A hidden name in the same directory, so the final rename is atomic."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to ``path``, on failure delete it."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def sha256_of_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def check_output_dir(output_dir: Path | None) -> None:
    """-o must be a directory or not exist yet, under directories: an option error (exit 2,
    naming the path at fault) found before any work, instead of a failure at the first
    write (after a model is built, or a dataset converted). Every command with -o (prep,
    train, predict, export) checks it here."""
    if output_dir is None:
        return
    output_dir = Path(output_dir)
    hint = "; give a folder (it is created if missing)"
    for path in [output_dir, *output_dir.absolute().parents]:
        shown = f"-o {output_dir}:" if path == output_dir else f"-o {output_dir}: {path}"
        if path.is_symlink() and not path.exists():
            raise UsageError(f"{shown} is a symbolic link to {os.readlink(path)}, "
                             f"which does not exist{hint if path == output_dir else ''}")
        if path.exists():
            if not path.is_dir():
                raise UsageError(f"{shown} exists and is not a directory{hint}"
                                 if path == output_dir else f"{shown} is a file, not a directory")
            return
