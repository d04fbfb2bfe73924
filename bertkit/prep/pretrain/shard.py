"""One input shard -> one record file: the unit of work for `--workers` and Dask.

`run_shard(task)` is a top-level function of plain dataclasses, so a process pool or a
Dask worker can run it. It never raises for bad input: it returns the error's one-line
message (exceptions with custom constructors do not survive pickling back).

Shard i of n reads input file i and writes `pretrain-{i:05d}-of-{n:05d}.tf_record` (with
its index and schema) under the output directory, through a hidden temporary name. Its
generator is seeded with `shard_seed(random_seed, i)`: the seed itself for shard 0, so a
one-file run is Google's run exactly; a value derived from both for the others, so every
shard is independent of the rest and of which worker runs it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertkit.errors import BertkitError, InputError
from bertkit.fsutil import sha256_of_file
from bertkit.prep.pipeline import TokenizerSpec, tokenizer_for
from bertkit.prep.pretrain.corpus import group_documents, read_shard_text
from bertkit.prep.pretrain.instances import (
    MaskingRules,
    create_instances,
    new_generator,
)
from bertkit.prep.pretrain.records import InstanceSpill, write_records
from bertkit.prep.pretrain.wwm import (
    segments_jieba,
    segments_plain,
    segments_ref,
    segments_wordpiece,
)


@dataclass(frozen=True)
class PretrainOptions:
    """Google's flags under bertkit's names, plus the input/parallelism choices."""

    vocab: str | None = None
    spm_model: str | None = None
    do_lower_case: bool = True
    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    dupe_factor: int = 10
    random_seed: int = 12345
    whole_word_mask: str = "none"  # none | wordpiece | jieba | ref:FILE
    sentence_split: str | None = None  # None | en | zh

    @property
    def ref_file(self) -> str | None:
        """The FILE of `--whole-word-mask ref:FILE` (possibly ""), else None."""
        mode = self.whole_word_mask
        return mode[4:] if mode.startswith("ref:") else None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ShardTask:
    index: int
    count: int
    input_path: str
    output_dir: str
    options: PretrainOptions


@dataclass
class ShardResult:
    index: int
    input: str
    file: str = ""
    sha256: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    exit_code: int = 0


def shard_file_name(index: int, count: int) -> str:
    return f"pretrain-{index:05d}-of-{count:05d}.tf_record"


def shard_seed(random_seed: int, index: int) -> int:
    if index == 0:
        return random_seed
    digest = hashlib.sha256(f"bertkit-pretrain/{random_seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def load_pretraining_tokenizer(options: PretrainOptions) -> Any:
    """The tokenizer, checked for what masking needs ([MASK])."""
    # The prep pipeline's per-process cache: each worker (or Dask task) reads the vocab once.
    tokenizer = tokenizer_for(TokenizerSpec(options.vocab, options.spm_model,
                                            options.do_lower_case))
    if getattr(tokenizer, "mask_id", None) is None:
        raise InputError(options.vocab or options.spm_model or "",
                         "vocab has no [MASK] token, which masked-LM pretraining needs")
    return tokenizer


def masking_rules(tokenizer: Any, options: PretrainOptions) -> MaskingRules:
    return MaskingRules(
        max_seq_length=options.max_seq_length,
        max_predictions_per_seq=options.max_predictions_per_seq,
        masked_lm_prob=options.masked_lm_prob,
        short_seq_prob=options.short_seq_prob,
        cls_id=tokenizer.cls_id,
        sep_id=tokenizer.sep_id,
        mask_id=tokenizer.mask_id,
        random_word_ids=tuple(tokenizer.vocab.values()),
        whole_word=options.whole_word_mask != "none",
    )


def run_shard(task: ShardTask) -> ShardResult:
    result = ShardResult(index=task.index, input=task.input_path)
    try:
        _run(task, result)
    except BertkitError as error:
        result.error, result.exit_code = str(error), error.exit_code
    return result


def _run(task: ShardTask, result: ShardResult) -> None:
    started = time.perf_counter()
    options = task.options
    tokenizer = load_pretraining_tokenizer(options)
    rules = masking_rules(tokenizer, options)
    path = Path(task.input_path)
    corpus = read_shard_text(path, options.sentence_split)
    fallbacks = 0
    mode = options.whole_word_mask
    if mode == "wordpiece":
        segments = segments_wordpiece(tokenizer, corpus)
    elif mode == "jieba":
        segments, fallbacks = segments_jieba(tokenizer, corpus)
    elif options.ref_file is not None:
        segments = segments_ref(tokenizer, corpus, Path(options.ref_file))
    else:
        segments = segments_plain(tokenizer, corpus)
    del corpus.texts[:]  # the ids are all that is needed from here on
    tokens, documents = group_documents(corpus, segments, (rules.cls_id, rules.sep_id))
    del segments
    if not documents:
        raise InputError(path, "no text: the corpus has no non-empty line to make "
                               "pretraining instances from")
    num_documents = len(documents)
    num_sentences = sum(len(bounds) - 1 for bounds in documents)
    output_dir = Path(task.output_dir)
    final = output_dir / shard_file_name(task.index, task.count)
    spill = InstanceSpill(output_dir / f".{final.name}.instances", options.max_seq_length,
                          options.max_predictions_per_seq, tokens.ids.dtype.type)
    try:
        rng = new_generator(shard_seed(options.random_seed, task.index))
        rng.shuffle(documents)
        create_instances(tokens, documents, rules, options.dupe_factor, rng, spill)
        spill.finish()
        del documents
        order = list(range(spill.instances))
        rng.shuffle(order)
        write_records(spill, order, final, tokens.ids, rules.cls_id, rules.sep_id)
    finally:
        spill.discard()
    result.file = final.name
    result.sha256 = sha256_of_file(final)
    result.counts = {
        "documents": num_documents,
        "sentences": num_sentences,
        "instances": spill.instances,
        "masked_positions": spill.masked_positions,
        "random_next": spill.random_next,
        "wwm_fallbacks": fallbacks,
    }
    result.seconds = time.perf_counter() - started
