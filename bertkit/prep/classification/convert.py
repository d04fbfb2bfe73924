"""Sentence and sentence-pair classification features, exactly as Google's `run_classifier.py`.

Layout per example (Google's `convert_single_example`):
- pair:   `[CLS] a [SEP] b [SEP]`, after `_truncate_seq_pair(a, b, L - 3)`, which pops the
  last piece of the longer side until the pair fits (on a tie it pops from `b`);
- single: `[CLS] a [SEP]`, `a` cut to its first `L - 2` pieces. An empty `text_b` counts as
  no `text_b`, as in Google's `if example.text_b:`.
- `segment_ids` 0 up to and including the first `[SEP]`, 1 after; `input_mask` 1 on real
  positions; everything zero-padded to L.

Records carry `input_ids`, `input_mask`, `segment_ids` (int64 [L]), `label_ids` (int64 [1],
or float32 [1] for a regression task such as STS-B) and Google's `is_real_example` (int64
[1], always 1: bertkit never adds TPU padding rows). MindSpore reads columns by name and
ignores `is_real_example`, so one file serves Google's scripts, MindSpore and TensorFlow.

Tokenizing is the slow part, so it runs in chunks over `--workers` processes; the chunks
come back in input order, so the output bytes never depend on the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from bertkit.console import info, make_progress
from bertkit.errors import UsageError
from bertkit.fsutil import write_json_atomic
from bertkit.prep.outputs import check_max_seq_length as check_seq_length_bounds
from bertkit.prep.outputs import (
    check_split_option,
    describe_tokenizer,
    print_distribution,
    print_summary,
    recorded_path,
    resolve_workers,
)
from bertkit.prep.pipeline import TokenizerSpec, ordered_map, tokenizer_for
from bertkit.prep.staging import StagedOutput, staged_output
from bertkit.tfrecord import FloatList, TFRecordWriter

# Examples per worker job: large enough to amortise pickling, small enough for a live bar.
CHUNK_SIZE = 2048
# Below this many examples, starting processes costs more than it saves.
MIN_EXAMPLES_FOR_PROCESSES = 4 * CHUNK_SIZE
PREVIEW_EXAMPLES = 3


@dataclass
class TextExamples:
    """The parsed examples of one split, as parallel columns.

    ``texts_b`` is None for a single-sentence task; inside a pair task an empty string
    means "no second segment" for that example. ``labels`` holds label ids (int64) or
    regression targets (float32). ``labelled`` is False for test splits, whose label
    column is absent and whose ``labels`` are placeholders (id 0 / 0.0, like Google's).
    """

    texts_a: list[str]
    texts_b: list[str] | None
    labels: np.ndarray
    labelled: bool = True

    def __len__(self) -> int:
        return len(self.texts_a)


@dataclass
class ClassificationFeatures:
    """Narrow integer types: these arrays travel back from worker processes by pickle."""

    input_ids: np.ndarray  # [N, L] int32 (vocab ids < 2**31)
    input_mask: np.ndarray  # [N, L] int8
    segment_ids: np.ndarray  # [N, L] int8
    truncated: np.ndarray  # [N] bool: some word piece of a or b was dropped

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


def truncated_pair_lengths(
    len_a: np.ndarray, len_b: np.ndarray, budget: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lengths that Google's `_truncate_seq_pair(a, b, budget)` leaves, for many pairs at once.

    Popping one piece at a time from the longer side (from `b` on a tie) first cuts the
    longer side down to the shorter one, then alternates b, a, b, ... So either only the
    longer side shrinks (to `budget - shorter`), or both end at `ceil(budget/2)` for a and
    `floor(budget/2)` for b.
    """
    len_a = np.asarray(len_a, dtype=np.int64)
    len_b = np.asarray(len_b, dtype=np.int64)
    fits = len_a + len_b <= budget
    shorter = np.minimum(len_a, len_b)
    only_longer_cut = budget - shorter >= shorter
    a_is_longer = len_a > len_b
    half_a, half_b = (budget + 1) // 2, budget // 2
    out_a = np.where(
        fits, len_a,
        np.where(only_longer_cut, np.where(a_is_longer, budget - len_b, len_a), half_a))
    out_b = np.where(
        fits, len_b,
        np.where(only_longer_cut, np.where(a_is_longer, len_b, budget - len_a), half_b))
    return out_a, out_b


def build_features(
    ids_a: Sequence[Sequence[int]],
    ids_b: Sequence[Sequence[int] | None] | None,
    max_seq_length: int,
    cls_id: int,
    sep_id: int,
) -> ClassificationFeatures:
    """Google's `convert_single_example` layout for many examples, filled as whole arrays.

    ``ids_b`` entries that are None or empty make that example single-sentence.
    """
    count = len(ids_a)
    len_a = np.fromiter((len(a) for a in ids_a), dtype=np.int64, count=count)
    if ids_b is None:
        has_b = np.zeros(count, dtype=bool)
        len_b = np.zeros(count, dtype=np.int64)
    else:
        len_b = np.fromiter((len(b) if b else 0 for b in ids_b), dtype=np.int64, count=count)
        has_b = len_b > 0
    pair_a, pair_b = truncated_pair_lengths(len_a, len_b, max_seq_length - 3)
    keep_a = np.where(has_b, pair_a, np.minimum(len_a, max_seq_length - 2))
    keep_b = np.where(has_b, pair_b, 0)
    truncated = (keep_a < len_a) | (keep_b < len_b)
    # Google appends `b [SEP]` only if b still has pieces after truncation (possible to
    # lose them all only at L <= 4), while it chose the L - 3 budget from b before it.
    second_segment = keep_b > 0
    lengths = keep_a + 2 + np.where(second_segment, keep_b + 1, 0)

    positions = np.arange(max_seq_length, dtype=np.int64)
    real = positions[None, :] < lengths[:, None]
    input_ids = np.zeros((count, max_seq_length), dtype=np.int32)
    rows = np.arange(count)
    input_ids[:, 0] = cls_id
    input_ids[rows, keep_a + 1] = sep_id
    _place_pieces(input_ids, ids_a, len_a, keep_a, np.ones(count, dtype=np.int64))
    if ids_b is not None:
        _place_pieces(input_ids, ids_b, len_b, keep_b, keep_a + 2)
        input_ids[rows[second_segment], (keep_a + keep_b + 2)[second_segment]] = sep_id
    second = (positions[None, :] >= (keep_a + 2)[:, None]) & real
    return ClassificationFeatures(
        input_ids=input_ids,
        input_mask=real.astype(np.int8),
        segment_ids=second.astype(np.int8),
        truncated=truncated,
    )


def _place_pieces(
    input_ids: np.ndarray,
    ids: Sequence[Sequence[int] | None],
    lengths: np.ndarray,
    keep: np.ndarray,
    first_column: np.ndarray,
) -> None:
    """Write the first ``keep[r]`` ids of every row r from column ``first_column[r]`` on,
    as one scatter over all rows instead of a Python list per example."""
    total = int(lengths.sum())
    if total == 0:
        return
    flat = np.fromiter(chain.from_iterable(piece for piece in ids if piece is not None),
                       dtype=np.int32,
                       count=total)
    row = np.repeat(np.arange(len(ids)), lengths)
    within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    kept = within < keep[row]
    row = row[kept]
    input_ids[row, first_column[row] + within[kept]] = flat[kept]


@dataclass(frozen=True)
class EncodeJob:
    """One chunk of examples for a worker process."""

    tokenizer: TokenizerSpec
    texts_a: list[str]
    texts_b: list[str] | None
    max_seq_length: int


def encode_chunk(job: EncodeJob) -> ClassificationFeatures:
    """Tokenize one chunk and lay it out (top-level so worker processes can run it)."""
    tokenizer = tokenizer_for(job.tokenizer)
    ids_many = tokenizer.ids_many
    ids_a = ids_many(job.texts_a)
    ids_b: list[Sequence[int] | None] | None = None
    if job.texts_b is not None:
        present = [i for i, text in enumerate(job.texts_b) if text]
        ids_b = [None] * len(job.texts_b)
        for i, ids in zip(present, ids_many([job.texts_b[i] for i in present])):
            ids_b[i] = ids
    return build_features(ids_a, ids_b, job.max_seq_length, tokenizer.cls_id, tokenizer.sep_id)


def check_max_seq_length(max_seq_length: int, pairs: bool) -> None:
    """Google's layout needs room for [CLS] and one [SEP] per segment."""
    # The 512 cap is the CLI's (every prep command): the library also serves models with
    # longer position tables.
    check_seq_length_bounds(max_seq_length, 3 if pairs else 2, within_bert_positions=False)


@dataclass
class SplitResult:
    """What converting one split produced, for the manifest, --json and the summary."""

    split: str
    input_path: Path
    record_path: Path
    files: list[Path]
    examples: int
    truncated: int
    label_counts: dict[str, int] | None  # None for unlabelled (test) splits
    extra_counts: dict[str, int] = field(default_factory=dict)
    preview: list[dict[str, list[int]]] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        out: dict[str, Any] = {"examples": self.examples, "truncated_examples": self.truncated}
        out.update(self.extra_counts)
        out["labels"] = self.label_counts
        return out


def label_counts_of(
    examples: TextExamples, label_names: Sequence[str] | None
) -> dict[str, int] | None:
    """Per-label counts in label-id order; regression targets in unit-wide score bins."""
    if not examples.labelled:
        return None
    if label_names is not None:
        counts = np.bincount(examples.labels.astype(np.int64), minlength=len(label_names))
        return {name: int(count) for name, count in zip(label_names, counts)}
    scores = examples.labels.astype(np.float64)
    if scores.size == 0:
        return {}
    low, high = int(np.floor(scores.min())), int(np.ceil(scores.max()))
    edges = np.arange(low, max(high, low + 1) + 1)
    counts, _ = np.histogram(scores, bins=edges)  # the last bin is closed: 5.0 joins [4, 5]
    last = len(counts) - 1
    return {
        f"[{edges[i]}, {edges[i + 1]}{']' if i == last else ')'}": int(count)
        for i, count in enumerate(counts)
    }


def write_classification_records(
    examples: TextExamples, record_path: Path, tokenizer_spec: TokenizerSpec, max_seq_length: int,
    *, regression: bool = False, workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Path], int, list[dict[str, list[int]]]]:
    """Tokenize, lay out and write one split; returns (files, truncated count, preview rows).

    The record file appears under its final name only once complete (TFRecordWriter).
    """
    check_max_seq_length(max_seq_length, examples.texts_b is not None)
    starts = range(0, len(examples), CHUNK_SIZE)
    jobs = [
        EncodeJob(
            tokenizer=tokenizer_spec,
            texts_a=examples.texts_a[start : start + CHUNK_SIZE],
            texts_b=None if examples.texts_b is None
            else examples.texts_b[start : start + CHUNK_SIZE],
            max_seq_length=max_seq_length,
        )
        for start in starts
    ]
    if len(examples) < MIN_EXAMPLES_FOR_PROCESSES:
        workers = 1
    truncated = 0
    preview: list[dict[str, list[int]]] = []
    with TFRecordWriter(record_path) as writer:
        offset = 0
        for features in ordered_map(encode_chunk, jobs, workers):
            count = len(features)
            labels = examples.labels[offset : offset + count].reshape(count, 1)
            writer.write_batch({
                "input_ids": features.input_ids,
                "input_mask": features.input_mask,
                "segment_ids": features.segment_ids,
                "label_ids": (FloatList(labels.astype(np.float32)) if regression
                              else labels.astype(np.int64)),
                "is_real_example": np.ones((count, 1), dtype=np.int64),
            })
            if len(preview) < PREVIEW_EXAMPLES:
                for i in range(min(PREVIEW_EXAMPLES - len(preview), len(features))):
                    length = int(features.input_mask[i].sum())
                    preview.append({
                        "input_ids": features.input_ids[i, :length].tolist(),
                        "segment_ids": features.segment_ids[i, :length].tolist(),
                    })
            truncated += int(features.truncated.sum())
            offset += len(features)
            if on_progress is not None:
                on_progress(len(features))
        files = [record_path, *writer.sidecar_paths]
    return files, truncated, preview


@dataclass
class ParsedSplit:
    """One input file, read and checked, waiting to be written."""

    split: str
    input_path: Path
    examples: TextExamples
    extra_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ConversionResult:
    output_dir: Path
    splits: list[SplitResult]
    manifest: dict[str, Any]
    tokenizer_spec: TokenizerSpec

    def print_summary(self) -> None:
        # TNEWS's manifest carries a readable name per label code.
        print_conversion_summary(self, self.manifest["command"], self.manifest.get("label_desc"))

    def print_preview(self) -> None:
        print_preview(self)


class ClassificationRunOptions(TypedDict, total=False):
    """The options every classification converter takes (`convert_classification`'s
    defaults)."""

    vocab: str | Path | None
    spm_model: str | Path | None
    do_lower_case: bool
    max_seq_length: int
    split: str | None  # the split of the one input (default: from its file name)
    workers: int | None  # processes; None or 0: every core
    progress: bool


@dataclass(frozen=True)
class ClassificationDataset:
    """What differs between the classification converters (GLUE tasks, TNEWS)."""

    command: str  # e.g. "prep tnews", for the manifest and the summary title
    label_names: Sequence[str] | None  # in label-id order; None: a regression task
    pairs: bool  # a second segment (text_b)
    splits: Sequence[str]  # the split names --split takes
    # directories given as inputs -> the split files they hold
    input_files: Callable[[Sequence[Path]], list[Path]]
    # (input, --split) -> its split name
    split_of: Callable[[Path, str | None], str]
    # (input, split name) -> its examples, read and checked
    read_split: Callable[[Path, str], ParsedSplit]
    # ((split, input) pairs, max_seq_length, do_lower_case) -> (the manifest's options
    # before --split and --workers, the manifest's extra fields)
    describe: Callable[[list[tuple[str, Path]], int, bool],
                       tuple[dict[str, Any], dict[str, Any]]]


def convert_classification(
    dataset: ClassificationDataset,
    inputs: Sequence[str | Path],
    output_dir: str | Path,
    *,
    vocab: str | Path | None = None,
    spm_model: str | Path | None = None,
    do_lower_case: bool = True,
    max_seq_length: int = 128,
    split: str | None = None,
    workers: int | None = 1,
    progress: bool = False,
) -> ConversionResult:
    """Convert ``inputs`` (files, or directories of split files) into
    ``output_dir/<split>.tf_record`` + sidecars. Options are checked (exit 2) and the
    splits named before any data is read; the set is published at once, manifest last."""
    check_max_seq_length(max_seq_length, dataset.pairs)
    check_split_option(split, dataset.splits)
    workers = resolve_workers(workers)
    files = dataset.input_files([Path(path) for path in inputs])
    if split and len(files) > 1:
        raise UsageError("--split names one output, but more than one input file was given")
    splits = [(dataset.split_of(path, split), path) for path in files]
    check_distinct_splits(splits)
    options, extra_manifest = dataset.describe(splits, max_seq_length, do_lower_case)
    tokenizer = TokenizerSpec(vocab, spm_model, do_lower_case)
    with staged_output(output_dir) as stage:
        tokenizer_for(tokenizer)  # a bad vocab fails before the data are read
        parsed = [dataset.read_split(path, name) for name, path in splits]
        return write_classification_dataset(
            parsed, stage, command=dataset.command, label_names=dataset.label_names,
            tokenizer_spec=tokenizer, max_seq_length=max_seq_length,
            options={**options, "split": split, "workers": workers}, workers=workers,
            progress=progress, extra_manifest=extra_manifest)


def check_distinct_splits(splits: Sequence[tuple[str, Path]]) -> None:
    """Two inputs must not write the same `<split>.tf_record` (checked before reading data)."""
    seen: dict[str, Path] = {}
    for split, path in splits:
        if split in seen:
            raise UsageError(f"{seen[split]} and {path} would both become {split}.tf_record; "
                             "convert them separately, each with its own --split")
        seen[split] = path


def write_classification_dataset(
    parsed: Sequence[ParsedSplit],
    stage: StagedOutput,
    *,
    command: str,
    label_names: Sequence[str] | None,
    tokenizer_spec: TokenizerSpec,
    max_seq_length: int,
    options: dict[str, Any],
    workers: int = 1,
    progress: bool = False,
    extra_manifest: dict[str, Any] | None = None,
) -> ConversionResult:
    """Stage every split's records, then `label2id.json`, then the manifest.

    Every input has already been read and checked, so bad input fails before any output;
    ``stage`` publishes the whole set at once, manifest last (`staging.staged_output`).
    """
    check_distinct_splits([(item.split, item.input_path) for item in parsed])
    tokenizer = tokenizer_for(tokenizer_spec)
    results: list[SplitResult] = []
    with make_progress(progress) as bar:
        for item in parsed:
            task = bar.add_task(f"{item.split}", total=len(item.examples))
            name = f"{item.split}.tf_record"
            split_files, truncated, preview = write_classification_records(
                item.examples, stage.path(name), tokenizer_spec, max_seq_length,
                regression=label_names is None, workers=workers,
                on_progress=lambda done, task=task: bar.advance(task, done),
            )
            results.append(SplitResult(
                split=item.split, input_path=item.input_path, record_path=stage.final(name),
                files=[stage.final_of(path) for path in split_files], examples=len(item.examples),
                truncated=truncated, label_counts=label_counts_of(item.examples, label_names),
                extra_counts=item.extra_counts, preview=preview,
            ))
    label2id = {} if label_names is None else {name: i for i, name in enumerate(label_names)}
    with stage.writing("label2id.json") as path:
        write_json_atomic(path, label2id)
    extra: dict[str, Any] = {
        "task_type": "regression" if label_names is None else "classification",
        "num_labels": 1 if label_names is None else len(label_names),
        "features": {
            "input_ids": ["int64", max_seq_length], "input_mask": ["int64", max_seq_length],
            "segment_ids": ["int64", max_seq_length],
            "label_ids": ["float32" if label_names is None else "int64", 1],
            "is_real_example": ["int64", 1],
        },
        "splits": {result.split: {"input": recorded_path(result.input_path),
                                  "records": recorded_path(result.record_path)} for result in results},
    }
    extra.update(extra_manifest or {})
    manifest = stage.write_manifest(
        command=command, inputs=[item.input_path for item in parsed],
        options=options, tokenizer=describe_tokenizer(tokenizer),
        counts={result.split: result.counts() for result in results}, extra=extra,
    )
    return ConversionResult(output_dir=stage.output_dir, splits=results, manifest=manifest,
                            tokenizer_spec=tokenizer_spec)


def print_conversion_summary(
    result: ConversionResult, title: str, label_desc: dict[str, str] | None = None
) -> None:
    """The per-split summary table and label distribution, on stderr.

    ``label_desc`` adds a readable name beside each label (TNEWS codes such as `101`).
    """
    for split in result.splits:
        rows: list[tuple[str, Any]] = [
            ("input", str(split.input_path)),
            ("records", str(split.record_path)),
            ("examples", split.examples),
            ("truncated examples", split.truncated),
        ]
        rows += [(name.replace("_", " "), value) for name, value in split.extra_counts.items()]
        print_summary(f"{title}: {split.split}", rows)
        if split.label_counts is None:
            print_summary(f"{split.split} labels", [("labels", "none (test split)")])
        else:
            named = {(f"{label} {label_desc[label]}" if label_desc and label_desc.get(label)
                      else label): count for label, count in split.label_counts.items()}
            print_distribution(f"{split.split} labels", named)


def print_preview(result: ConversionResult) -> None:
    """The first converted examples of each split, as Google's converter logs them."""
    tokenizer = tokenizer_for(result.tokenizer_spec)
    for split in result.splits:
        for number, row in enumerate(split.preview):
            tokens = tokenizer.convert_ids_to_tokens(row["input_ids"])
            info(f"{split.split} example {number}: tokens: {' '.join(tokens)}")
            info(f"  input_ids: {' '.join(map(str, row['input_ids']))}")
            info(f"  segment_ids: {' '.join(map(str, row['segment_ids']))}")
