"""What every converter writes beside its records, and how it reports.

- `manifest.json`, published last (`staging.staged_output`): the inputs (path as given,
  and sha256), every option, the tokenizer (and vocab sha256), the counts and the list
  of files. Its presence marks an output directory as complete.
- a summary table for people on stderr.

The parallel map and the tokenizer cache every converter shares are in `pipeline`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from bertkit import __version__
from bertkit.console import info, stderr_console, warn
from bertkit.errors import InputError, UsageError
from bertkit.evaluate.contract import manifest_eval_block
from bertkit.fsutil import sha256_of_file

if TYPE_CHECKING:
    from bertkit.prep.pipeline import Tokenizer

MANIFEST_NAME = "manifest.json"


def recorded_path(path: str | Path) -> str:
    """How the manifest records a path the user gave: as given, made absolute against the
    working directory, symlinks kept (not `resolve()`d), so the manifest shows the path the
    user typed and a later step run elsewhere still finds it. The sha256 beside an input
    says what the file held."""
    return str(Path(path).absolute())


def describe_input(path: str | Path) -> dict[str, str]:
    return {"path": recorded_path(path), "sha256": sha256_of_file(path)}


def describe_tokenizer(tokenizer: Tokenizer) -> dict[str, Any]:
    """The tokenizer's own description, its vocab/model path recorded like every input."""
    description = dict(tokenizer.describe())
    for key in ("vocab", "spm_model"):
        if description.get(key):
            description[key] = recorded_path(description[key])
    return description


def eval_block(scorer: str, gold: Mapping[str, str | Path], gold_format: str
               ) -> dict[str, Any]:
    """``{"eval": ...}`` for a manifest: the scorer `bertkit eval` uses on this data set's
    predictions, the gold file of each split (by records file stem; recorded like every
    input path) and that file's format. `predict` copies it into eval_meta.json; see
    `evaluate.contract` for the names."""
    recorded = {split: recorded_path(path) for split, path in gold.items()}
    return {"eval": manifest_eval_block(scorer, recorded, gold_format)}


def build_manifest(
    output_dir: Path,
    *,
    command: str,
    inputs: Sequence[str | Path],
    options: dict[str, Any],
    tokenizer: dict[str, Any] | None,
    counts: dict[str, Any],
    files: Sequence[Path],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest object (see `staging.StagedOutput.write_manifest`, which publishes it).

    No timestamps: identical inputs and options give an identical manifest.
    """
    manifest_path = output_dir / MANIFEST_NAME
    manifest: dict[str, Any] = {
        "bertkit_version": __version__,
        "command": command,
        "inputs": [describe_input(path) for path in inputs],
        "options": {key: (str(value) if isinstance(value, Path) else value)
                    for key, value in options.items()},
        "tokenizer": tokenizer,
        "counts": counts,
        # Recorded like every input path (absolute, symlinks kept), whatever -o was given as.
        "files": sorted({recorded_path(path) for path in [*files, manifest_path]}),
    }
    if extra:
        manifest.update(extra)
    return manifest


def warn_verbatim(message: str) -> None:
    """A warning whose text is shown as it is: spans such as `[start, end]` in a message
    must not be read as console markup and vanish."""
    warn(escape(message))


def print_summary(title: str, rows: Iterable[tuple[str, Any]]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    stderr_console.print(table)


def describe_output_file(name: str) -> str:
    """What an output file is, from its name (for the summary's file list)."""
    if name == MANIFEST_NAME:
        return "manifest (written last)"
    for suffix, what in ((".tf_record", "records"), (".tf_record.index", "index"),
                         (".schema.json", "schema (MindSpore)")):
        if name.endswith(suffix):
            return what
    return "sidecar"


def print_files_written(manifest: dict[str, Any]) -> None:
    """Every file of the output set, with what it is: records, index, schema, sidecars
    and the manifest."""
    files = sorted(manifest.get("files") or [], key=lambda path: (
        Path(path).name == MANIFEST_NAME, str(path)))
    # Plain lines, not a table: a table cell would wrap or cut a long path.
    info("files written:")
    for path in files:
        info(f"  {describe_output_file(Path(path).name):<24} {path}")


def print_distribution(title: str, counts: dict[str, int]) -> None:
    """A label (or windows-per-example) histogram as a table."""
    table = Table(title=title, title_justify="left")
    table.add_column("value")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    total = sum(counts.values()) or 1
    for key, count in counts.items():
        table.add_row(str(key), f"{count:,}", f"{100 * count / total:.1f}%")
    stderr_console.print(table)


def resolve_workers(workers: int | None) -> int:
    """`None` or 0 means every core."""
    if workers is None or workers == 0:
        return os.cpu_count() or 1
    if workers < 0:
        raise UsageError(f"--workers must be >= 0, got {workers}")
    return workers


STANDARD_SPLITS = ("train", "dev", "test")
MAX_POSITION_EMBEDDINGS = 512  # BERT's position table; a longer sequence cannot be embedded


def check_max_seq_length(max_seq_length: int, smallest: int, *,
                         within_bert_positions: bool = True) -> None:
    """--max-seq-length bounds (exit 2, before any work): at least ``smallest`` (the special
    tokens of the converter's layout) and, unless ``within_bert_positions`` is False, at
    most BERT's 512 positions (`check_bert_positions`)."""
    if max_seq_length < smallest:
        raise UsageError(f"--max-seq-length must be at least {smallest}, got {max_seq_length}")
    if within_bert_positions:
        check_bert_positions(max_seq_length)


def check_bert_positions(max_seq_length: int) -> None:
    """The one upper bound every `prep` command applies (the runner, SQuAD, pretrain): a
    BERT model has 512 position embeddings, so longer records cannot be fed to it."""
    if max_seq_length > MAX_POSITION_EMBEDDINGS:
        raise UsageError(f"--max-seq-length {max_seq_length} is larger than BERT's "
                         f"{MAX_POSITION_EMBEDDINGS} positions")


def check_split_option(explicit: str | None, known: Sequence[str]) -> str | None:
    """--split must be one of the converter's split names (never a path); exit 2 otherwise."""
    if explicit is None:
        return None
    if explicit not in known:
        raise UsageError(f"--split {explicit!r} is not a split name; choose one of "
                         f"{', '.join(known)}")
    return explicit


def split_name_from_path(
    path: str | Path, explicit: str | None = None, known: Sequence[str] = STANDARD_SPLITS
) -> str:
    """train / dev / test, from --split or from the input's file name."""
    if explicit:
        return check_split_option(explicit, known)  # type: ignore[return-value]
    name = Path(path).name.lower()
    for split, pattern in (("train", r"train"), ("dev", r"dev|valid|eval"), ("test", r"test")):
        if re.search(pattern, name):
            return split
    raise UsageError(f"cannot tell the split from the file name {Path(path).name!r}; pass --split")


def expand_input_files(
    inputs: Sequence[Path], expected_names: Sequence[str], dataset: str
) -> list[Path]:
    """Files as given, with each directory replaced by the split files it holds.

    Names match case-insensitively (GLUE's own downloads mix `dev.tsv` and `Dev.tsv`),
    in the order of ``expected_names``; a directory holding none of them is an error.
    """
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            present = {child.name.lower(): child for child in path.iterdir()}
            found = [present[name.lower()] for name in expected_names
                     if name.lower() in present]
            if not found:
                raise InputError(path, f"no {dataset} files in this directory "
                                       f"(expected {', '.join(expected_names)})")
            files += found
        elif not path.exists():
            raise InputError(path, "file not found")
        else:
            files.append(path)
    return files
