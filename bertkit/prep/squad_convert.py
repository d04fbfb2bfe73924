"""`prep squad`: SQuAD JSON -> train.tf_record / eval.tf_record (+ eval sidecar, manifest).

Pipeline: validate options (before any I/O) -> read and validate the JSON -> tokenize
every distinct text in worker processes -> build the feature rows (vectorised) -> put them
in Google's order (train examples shuffled with `random.Random(12345)` as Google's
`run_squad.main` does, unless ``shuffle`` is off) -> number them from 1000000000 -> write
records, sidecar, manifest, published as one set (`staging.staged_output`, manifest last). Nothing depends on the number of workers, so neither do
the output bytes.

The records equal those of Google's `read_squad_examples` + `convert_examples_to_features`
(reference-formats A.2-A.4) value for value; the feature columns and their order are
Google's `FeatureWriter`'s, so MindSpore's SQuAD recipe reads the train file unchanged.
"""

from __future__ import annotations

import itertools
import random
import signal
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bertkit.errors import UsageError
from bertkit.evaluate.contract import SQUAD_JSON
from bertkit.prep.outputs import (
    check_max_seq_length,
    describe_tokenizer,
    eval_block,
    ordered_parallel_map,
    recorded_path,
    resolve_workers,
)
from bertkit.prep.squad_encode import (
    ChunkFeatures,
    TokenizedTexts,
    WindowOptions,
    encode_paragraphs,
    texts_to_tokenize,
)
from bertkit.prep.squad_features import (
    EVAL_SIDECAR_FORMAT,
    EVAL_SIDECAR_NAME,
    save_squad_eval_sidecar,
)
from bertkit.prep.squad_chinese import AUTO, DOC_TOKENS, WHITESPACE
from bertkit.prep.squad_reader import (
    RepairedAnswer,
    SkippedAnswer,
    SquadParagraph,
    SquadReadResult,
    read_squad_file,
)
from bertkit.prep.staging import staged_output
from bertkit.tfrecord import TFRecordWriter

FIRST_UNIQUE_ID = 1000000000
GOOGLE_SHUFFLE_SEED = 12345
SPLITS = ("train", "eval")
SPLIT_ALIASES = {"dev": "eval"}  # the other converters call their scored split "dev"
PHASES = ("reading", "encoding", "writing")


@dataclass(frozen=True)
class SquadPrepOptions:
    split: str
    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    version_2_with_negative: bool = False
    do_lower_case: bool = True
    shuffle: bool = True  # train only: Google's pre-shuffle of the examples
    shuffle_seed: int = GOOGLE_SHUFFLE_SEED
    doc_tokens: str = AUTO  # whitespace (Google's), cjk-chars or auto (squad_chinese)
    strict: bool = False  # a skipped or repaired answer is an error

    def __post_init__(self) -> None:
        object.__setattr__(self, "split", SPLIT_ALIASES.get(self.split, self.split))

    def validate(self) -> None:
        """Google's `validate_flags_or_throw` checks plus sanity; raised before any I/O."""
        if self.doc_tokens not in DOC_TOKENS:
            raise UsageError(
                f"--doc-tokens must be one of {', '.join(DOC_TOKENS)}, got {self.doc_tokens!r}"
            )
        if self.split not in SPLITS:
            raise UsageError(f"--split must be train or eval (dev is another name for eval), "
                             f"got {self.split!r}")
        check_max_seq_length(self.max_seq_length, 1)
        if self.max_seq_length <= self.max_query_length + 3:
            raise UsageError(
                f"--max-seq-length ({self.max_seq_length}) must be greater than "
                f"--max-query-length ({self.max_query_length}) + 3"
            )
        if self.doc_stride < 1:
            raise UsageError(f"--doc-stride must be >= 1, got {self.doc_stride}")
        if self.max_query_length < 1:
            raise UsageError(f"--max-query-length must be >= 1, got {self.max_query_length}")

    @property
    def is_training(self) -> bool:
        return self.split == "train"

    @property
    def shuffles(self) -> bool:
        return self.is_training and self.shuffle


@dataclass
class SquadPrepResult:
    manifest: dict[str, Any]
    record_path: Path
    num_examples: int
    num_features: int
    truncated_questions: int
    skipped: list[SkippedAnswer]
    windows_histogram: dict[int, int]  # windows per example -> examples
    files: list[Path] = field(default_factory=list)
    repaired: list[RepairedAnswer] = field(default_factory=list)
    doc_tokens: str = WHITESPACE  # as resolved from options.doc_tokens


def prep_squad(
    input_path: str | Path,
    output_dir: str | Path,
    options: SquadPrepOptions,
    *,
    vocab: str | Path | None = None,
    spm_model: str | Path | None = None,
    workers: int | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> SquadPrepResult:
    """Convert ``input_path``; ``on_phase`` hears "reading", "encoding", "writing" (for a
    progress display)."""
    options.validate()
    phase = on_phase or (lambda name: None)
    workers = resolve_workers(workers)
    input_path, output_dir = Path(input_path), Path(output_dir)
    from bertkit.tokenization import load_tokenizer

    with staged_output(output_dir) as stage:
        tokenizer = load_tokenizer(
            vocab=vocab, spm_model=spm_model, do_lower_case=options.do_lower_case
        )
        phase("reading")
        read = read_squad_file(
            input_path,
            is_training=options.is_training,
            version_2_with_negative=options.version_2_with_negative,
            doc_tokens=options.doc_tokens,
            strict=options.strict,
        )
        window_options = WindowOptions(
            max_seq_length=options.max_seq_length,
            doc_stride=options.doc_stride,
            max_query_length=options.max_query_length,
            is_training=options.is_training,
            keep_eval_details=not options.is_training,
        )
        spec = (
            str(vocab) if vocab else None,
            str(spm_model) if spm_model else None,
            options.do_lower_case,
        )
        phase("encoding")
        chunks = encode_in_parallel(read.paragraphs, tokenizer, spec, window_options, workers)
        merged = _merge(chunks)
        question_order = _question_order(len(merged.windows_per_question), options)
        feature_order = _feature_order(merged.windows_per_question, question_order)
        columns = _record_columns(merged, feature_order, options)

        phase("writing")
        record_name = "train.tf_record" if options.is_training else "eval.tf_record"
        _write_records(stage.path(record_name), columns)
        if not options.is_training:
            with stage.writing(EVAL_SIDECAR_NAME) as sidecar:
                save_squad_eval_sidecar(
                    sidecar,
                    _eval_sidecar(
                        input_path, read, chunks, merged, columns["unique_ids"], options,
                        tokenizer,
                    ),
                )
        histogram = dict(sorted(Counter(merged.windows_per_question.tolist()).items()))
        counts = {
            "paragraphs": len(read.paragraphs),
            "examples": len(question_order),
            "features": len(feature_order),
            "skipped_answers": len(read.skipped),
            **_chinese_counts(read),
            "truncated_questions": merged.truncated_questions,
            "windows_per_example": {str(key): value for key, value in histogram.items()},
        }
        manifest = stage.write_manifest(
            command="prep squad",
            inputs=[input_path],
            options={
                "split": options.split,
                **_manifest_options(options, read),
                # Absolute (as given, symlinks kept), so a later step run from elsewhere
                # finds the same files.
                "vocab": recorded_path(vocab) if vocab else None,
                "spm_model": recorded_path(spm_model) if spm_model else None,
            },
            tokenizer=describe_tokenizer(tokenizer),
            counts=counts,
            extra={
                "skipped_answers": [asdict(item) for item in read.skipped],
                **_chinese_extra(read),
                **eval_block(_scorer(options, read), {record_name.split(".")[0]: input_path},
                             SQUAD_JSON),
            },
        )
    return SquadPrepResult(
        manifest=manifest,
        record_path=stage.final(record_name),
        num_examples=len(question_order),
        num_features=len(feature_order),
        truncated_questions=merged.truncated_questions,
        skipped=read.skipped,
        windows_histogram=histogram,
        files=[Path(name) for name in manifest["files"]],
        repaired=read.repaired,
        doc_tokens=read.doc_tokens,
    )


def _scorer(options: SquadPrepOptions, read: SquadReadResult) -> str:
    """SQuAD v2.0's scorer with --version-2-with-negative; Chinese files split into
    character doc tokens (CMRC 2018, DRCD) get the CMRC 2018 metric, as CLUE scores both."""
    if options.version_2_with_negative:
        return "squad2"
    return "squad" if read.doc_tokens == WHITESPACE else "cmrc"


def _manifest_options(options: SquadPrepOptions, read: SquadReadResult) -> dict[str, Any]:
    values = {k: v for k, v in asdict(options).items() if k != "split"}
    values["doc_tokens"] = read.doc_tokens  # as resolved ("auto" decides from the text)
    return values


def _chinese_counts(read: SquadReadResult) -> dict[str, Any]:
    # Counts that only character doc tokens have; Google-mode manifests keep their keys.
    if read.doc_tokens == WHITESPACE:
        return {}
    return {"doc_tokens": read.doc_tokens, "repaired_answers": len(read.repaired)}


def _chinese_extra(read: SquadReadResult) -> dict[str, Any]:
    if read.doc_tokens == WHITESPACE:
        return {}
    return {"repaired_answers": [asdict(item) for item in read.repaired]}


# --- tokenizing in worker processes ------------------------------------------------------

# One tokenizer per process and tokenizer spec. The parent registers its own before the
# pool forks, so forked workers inherit it instead of re-reading the vocab.
_PROCESS_TOKENIZERS: dict[tuple[Any, ...], Any] = {}


def _tokenizer_for(spec: tuple[Any, ...]) -> Any:
    tokenizer = _PROCESS_TOKENIZERS.get(spec)
    if tokenizer is None:
        from bertkit.tokenization import load_tokenizer

        vocab, spm_model, do_lower_case = spec
        tokenizer = load_tokenizer(vocab=vocab, spm_model=spm_model, do_lower_case=do_lower_case)
        _PROCESS_TOKENIZERS[spec] = tokenizer
    return tokenizer


def _ignore_ctrl_c() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it writes nothing until every
    slice is back); workers must not each print a KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _tokenize_slice(task: tuple[tuple[Any, ...], list[str]]) -> list[list[str]]:
    spec, texts = task
    return _tokenizer_for(spec).tokenize_many(texts)


def encode_in_parallel(
    paragraphs: list[SquadParagraph],
    tokenizer: Any,
    spec: tuple[Any, ...],
    window_options: WindowOptions,
    workers: int,
) -> list[ChunkFeatures]:
    """Tokenization, the bulk of the work, is spread over ``workers`` processes as disjoint
    slices of one flat list of distinct texts (no text is tokenized twice); building the
    rows from the pieces is vectorised and stays here. ``spec`` = (vocab, spm_model,
    do_lower_case) lets a worker load the tokenizer if it was not forked with it."""
    if workers <= 1:
        return [encode_paragraphs(paragraphs, tokenizer, window_options)]
    words, questions, answers = texts_to_tokenize(paragraphs, window_options)
    texts = words + questions + answers
    bounds = [len(texts) * part // workers for part in range(workers + 1)]
    slices = [(spec, texts[begin:end]) for begin, end in itertools.pairwise(bounds)]
    # Build the tokenizer's lazy tables once here, so forked workers inherit them.
    tokenizer.tokenize_many(["Warm-up, once: déjà vu 1,000 (x)."])
    _PROCESS_TOKENIZERS[spec] = tokenizer
    try:
        parts = ordered_parallel_map(_tokenize_slice, slices, workers, initializer=_ignore_ctrl_c)
    finally:
        _PROCESS_TOKENIZERS.pop(spec, None)
    pieces = [item for part in parts for item in part]
    tokenized = TokenizedTexts(
        words=words,
        word_pieces=pieces[: len(words)],
        query_pieces=pieces[len(words) : len(words) + len(questions)],
        answer_pieces=pieces[len(words) + len(questions) :],
    )
    return [encode_paragraphs(paragraphs, tokenizer, window_options, tokenized)]


# --- ordering and record columns -------------------------------------------------------


@dataclass
class _Merged:
    input_ids: np.ndarray
    num_tokens: np.ndarray
    query_length: np.ndarray
    span_start: np.ndarray
    span_length: np.ndarray
    doc_span_index: np.ndarray
    start_positions: np.ndarray
    end_positions: np.ndarray
    is_impossible: np.ndarray
    windows_per_question: np.ndarray
    truncated_questions: int


def _merge(chunks: list[ChunkFeatures]) -> _Merged:
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(chunk, name) for chunk in chunks])

    return _Merged(
        input_ids=cat("input_ids"),
        num_tokens=cat("num_tokens"),
        query_length=cat("query_length"),
        span_start=cat("span_start"),
        span_length=cat("span_length"),
        doc_span_index=cat("doc_span_index"),
        start_positions=cat("start_positions"),
        end_positions=cat("end_positions"),
        is_impossible=cat("is_impossible"),
        windows_per_question=cat("windows_per_question"),
        truncated_questions=sum(chunk.truncated_questions for chunk in chunks),
    )


def _question_order(num_questions: int, options: SquadPrepOptions) -> list[int]:
    order = list(range(num_questions))
    if options.shuffles:
        # shuffle() draws depend only on the list length, so permuting indices gives the
        # same order Google's rng.shuffle(train_examples) gives the examples.
        random.Random(options.shuffle_seed).shuffle(order)
    return order


def _feature_order(windows_per_question: np.ndarray, question_order: list[int]) -> np.ndarray:
    """Feature rows (in file order) listed in the output order of their questions."""
    first = np.concatenate([[0], np.cumsum(windows_per_question)[:-1]]).astype(np.int64)
    order = np.asarray(question_order, dtype=np.int64)
    counts = windows_per_question[order]
    if counts.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(first[order], counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return starts + within


def _record_columns(
    merged: _Merged, feature_order: np.ndarray, options: SquadPrepOptions
) -> dict[str, np.ndarray]:
    """Google's FeatureWriter columns, in its insertion order, as [N, width] arrays.

    Every value is written as int64 whatever the array dtype, so ids stay int32 here."""
    count = len(feature_order)
    positions = np.arange(options.max_seq_length)[None, :]
    num_tokens = merged.num_tokens[feature_order][:, None]
    query_end = merged.query_length[feature_order][:, None] + 2
    columns = {
        "unique_ids": (FIRST_UNIQUE_ID + np.arange(count, dtype=np.int64))[:, None],
        "input_ids": merged.input_ids[feature_order],
        "input_mask": (positions < num_tokens).astype(np.uint8),
        "segment_ids": ((positions >= query_end) & (positions < num_tokens)).astype(np.uint8),
    }
    if options.is_training:
        columns["start_positions"] = merged.start_positions[feature_order][:, None]
        columns["end_positions"] = merged.end_positions[feature_order][:, None]
        columns["is_impossible"] = merged.is_impossible[feature_order][:, None]
    return columns


# --- writing ------------------------------------------------------------------------------


def _write_records(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    with TFRecordWriter(path) as writer:
        write_batch = getattr(writer, "write_batch", None)
        if write_batch is not None:
            write_batch(columns)
            return
        names = list(columns)
        arrays = [columns[name] for name in names]
        for row in range(len(arrays[0])):
            writer.write({name: array[row] for name, array in zip(names, arrays)})


def _eval_sidecar(
    input_path: Path,
    read: SquadReadResult,
    chunks: list[ChunkFeatures],
    merged: _Merged,
    unique_ids: np.ndarray,
    options: SquadPrepOptions,
    tokenizer: Any,
) -> dict[str, Any]:
    paragraph_pieces = [pieces for chunk in chunks for pieces in chunk.paragraph_pieces]
    piece_to_word = [words for chunk in chunks for words in chunk.paragraph_piece_to_word]
    paragraphs = [
        {"doc_tokens": paragraph.doc_tokens, "pieces": pieces, "piece_to_word": words}
        for paragraph, pieces, words in zip(read.paragraphs, paragraph_pieces, piece_to_word)
    ]
    if read.doc_tokens != WHITESPACE:
        # Character doc tokens: answers are cut from the context itself (squad_postprocess).
        for entry, paragraph in zip(paragraphs, read.paragraphs):
            entry["context"] = paragraph.context
            entry["token_starts"] = paragraph.token_starts
    questions = [(index, q) for index, p in enumerate(read.paragraphs) for q in p.questions]
    example_index = np.repeat(np.arange(len(questions)), merged.windows_per_question)
    return {
        "format": EVAL_SIDECAR_FORMAT,
        "input_path": recorded_path(input_path),
        "options": {**asdict(options), "doc_tokens": read.doc_tokens},
        "cls_token": tokenizer.cls_token,
        "sep_token": tokenizer.sep_token,
        "paragraphs": paragraphs,
        "examples": {
            "id": [q.qas_id for _, q in questions],
            "question": [q.question_text for _, q in questions],
            "paragraph": [index for index, _ in questions],
            "answers": [q.answers for _, q in questions],
            "is_impossible": [q.is_impossible for _, q in questions],
            "query_pieces": [pieces for chunk in chunks for pieces in chunk.query_pieces],
        },
        "features": {
            "unique_id": unique_ids.reshape(-1).tolist(),
            "example_index": example_index.tolist(),
            "doc_span_index": merged.doc_span_index.tolist(),
            "span_start": merged.span_start.tolist(),
            "span_length": merged.span_length.tolist(),
            "max_context": [flags for chunk in chunks for flags in chunk.max_context],
        },
    }
