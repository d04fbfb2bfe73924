"""Publishing one converter run's files in an output directory as a unit.

Every converter writes through `staged_output(output_dir)`:

- an advisory lock (`fcntl.flock` on the output directory itself, so no lock file is
  left in it) is held for the whole run, so a second writer into the same directory
  fails at once (`OutputBusyError`) instead of mixing its files with ours;
- every file is written into a hidden staging folder inside the output directory
  (``.staging-PID``), under its final name; nothing under a final name changes while the
  run reads, encodes and writes;
- before anything is published, no output name may be the same file as one of the run's
  inputs (its input files, vocab, label file...): that would replace the source data
  with an output (`refuse_overwriting_inputs`, exit 2);
- the commit is journalled: a commit journal (``.commit-journal.json``) naming the
  staging folder, the files to publish and the previous set's files to remove is written
  atomically first; then the old ``manifest.json`` is removed, the previous set's files
  that the new set does not replace are removed, every staged file is renamed into place,
  the new manifest is renamed last and the journal is removed. A run killed anywhere in
  between (SIGKILL, power loss) leaves the journal, and the next run that holds the lock
  rolls the commit forward before doing anything else (every step is idempotent), so a
  manifest only ever vouches for the files beside it and no mixed set survives;
- one output directory holds one output set: a second run into the same -o (another
  split, other options) replaces the previous set as a whole, its files that the new run
  does not write included (they would otherwise stay beside a manifest that no longer
  lists them). To keep several splits together, convert them in one run (most converters
  take several inputs or a directory), or give each run its own -o;
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
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bertkit.errors import BertkitError, InputError, OutputWriteError, UsageError

# check_output_dir is re-exported: the prep runner imports it from here.
from bertkit.fsutil import check_output_dir as check_output_dir
from bertkit.fsutil import write_json_atomic
from bertkit.prep.outputs import MANIFEST_NAME, build_manifest

STAGING_PREFIX = ".staging-"
JOURNAL_NAME = ".commit-journal.json"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class OutputBusyError(BertkitError):
    """Another process holds the output directory's lock."""


# What a failed write of a staged set leaves: the directory as it was.
UNPUBLISHED = "nothing was published, the files already in the directory are unchanged"


def _is_plain_name(name: str) -> bool:
    return bool(_PLAIN_NAME.fullmatch(name)) and name not in (".", "..")


def check_plain_name(name: str, what: str = "file name") -> str:
    """A single path component of safe characters: never a path, `.` or `..`."""
    if not _is_plain_name(name):
        raise UsageError(f"{what} {name!r} must be a plain name of letters, digits, '_', '.' "
                         "and '-' (no path)")
    return name


def check_no_interrupted_commit(directory: Path) -> None:
    """Refuse to read a prep folder whose last commit was cut off half way: some of its files
    may be the new set and some the old. The next prep run into it finishes the commit."""
    if (Path(directory) / JOURNAL_NAME).exists():
        raise InputError(directory, "a prep run into this directory was interrupted while "
                                    "publishing its files; rerun that prep command first (it "
                                    "completes the interrupted commit)")


def refuse_overwriting_inputs(output_dir: Path, names: Iterable[str],
                              inputs: Iterable[str | Path]) -> None:
    """Exit 2 if publishing ``names`` in ``output_dir`` would replace one of ``inputs``
    (the same file, whatever path leads to it: links and relative paths included)."""
    existing = [Path(path) for path in inputs if path and Path(path).is_file()]
    for name in names:
        target = Path(output_dir) / name
        if not target.exists():
            continue
        for source in existing:
            with contextlib.suppress(OSError):
                if os.path.samefile(target, source):
                    raise UsageError(
                        f"-o {output_dir}: the output {target} would replace the input "
                        f"{source}; choose another -o")


def _manifest_inputs(manifest: dict[str, Any]) -> list[str]:
    """Every path a manifest says the run read: inputs, tokenizer files, path options."""
    paths = [str(entry.get("path", "")) for entry in manifest.get("inputs") or []
             if isinstance(entry, dict)]
    tokenizer = manifest.get("tokenizer") or {}
    paths += [str(tokenizer[key]) for key in ("vocab", "spm_model")
              if isinstance(tokenizer, dict) and tokenizer.get(key)]
    paths += [value for value in (manifest.get("options") or {}).values()
              if isinstance(value, str) and value]
    return paths


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
            raise OutputWriteError(self.final(name), _reason(error), UNPUBLISHED) from error

    def staged_names(self) -> list[str]:
        """The names of everything staged so far (sidecars of records included); hidden
        entries are the temporaries of atomic writes and the staged manifest."""
        return [child.name for child in sorted(self.staging.iterdir())
                if not child.name.startswith(".")]

    def staged_files(self) -> list[Path]:
        """The final paths of everything staged so far."""
        return [self.output_dir / name for name in self.staged_names()]

    def write_manifest(self, **fields: Any) -> dict[str, Any]:
        """Build the manifest over every staged file; it is published last, by the commit.

        ``fields`` are `build_manifest`'s keyword arguments except ``output_dir`` and
        ``files``, which come from the staged set itself (so no file can be left out).
        """
        manifest = build_manifest(self.output_dir, files=self.staged_files(), **fields)
        self._manifest = manifest
        return manifest

    def _commit(self) -> None:
        if self._manifest is None:
            raise RuntimeError("staged_output: write_manifest was never called")
        names = self.staged_names()
        stale = sorted(set(_previous_set(self.output_dir)) - set(names))
        refuse_overwriting_inputs(self.output_dir, [*names, *stale, MANIFEST_NAME],
                                  _manifest_inputs(self._manifest))
        manifest_tmp = self.staging / f".{MANIFEST_NAME}"
        journal = {"staging": self.staging.name, "publish": names, "remove": stale}
        try:
            write_json_atomic(manifest_tmp, self._manifest)
            write_json_atomic(self.output_dir / JOURNAL_NAME, journal)
        except OSError as error:
            raise OutputWriteError(self.final(MANIFEST_NAME), _reason(error),
                                   UNPUBLISHED) from error
        _roll_forward(self.output_dir, journal)


def _previous_set(output_dir: Path) -> list[str]:
    """The plain names of the files the current manifest lists directly in ``output_dir``."""
    try:
        manifest = json.loads((output_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        files = [Path(str(path)) for path in manifest.get("files") or []]
    except (OSError, ValueError, AttributeError, TypeError):
        return []
    names = []
    for path in files:
        if path.name != MANIFEST_NAME and _is_plain_name(path.name) and \
                (output_dir / path.name).is_file():
            names.append(path.name)
    return names


def _roll_forward(output_dir: Path, journal: dict[str, Any]) -> None:
    """Carry out a journalled commit; every step can be repeated after a crash."""
    staging = output_dir / check_plain_name(str(journal["staging"]), "staging folder")
    # From here on the old set is being replaced: its manifest goes first.
    (output_dir / MANIFEST_NAME).unlink(missing_ok=True)
    for name in journal.get("remove", []):
        (output_dir / check_plain_name(str(name))).unlink(missing_ok=True)
    for name in journal["publish"]:
        staged = staging / check_plain_name(str(name))
        if staged.exists():
            os.replace(staged, output_dir / staged.name)
    manifest_tmp = staging / f".{MANIFEST_NAME}"
    if manifest_tmp.exists():
        os.replace(manifest_tmp, output_dir / MANIFEST_NAME)
    elif not (output_dir / MANIFEST_NAME).exists():
        # The staged set is gone (removed by hand): what was published of it cannot be
        # vouched for, so it goes too, leaving no files beside no manifest.
        for name in journal["publish"]:
            (output_dir / check_plain_name(str(name))).unlink(missing_ok=True)
    (output_dir / JOURNAL_NAME).unlink(missing_ok=True)


def recover_interrupted_commit(output_dir: Path) -> None:
    """Finish the commit a killed run left half done (we hold the lock).

    The journal is written only once every file is staged, so rolling forward always
    leaves the complete new set; a journal that cannot be read (it is written atomically,
    so only by hand) is an error naming it.
    """
    path = output_dir / JOURNAL_NAME
    if not path.exists():
        return
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(journal, dict) or not isinstance(journal.get("publish"), list):
            raise ValueError("not a commit journal")
        _roll_forward(output_dir, journal)
    except (OSError, ValueError, KeyError, TypeError, UsageError) as error:
        raise BertkitError(f"{path}: cannot finish the interrupted commit it describes "
                           f"({error}); remove the directory's contents and run again"
                           ) from None


@contextlib.contextmanager
def staged_output(output_dir: str | Path) -> Iterator[StagedOutput]:
    """Lock ``output_dir``, stage the run's files, publish them on success (manifest last).

    The body writes each file at ``stage.path(name)`` and calls ``stage.write_manifest``.
    """
    with locked_output(output_dir) as output_dir:
        staging = output_dir / f"{STAGING_PREFIX}{os.getpid()}"
        committed = False
        try:
            staging.mkdir()
            stage = StagedOutput(output_dir, staging)
            try:
                yield stage
            except OSError as error:
                raise _named_write_error(error, stage) from error
            stage._commit()
            committed = True
        finally:
            if committed or not (output_dir / JOURNAL_NAME).exists():
                shutil.rmtree(staging, ignore_errors=True)
            # else a commit failed half way: its journal and staged files stay, and the
            # next run into this directory finishes it (locked_output then removes the
            # directories this run created, if they are empty)


@contextlib.contextmanager
def locked_output(output_dir: str | Path) -> Iterator[Path]:
    """Hold ``output_dir``'s lock (after finishing an interrupted commit and removing stale
    staging folders). `staged_output` builds on it; a writer that publishes file by file
    instead of as one staged set uses it directly (prep pretrain renames each shard when it
    is complete, so that --resume can keep it). A failed first run leaves no empty directory
    behind: rmdir refuses a non-empty directory, so nothing someone else put there is lost."""
    output_dir = Path(output_dir)
    # -o is checked once, by the prep runner before any work; a library caller's bad -o
    # fails in _make_dirs, which names the path at fault with the same check.
    lock_fd, created = _lock(output_dir)
    finished = False
    try:
        recover_interrupted_commit(output_dir)
        _remove_stale_staging(output_dir)
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
    except (FileExistsError, NotADirectoryError):
        check_output_dir(output_dir)  # names the path at fault
        raise UsageError(f"-o {output_dir}: cannot create it (a path on the way is not a "
                         "directory)") from None
    except OSError as error:
        raise OutputWriteError(output_dir, f"cannot create the directory ({_reason(error)})",
                               UNPUBLISHED) from None
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
    return OutputWriteError(stage.final(name), _reason(error), UNPUBLISHED)
