"""The skeleton every converter (SQuAD, GLUE, TNEWS, CLUENER, ChineseNER) plugs into.

A converter declares two things: how to read its input into examples, and how to encode
a chunk of examples into record columns plus sidecar rows (a top-level function, so worker
processes can run it). The skeleton owns the rest, once for all of them:

- `Tokenizer`, the one typed interface a converter sees (WordPiece and SentencePiece both
  provide it), and `tokenizer_for(TokenizerSpec)`, the one per-process cache: the parent
  loads the tokenizer before the pool forks, so workers inherit it instead of re-reading
  the vocab, and a worker started some other way loads it once;
- `ordered_map`, the one parallel map: results come back in input order (so ``--workers``
  never changes the output bytes) as they become ready (so a progress bar can follow);
  workers ignore Ctrl-C and the parent, which alone handles it, cancels what is queued
  and cleans up (`staging.staged_output` removes the staged files);
- `resolve_workers` (0 = every core), applied by the library converters, never by the
  commands;
- publishing: every converter writes through `staging.staged_output` (lock, staging
  folder, manifest last) and records its inputs with `outputs.describe_input`;
- `PrepResult`, what every converter returns to `bertkit prep`: the manifest and its
  summary (and preview) for people.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bertkit.prep.outputs import resolve_workers
from bertkit.prep.result import PrepResult

__all__ = ["PrepResult", "Tokenizer", "TokenizerSpec", "ignore_ctrl_c", "ordered_map",
           "resolve_workers", "tokenizer_for"]

T = TypeVar("T")
R = TypeVar("R")


class Tokenizer(Protocol):
    """What converters use of a tokenizer (`bertkit.tokenization.load_tokenizer`'s objects)."""

    kind: str
    do_lower_case: bool
    vocab: Mapping[str, int]
    cls_token: str
    sep_token: str
    cls_id: int
    sep_id: int
    pad_id: int
    unk_id: int
    unk_token: str

    def tokenize(self, text: str) -> list[str]: ...

    def tokenize_exact(self, text: str) -> list[str]:
        """The plain rules, without whole-text fast paths (cheapest for one character)."""
        ...

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]: ...

    def ids_many(self, texts: Sequence[str]) -> Sequence[Sequence[int]]: ...

    def convert_tokens_to_ids(self, tokens: Iterable[str]) -> list[int]: ...

    def convert_ids_to_tokens(self, ids: Iterable[int]) -> list[str]: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TokenizerSpec:
    """What a process needs to (re)build the tokenizer; tokenizers do not pickle cheaply,
    a spec does."""

    vocab: str | Path | None
    spm_model: str | Path | None
    do_lower_case: bool

    def __post_init__(self) -> None:
        # One cache key per file, whether the path came as a str or a Path.
        object.__setattr__(self, "vocab", _as_str(self.vocab))
        object.__setattr__(self, "spm_model", _as_str(self.spm_model))

    def load(self) -> Tokenizer:
        from bertkit.tokenization import load_tokenizer

        tokenizer: Tokenizer = load_tokenizer(vocab=self.vocab, spm_model=self.spm_model,
                                              do_lower_case=self.do_lower_case)
        return tokenizer


def _as_str(path: str | Path | None) -> str | None:
    return None if path is None else str(path)


# The one per-process tokenizer cache. A few entries: a process converts with one or two
# tokenizers (tests with more), and each holds a vocab.
_CACHE_SIZE = 4
_TOKENIZERS: dict[TokenizerSpec, Tokenizer] = {}


def tokenizer_for(spec: TokenizerSpec) -> Tokenizer:
    """The process's tokenizer for ``spec``, loaded on first use (the vocab is read once
    per process, not once per chunk). Tokenization is a pure function of the spec and
    the text, so sharing one object changes no output."""
    tokenizer = _TOKENIZERS.pop(spec, None)
    if tokenizer is None:
        tokenizer = spec.load()
    _TOKENIZERS[spec] = tokenizer  # most recently used last
    while len(_TOKENIZERS) > _CACHE_SIZE:
        del _TOKENIZERS[next(iter(_TOKENIZERS))]
    return tokenizer


def ignore_ctrl_c() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it publishes nothing until
    every chunk is back); workers must not each print a KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ordered_map(function: Callable[[T], R], jobs: Sequence[T], workers: int) -> Iterator[R]:
    """``map(function, jobs)`` over up to ``workers`` processes, results in job order, each
    yielded as soon as it and those before it are ready.

    ``function`` and the jobs must pickle (a top-level function; plain data). With one
    worker or one job everything runs here, in this process. On an error or Ctrl-C in the
    parent, queued jobs are cancelled and the pool is shut down before it propagates.
    """
    if workers <= 1 or len(jobs) <= 1:
        yield from map(function, jobs)
        return
    # Imported here: multiprocessing is tens of milliseconds of every one-worker start.
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), initializer=ignore_ctrl_c)
    try:
        yield from pool.map(function, jobs)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
