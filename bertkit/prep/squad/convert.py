"""`prep squad`: SQuAD JSON -> train.tf_record / eval.tf_record (+ eval sidecar, manifest).

Pipeline: validate options (before any I/O) -> read and validate the JSON (`reader`) ->
tokenize every distinct text in worker processes and build the feature rows (`tokenize`,
`encode`) -> put them in Google's order and columns (`records`: train examples shuffled
with `random.Random(12345)` as Google's `run_squad.main` does, unless ``shuffle`` is off,
numbered from 1000000000) -> write records, eval sidecar (`sidecar`) and manifest,
published as one set (`staging.staged_output`, manifest last). Nothing depends on the
number of workers, so neither do the output bytes.

The records equal those of Google's `read_squad_examples` + `convert_examples_to_features`
(reference-formats A.2-A.4) value for value; the feature columns and their order are
Google's `FeatureWriter`'s, so MindSpore's SQuAD recipe reads the train file unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bertkit.errors import UsageError
from bertkit.evaluate.contract import SQUAD_JSON
from bertkit.prep.outputs import (
    check_max_seq_length,
    describe_tokenizer,
    eval_block,
    recorded_path,
)
from bertkit.prep.pipeline import TokenizerSpec, resolve_workers, tokenizer_for
from bertkit.prep.squad.chinese import AUTO, DOC_TOKENS, WHITESPACE
from bertkit.prep.squad.encode import WindowOptions
from bertkit.prep.squad.reader import (
    RepairedAnswer,
    SkippedAnswer,
    SquadReadResult,
    read_squad_file,
)
from bertkit.prep.squad.records import (
    FIRST_UNIQUE_ID,
    feature_order,
    question_order,
    record_columns,
    write_records,
)
from bertkit.prep.squad.sidecar import (
    EVAL_SIDECAR_NAME,
    build_eval_sidecar,
    save_squad_eval_sidecar,
)
from bertkit.prep.squad.tokenize import encode_in_parallel
from bertkit.prep.staging import staged_output

__all__ = ["FIRST_UNIQUE_ID", "PHASES", "SquadPrepOptions", "SquadPrepResult", "prep_squad"]

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
    doc_tokens: str = AUTO  # whitespace (Google's), cjk-chars or auto (squad.chinese)
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

    def recorded(self, doc_tokens: str) -> dict[str, Any]:
        """The options as the sidecar records them, with ``doc_tokens`` as resolved
        ("auto" decides from the text)."""
        return {**asdict(self), "doc_tokens": doc_tokens}


@dataclass
class SquadPrepResult:
    manifest: dict[str, Any]
    tokenizer: TokenizerSpec  # for the preview
    record_path: Path
    num_examples: int
    num_features: int
    truncated_questions: int
    skipped: list[SkippedAnswer]
    windows_histogram: dict[int, int]  # windows per example -> examples
    files: list[Path] = field(default_factory=list)
    repaired: list[RepairedAnswer] = field(default_factory=list)
    doc_tokens: str = WHITESPACE  # as resolved from options.doc_tokens

    def print_summary(self) -> None:
        from bertkit.prep.squad.summary import print_squad_summary

        print_squad_summary(self)

    def print_preview(self) -> None:
        from bertkit.prep.squad.summary import print_first_features

        print_first_features(self)


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
    spec = TokenizerSpec(vocab, spm_model, options.do_lower_case)

    with staged_output(output_dir) as stage:
        tokenizer = tokenizer_for(spec)  # a bad vocab fails before the data are read
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
        phase("encoding")
        features = encode_in_parallel(read.paragraphs, spec, window_options, workers)
        questions = question_order(len(features.windows_per_question),
                                   options.shuffle_seed if options.shuffles else None)
        order = feature_order(features.windows_per_question, questions)
        columns = record_columns(features, order, options.max_seq_length, options.is_training)

        phase("writing")
        record_name = "train.tf_record" if options.is_training else "eval.tf_record"
        write_records(stage.path(record_name), columns)
        if not options.is_training:
            with stage.writing(EVAL_SIDECAR_NAME) as sidecar:
                save_squad_eval_sidecar(sidecar, build_eval_sidecar(
                    input_path, read, features, columns["unique_ids"],
                    options.recorded(read.doc_tokens), tokenizer.cls_token,
                    tokenizer.sep_token))
        histogram = dict(sorted(Counter(features.windows_per_question.tolist()).items()))
        counts = {
            "paragraphs": len(read.paragraphs),
            "examples": len(questions),
            "features": len(order),
            "skipped_answers": len(read.skipped),
            **_chinese_counts(read),
            "truncated_questions": features.truncated_questions,
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
        num_examples=len(questions),
        num_features=len(order),
        truncated_questions=features.truncated_questions,
        skipped=read.skipped,
        windows_histogram=histogram,
        files=[Path(name) for name in manifest["files"]],
        repaired=read.repaired,
        doc_tokens=read.doc_tokens,
        tokenizer=spec,
    )


def _scorer(options: SquadPrepOptions, read: SquadReadResult) -> str:
    """SQuAD v2.0's scorer with --version-2-with-negative; Chinese files split into
    character doc tokens (CMRC 2018, DRCD) get the CMRC 2018 metric, as CLUE scores both."""
    if options.version_2_with_negative:
        return "squad2"
    return "squad" if read.doc_tokens == WHITESPACE else "cmrc"


def _manifest_options(options: SquadPrepOptions, read: SquadReadResult) -> dict[str, Any]:
    return {k: v for k, v in options.recorded(read.doc_tokens).items() if k != "split"}


def _chinese_counts(read: SquadReadResult) -> dict[str, Any]:
    # Counts that only character doc tokens have; Google-mode manifests keep their keys.
    if read.doc_tokens == WHITESPACE:
        return {}
    return {"doc_tokens": read.doc_tokens, "repaired_answers": len(read.repaired)}


def _chinese_extra(read: SquadReadResult) -> dict[str, Any]:
    if read.doc_tokens == WHITESPACE:
        return {}
    return {"repaired_answers": [asdict(item) for item in read.repaired]}
