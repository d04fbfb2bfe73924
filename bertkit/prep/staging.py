"""Publishing one converter run's files in an output directory as a unit.

Every converter writes through `staged_output(output_dir)`:

- an advisory lock (`fcntl.flock` on the output directory itself, so no lock file is
  left in it) is held for the whole run, so a second writer into the same directory
  fails at once (`OutputBusyError`) instead of mixing its files with ours;
- every file is written into a hidden staging folder inside the output directory
  (``.staging-PID``), under its final name; nothing under a final name changes while the
  run reads, encodes and writes;
- on success the old ``manifest.json`` is removed, every staged file is renamed into
  place, and the new manifest is renamed last, so a manifest only ever vouches for the
  files beside it;
- on any failure (bad input, full disk, Ctrl-C) the staging folder is removed, the
  files already in the directory are left as they were, and a directory this run
  created is removed again;
- a write that fails (ENOSPC, EFBIG...) becomes one line naming the file being written.

Staging folders left by a killed run are removed by the next run that holds the lock
(only the lock holder can be writing into the directory).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bertkit.errors import BertkitError, UsageError
from bertkit.fsutil import write_json_atomic
from bertkit.prep.outputs import MANIFEST_NAME, build_manifest

STAGING_PREFIX = ".staging-"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class OutputBusyError(BertkitError):
    """Another process holds the output directory's lock."""


class OutputWriteError(BertkitError):
    """Writing an output file failed (a full disk, a file-size limit, an I/O error)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: cannot write: {reason}; nothing was published, "
                         "the files already in the directory are unchanged")


def check_plain_name(name: str, what: str = "file name") -> str:
    """A single path component of safe characters: never a path, `.` or `..`."""
    if not _PLAIN_NAME.fullmatch(name) or name in (".", ".."):
        raise UsageError(f"{what} {name!r} must be a plain name of letters, digits, '_', '.' "
                         "and '-' (no path)")
    return name


def check_output_dir(output_dir: Path) -> None:
    """-o must be a directory or not exist yet; checked before any work."""
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"-o {output_dir}: exists and is not a directory")


class StagedOutput:
    """The output set being built: `path(name)` is where to write the file `name`."""

    def __init__(self, output_dir: Path, staging: Path):
        self.output_dir = output_dir
        self.staging = staging
        self._names: list[str] = []
        self._manifest: dict[str, Any] | None = None

    def path(self, name: str) -> Path:
        """The staging path of the output file ``name`` (a plain file name)."""
        check_plain_name(name)
        if name == MANIFEST_NAME:
            raise ValueError("the manifest is written by write_manifest, last")
        return self.staging / name

    def final(self, name: str) -> Path:
        """Where ``name`` will be once the run is committed."""
        return self.output_dir / name

    def final_of(self, staged: Path) -> Path:
        return self.output_dir / staged.name

    @contextlib.contextmanager
    def writing(self, name: str) -> Iterator[Path]:
        """Yield the staging path of ``name``; an OSError while writing it names the file."""
        path = self.path(name)
        try:
            yield path
        except OSError as error:
            raise OutputWriteError(self.final(name), _reason(error)) from error

    def staged_files(self) -> list[Path]:
        """The final paths of everything staged so far (sidecars of records included)."""
        return [self.output_dir / child.name for child in sorted(self.staging.iterdir())
                if not child.name.startswith(".")]

    def write_manifest(self, **fields: Any) -> dict[str, Any]:
        """Build the manifest over every staged file; it is published last, by the commit.

        ``fields`` are `build_manifest`'s keyword arguments except ``output_dir`` and
        ``files``, which come from the staged set itself (so no file can be left out).
        """
        manifest = build_manifest(self.output_dir, files=self.staged_files(), **fields)
        self._manifest = manifest
        return manifest

    def _commit(self) -> list[Path]:
        if self._manifest is None:
            raise RuntimeError("staged_output: write_manifest was never called")
        staged = [child for child in sorted(self.staging.iterdir())
                  if not child.name.startswith(".")]
        manifest_tmp = self.staging / f".{MANIFEST_NAME}"
        try:
            write_json_atomic(manifest_tmp, self._manifest)
        except OSError as error:
            raise OutputWriteError(self.final(MANIFEST_NAME), _reason(error)) from error
        # From here on the old set is being replaced: its manifest goes first.
        (self.output_dir / MANIFEST_NAME).unlink(missing_ok=True)
        published = []
        for path in staged:
            os.replace(path, self.output_dir / path.name)
            published.append(self.output_dir / path.name)
        os.replace(manifest_tmp, self.output_dir / MANIFEST_NAME)
        published.append(self.output_dir / MANIFEST_NAME)
        return published


@contextlib.contextmanager
def staged_output(output_dir: str | Path) -> Iterator[StagedOutput]:
    """Lock ``output_dir``, stage the run's files, publish them on success (manifest last).

    The body writes each file at ``stage.path(name)`` and calls ``stage.write_manifest``.
    """
    output_dir = Path(output_dir)
    check_output_dir(output_dir)
    lock_fd, created = _lock(output_dir)
    staging = output_dir / f"{STAGING_PREFIX}{os.getpid()}"
    committed = False
    try:
        _remove_stale_staging(output_dir)
        staging.mkdir()
        stage = StagedOutput(output_dir, staging)
        try:
            yield stage
        except OSError as error:
            raise _named_write_error(error, stage) from error
        stage._commit()
        committed = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not committed and created:
            # A failed first run leaves no directory behind. rmdir refuses a non-empty
            # directory, so nothing that someone else put there can be lost.
            for directory in created:
                with contextlib.suppress(OSError):
                    directory.rmdir()
        os.close(lock_fd)  # releases the flock


@contextlib.contextmanager
def locked_output(output_dir: str | Path) -> Iterator[Path]:
    """Hold ``output_dir``'s lock for a writer that publishes file by file instead of as one
    staged set (prep pretrain renames each shard when it is complete, so that --resume can
    keep it). A failed first run still leaves no empty directory behind."""
    output_dir = Path(output_dir)
    check_output_dir(output_dir)
    lock_fd, created = _lock(output_dir)
    finished = False
    try:
        yield output_dir
        finished = True
    finally:
        if not finished:
            for directory in created:
                with contextlib.suppress(OSError):
                    directory.rmdir()
        os.close(lock_fd)


def _make_dirs(output_dir: Path) -> list[Path]:
    """mkdir -p, returning the directories it created, deepest first."""
    missing = []
    directory = output_dir
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"-o {output_dir}: a parent is a file, not a directory") from None
    except OSError as error:
        raise OutputWriteError(output_dir, f"cannot create the directory ({_reason(error)})"
                               ) from None
    return missing


def _lock(output_dir: Path) -> tuple[int, list[Path]]:
    """Create ``output_dir`` if needed and take its lock without waiting.

    Returns the descriptor that holds the lock and the directories created for it.
    """
    while True:
        created = _make_dirs(output_dir)
        fd = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputBusyError(
                f"{output_dir}: another bertkit run is writing to this directory; wait for "
                "it to finish, or choose another -o") from None
        # The holder before us may have been a failed first run that removed the directory
        # after we opened it; a lock on a removed directory excludes nobody: start again.
        try:
            if os.fstat(fd).st_ino == os.stat(output_dir).st_ino:
                return fd, created
        except FileNotFoundError:
            pass
        os.close(fd)


def _remove_stale_staging(output_dir: Path) -> None:
    """We hold the lock, so any staging folder is a killed run's leftovers."""
    for child in output_dir.iterdir():
        if child.name.startswith(STAGING_PREFIX) and child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


def _reason(error: OSError) -> str:
    if error.errno == errno.ENOSPC:
        return "no space left on device"
    if error.errno == errno.EFBIG:
        return "file too large for this file system or the file-size limit"
    if error.errno == errno.EDQUOT:
        return "disk quota exceeded"
    return error.strerror or str(error)


def _named_write_error(error: OSError, stage: StagedOutput) -> BaseException:
    """An OSError from a write under the staging folder, as one line naming the final file."""
    filename = error.filename
    if filename is None:
        return error
    path = Path(filename)
    if path.parent != stage.staging:
        return error
    name = path.name
    if name.startswith(".") and ".tmp-" in name:  # the hidden temporary of an atomic write
        name = name[1:].rsplit(".tmp-", 1)[0]
    return OutputWriteError(stage.final(name), _reason(error))
