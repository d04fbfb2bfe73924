"""GLUE TSV files -> classification TFRecords, reading each task's official layout as it is.

The files are those of GLUE's `download_glue_data.py`. They are read like Google's
`_read_tsv`: tab-separated, quote characters taken literally (RTE has `"` inside fields),
a leading UTF-8 BOM dropped (MRPC's train/dev start with one), the header line skipped
where the task has one (CoLA's train/dev have none, its test has one). Columns are taken
by position, as in Google's and GLUE's processors. A wholly blank line is skipped.

Label lists (order = ids) are Google's where Google has a processor (CoLA, MRPC, MNLI) and
the GLUE/Hugging Face processors' otherwise. STS-B is a regression task: `label_ids` is one
float32 score. Test splits carry no label column; their `label_ids` is 0 (0.0 for STS-B),
as Google writes a placeholder first label for them. Whether a file is labelled is read from
its first line (the test files' header), not from its name.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bertkit.errors import InputError, UsageError
from bertkit.evaluate.benchmarks import GLUE, GlueBenchmarkTask, glue_key
from bertkit.evaluate.contract import GLUE_TSV
from bertkit.prep.classification.convert import (ClassificationDataset,
                                                  ClassificationRunOptions, ConversionResult,
                                                  ParsedSplit, TextExamples,
                                                  convert_classification)
from bertkit.prep.input_text import read_input_text
from bertkit.prep.outputs import (
    check_split_option,
    eval_block,
    expand_input_files,
    split_name_from_path,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack


@dataclass(frozen=True)
class TsvLayout:
    """Where one kind of file (labelled, or test) keeps its fields; columns are 0-based."""

    header: bool
    text_a: int
    text_b: int | None = None
    label: int | None = None  # None: no label column (test); -1: the last column

    @property
    def columns_needed(self) -> int:
        used = [c for c in (self.text_a, self.text_b, self.label) if c is not None and c >= 0]
        return max(used) + 1


@dataclass(frozen=True)
class GlueTask:
    benchmark: GlueBenchmarkTask  # the task's name and labels (defined in evaluate.benchmarks)
    labelled: TsvLayout | None  # None: the task has no labelled files (AX)
    test: TsvLayout
    split_files: tuple[tuple[str, str], ...]  # (file name, output split) a directory may hold
    # The test files' header has this many columns and starts with "index" ("id" for QQP);
    # no labelled file's first line looks like that (see `has_test_layout`).
    test_width: int = 0

    @property
    def name(self) -> str:
        return self.benchmark.name

    @property
    def labels(self) -> tuple[str, ...] | None:
        """In id order; None: regression (STS-B)."""
        return self.benchmark.labels

    @property
    def pairs(self) -> bool:
        return self.test.text_b is not None

    @property
    def splits(self) -> tuple[str, ...]:
        """The split names this task takes (--split, output file names)."""
        return tuple(dict.fromkeys(split for _, split in self.split_files))

    def has_test_layout(self, first_row: list[str]) -> bool:
        """Whether a file is in the task's unlabelled test layout, read from its first line.

        GLUE's test files start with a header of `test_width` columns whose first is
        "index" (QQP: "id"). The labelled files differ in that line for every task: CoLA's
        have no header and 4 columns, SST-2's header starts with "sentence", MRPC's with
        "Quality", and the others have more columns (the label ones).
        """
        if self.labelled is None:
            return True
        return (len(first_row) == self.test_width
                and first_row[0].strip().lower() in ("index", "id"))


PLAIN_SPLITS = (("train.tsv", "train"), ("dev.tsv", "dev"), ("test.tsv", "test"))
# GLUE's unlabelled splits, by name (each task's test files have no label column).
TEST_SPLITS = frozenset({"test", "test_matched", "test_mismatched"})

# Each task's file layouts; its name and labels come from `evaluate.benchmarks.GLUE`.
GLUE_TASKS: dict[str, GlueTask] = {
    task.benchmark.key: task
    for task in (
        GlueTask(GLUE["cola"], TsvLayout(header=False, text_a=3, label=1),
                 TsvLayout(header=True, text_a=1), PLAIN_SPLITS, test_width=2),
        GlueTask(GLUE["sst-2"], TsvLayout(header=True, text_a=0, label=1),
                 TsvLayout(header=True, text_a=1), PLAIN_SPLITS, test_width=2),
        GlueTask(GLUE["mrpc"], TsvLayout(header=True, text_a=3, text_b=4, label=0),
                 TsvLayout(header=True, text_a=3, text_b=4), PLAIN_SPLITS, test_width=5),
        GlueTask(GLUE["sts-b"], TsvLayout(header=True, text_a=7, text_b=8, label=-1),
                 TsvLayout(header=True, text_a=7, text_b=8), PLAIN_SPLITS, test_width=9),
        GlueTask(GLUE["qqp"], TsvLayout(header=True, text_a=3, text_b=4, label=5),
                 TsvLayout(header=True, text_a=1, text_b=2), PLAIN_SPLITS, test_width=3),
        GlueTask(GLUE["qnli"], TsvLayout(header=True, text_a=1, text_b=2, label=-1),
                 TsvLayout(header=True, text_a=1, text_b=2), PLAIN_SPLITS, test_width=3),
        GlueTask(GLUE["rte"], TsvLayout(header=True, text_a=1, text_b=2, label=-1),
                 TsvLayout(header=True, text_a=1, text_b=2), PLAIN_SPLITS, test_width=3),
        GlueTask(GLUE["wnli"], TsvLayout(header=True, text_a=1, text_b=2, label=-1),
                 TsvLayout(header=True, text_a=1, text_b=2), PLAIN_SPLITS, test_width=3),
        GlueTask(GLUE["mnli"], TsvLayout(header=True, text_a=8, text_b=9, label=-1),
                 TsvLayout(header=True, text_a=8, text_b=9),
                 (("train.tsv", "train"), ("dev_matched.tsv", "dev_matched"),
                  ("dev_mismatched.tsv", "dev_mismatched"), ("test_matched.tsv", "test_matched"),
                  ("test_mismatched.tsv", "test_mismatched")), test_width=10),
        GlueTask(GLUE["ax"], None, TsvLayout(header=True, text_a=1, text_b=2),
                 (("diagnostic.tsv", "test"), ("AX.tsv", "test")), test_width=3),
    )
}


def glue_task(name: str) -> GlueTask:
    key = glue_key(name)
    if key is None:
        known = ", ".join(task.name for task in GLUE_TASKS.values())
        raise UsageError(f"unknown GLUE task {name!r}; choose one of {known}")
    return GLUE_TASKS[key]


def output_split_for(task: GlueTask, path: Path, explicit: str | None) -> str:
    """--split, else the task's own name for this file, else train/dev/test from the name."""
    if explicit:
        return check_split_option(explicit, task.splits)  # type: ignore[return-value]
    for file_name, split in task.split_files:
        if path.name.lower() == file_name.lower():
            return split
    if task.labelled is None:
        return "test"
    split = split_name_from_path(path)
    if task.name == "MNLI" and split in ("dev", "test"):
        # dev_matched and dev_mismatched must not overwrite each other
        split += "_mismatched" if "mismatched" in path.name.lower() else "_matched"
    if split not in task.splits:
        raise UsageError(f"{path.name}: {task.name} has no {split} split; pass --split, one "
                         f"of {', '.join(task.splits)}")
    return split


def read_tsv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, fields) per line, read as Google's `_read_tsv` does, BOM dropped.

    A NUL inside a field is a character like any other, as in Python's csv reader."""
    text = read_input_text(path, allow_nul=True)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t",
                        quoting=csv.QUOTE_NONE, quotechar=None)
    rows = []
    try:
        for fields in reader:
            rows.append((reader.line_num, fields))
    except csv.Error as error:
        raise InputError(path, f"unreadable TSV ({error})", reader.line_num) from None
    return rows


def read_glue_file(task: GlueTask, path: Path, split: str) -> ParsedSplit:
    """Read and check one GLUE TSV file.

    Whether it carries labels comes from the data (its first line, `has_test_layout`),
    never from the file name: a labelled file named `my_test.tsv` keeps its labels, and a
    file in the test layout cannot be a train or dev split.
    """
    if split not in task.splits:
        raise UsageError(f"{task.name} has no split {split!r}; its splits are "
                         f"{', '.join(task.splits)}")
    rows = read_tsv_rows(path)
    first = next((fields for _, fields in rows if fields), [])
    labelled = not task.has_test_layout(first)
    if not labelled and split not in TEST_SPLITS:
        raise InputError(path, f"has the {task.name} test layout (header "
                               f"{chr(9).join(first)!r}, no label column), so it cannot be "
                               f"the {split} split; pass --split "
                               f"{'test_matched' if task.name == 'MNLI' else 'test'}", 1)
    layout = task.labelled if labelled else task.test
    assert layout is not None
    if layout.header and rows:
        rows = rows[1:]
    label2id = None if task.labels is None else {label: i for i, label in enumerate(task.labels)}
    texts_a: list[str] = []
    texts_b: list[str] | None = [] if layout.text_b is not None else None
    labels: list[float] = []
    for number, fields in rows:
        if not fields:
            continue
        if len(fields) < layout.columns_needed:
            raise InputError(path, f"{task.name} {'labelled' if labelled else 'test'} rows need "
                                   f"at least {layout.columns_needed} tab-separated columns, "
                                   f"this one has {len(fields)}", number)
        texts_a.append(fields[layout.text_a])
        if texts_b is not None:
            texts_b.append(fields[layout.text_b])  # type: ignore[index]
        if not labelled or layout.label is None:
            labels.append(0)
            continue
        raw = fields[layout.label]
        if label2id is None:
            labels.append(_parse_score(path, raw, number))
        elif raw in label2id:
            labels.append(label2id[raw])
        else:
            raise InputError(path, f"unknown {task.name} label {raw!r}; expected one of "
                                   f"{', '.join(task.labels or ())}", number)
    if not texts_a:
        raise InputError(path, "file has no examples (it is empty)")
    dtype = np.float32 if task.labels is None else np.int64
    examples = TextExamples(texts_a=texts_a, texts_b=texts_b,
                            labels=np.asarray(labels, dtype=dtype), labelled=labelled)
    return ParsedSplit(split=split, input_path=path, examples=examples)


def _parse_score(path: Path, raw: str, number: int) -> float:
    try:
        score = float(raw)
    except ValueError:
        raise InputError(path, f"score {raw!r} is not a number", number) from None
    if not math.isfinite(score):
        raise InputError(path, f"score {raw!r} is not a finite number", number)
    return score


def glue_input_files(task: GlueTask, inputs: Sequence[Path]) -> list[Path]:
    """Expand a task directory into the official split files present in it."""
    return expand_input_files(inputs, [name for name, _ in task.split_files], task.name)


def convert_glue(
    task_name: str,
    inputs: Sequence[str | Path],
    output_dir: str | Path,
    **options: Unpack[ClassificationRunOptions],
) -> ConversionResult:
    """Convert GLUE TSV files (or a task directory) into `OUTPUT_DIR/<split>.tf_record` + sidecars.

    ``options`` are those of every classification converter (`ClassificationRunOptions`:
    vocab, split, workers...); ``split`` overrides the split name taken from the file name
    (one input only).
    """
    task = glue_task(task_name)

    def describe(splits: list[tuple[str, Path]], max_seq_length: int,
                 do_lower_case: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        return ({"task": task.name, "max_seq_length": max_seq_length,
                 "do_lower_case": do_lower_case},
                {"task": task.name, **eval_block(f"glue-{task.benchmark.key}", dict(splits),
                                                 GLUE_TSV)})

    dataset = ClassificationDataset(
        command=f"prep glue {task.name}", label_names=task.labels, pairs=task.pairs,
        splits=task.splits, input_files=lambda files: glue_input_files(task, files),
        split_of=lambda path, given: output_split_for(task, path, given),
        read_split=lambda path, split: read_glue_file(task, path, split), describe=describe)
    return convert_classification(dataset, inputs, output_dir, **options)
