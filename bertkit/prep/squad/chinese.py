"""Chinese SQuAD-style files (CMRC 2018, DRCD): character doc tokens and answer repair.

Google's reader splits a context into doc tokens on whitespace only, so a Chinese
paragraph (no spaces) is one doc token; answers then land on the first occurrence of
their text and post-processing can only return the whole paragraph when its character
alignment fails (reference-formats I). The CMRC 2018 baseline instead makes every CJK
character, punctuation mark and control character its own doc token and keeps other runs
(Latin words, numbers) whole, splitting on whitespace as before. Every doc token is then a
substring of the context at a known offset, so an answer maps to the doc tokens at its
annotated position and a predicted span maps back to an exact substring.

The choice between the two is ``DOC_TOKENS``: ``whitespace`` (Google's, byte-identical
records), ``cjk-chars`` (the baseline's) or ``auto``, which picks ``cjk-chars`` only when
most of the file's context characters are CJK, so an English file whose contexts contain a
few Chinese names keeps Google's tokens.

Answer repair (CMRC dev has 193 answers with ``answer_start: -1`` and 7 off by one or two
characters): an answer whose text is not at its ``answer_start`` moves to the occurrence of
its text nearest to that start, or to the only occurrence when no start is given; with no
occurrence, or several and no start to choose by, it cannot be repaired.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bertkit.gcutil import gc_paused
from bertkit.tokenization.fast_basic import ASCII_PUNCTUATION_RANGES, char_class
from bertkit.tokenization.reference import CJK_RANGES, is_cjk

WHITESPACE = "whitespace"
CJK_CHARS = "cjk-chars"
AUTO = "auto"
DOC_TOKENS = (AUTO, WHITESPACE, CJK_CHARS)

# ``auto`` switches to character tokens when at least this share of the non-space context
# characters are CJK. English SQuAD has well under 1%; CMRC and DRCD well over 80%.
AUTO_CJK_SHARE = 0.3

_RUN, _SINGLE, _SEPARATOR = 0, 1, 2
_SPACE = re.compile(r"\s")


@lru_cache(maxsize=1 << 17)
def _char_kind(char: str) -> int:
    """How the CMRC baseline's tokenizer treats a character: part of a run, a token of its
    own, or a separator (it pads singles with spaces and then splits on Python whitespace,
    so any character Python counts as whitespace separates and is dropped)."""
    if char.isspace():
        return _SEPARATOR
    code_point = ord(char)
    if is_cjk(code_point):
        return _SINGLE
    if (33 <= code_point <= 47 or 58 <= code_point <= 64 or 91 <= code_point <= 96
            or 123 <= code_point <= 126):
        return _SINGLE  # BERT counts every non-alphanumeric ASCII printable as punctuation
    category = unicodedata.category(char)
    if category.startswith("P") or category in ("Cc", "Cf"):
        return _SINGLE
    return _RUN


@lru_cache(maxsize=1)
def _bmp_token_pattern() -> re.Pattern[str]:
    """One single-token character, or a maximal run of characters that are neither that
    nor whitespace (``\\s`` is Python's whitespace, which the baseline's split uses);
    built over the BMP, so only for text without astral characters."""
    categories = map(unicodedata.category, map(chr, range(0x10000)))
    singles = {cp for cp, category in enumerate(categories)
               if category[0] == "P" or category in ("Cc", "Cf")}
    singles.update(cp for low, high in ASCII_PUNCTUATION_RANGES for cp in range(low, high + 1))
    singles.update(cp for low, high in CJK_RANGES for cp in range(low, min(high, 0xFFFF) + 1))
    single = char_class(cp for cp in singles if not chr(cp).isspace())
    return re.compile(f"{single}|(?:(?!{single})\\S)+")


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def cjk_doc_tokens(context: str) -> tuple[list[str], list[int]]:
    """The CMRC baseline's doc tokens of ``context`` and the offset where each starts.

    Each token is ``context[start : start + len(token)]``."""
    if not _ASTRAL.search(context):
        pattern = _bmp_token_pattern()
        tokens = pattern.findall(context)
        if not _SPACE.search(context):
            # Tokens are back to back (Chinese text mostly has no spaces): offsets are the
            # running sum of their lengths, computed in C.
            return tokens, list(itertools.accumulate(map(len, tokens), initial=0))[:-1]
        return tokens, [match.start() for match in pattern.finditer(context)]
    return _cjk_doc_tokens_by_char(context)


@lru_cache(maxsize=1)
def _bmp_tables() -> tuple[np.ndarray, np.ndarray]:
    """(`_char_kind`, is CJK) of every BMP code point, for classifying text with numpy."""
    kinds = np.full(0x10000, _RUN, dtype=np.uint8)
    categories = list(map(unicodedata.category, map(chr, range(0x10000))))
    singles = [cp for cp, category in enumerate(categories)
               if category[0] == "P" or category in ("Cc", "Cf")]
    kinds[singles] = _SINGLE
    cjk = np.zeros(0x10000, dtype=bool)
    for low, high in ASCII_PUNCTUATION_RANGES:
        kinds[low : high + 1] = _SINGLE
    for low, high in CJK_RANGES:
        if low <= 0xFFFF:
            kinds[low : min(high, 0xFFFF) + 1] = _SINGLE
            cjk[low : min(high, 0xFFFF) + 1] = True
    spaces = [cp for cp, char in enumerate(map(chr, range(0x10000))) if char.isspace()]
    kinds[spaces] = _SEPARATOR
    return kinds, cjk


def _code_points(text: str) -> np.ndarray:
    # surrogatepass: a lone surrogate (rejected later, with its place, if a question uses
    # the context) is a character like any other here, as it is to the regex.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _kinds(code_points: np.ndarray) -> np.ndarray:
    kinds = _bmp_tables()[0][np.minimum(code_points, 0xFFFF)]
    astral = np.flatnonzero(code_points > 0xFFFF)
    if astral.size:  # rare: classified one by one
        kinds[astral] = [_char_kind(chr(cp)) for cp in code_points[astral].tolist()]
    return kinds


# Keys of doc tokens (`CjkDocTokens.keys`): a single-character token's key is its code
# point; a run's key is RUN_KEY_BASE plus the run's index in `CjkDocTokens.runs`.
RUN_KEY_BASE = 0x110000


@dataclass(frozen=True, eq=False)
class CjkDocTokens:
    """One context's character doc tokens as arrays: no Python string or int per token
    (a Chinese context has one token per character), yet each token is known by its key,
    so equal tokens of all contexts share a key. ``runs`` is shared by the contexts
    tokenized together."""

    keys: np.ndarray  # int64 per doc token
    starts: np.ndarray  # int64 per doc token: where it starts in the context
    runs: list[str]  # the distinct multi-character (or Latin) runs, by key - RUN_KEY_BASE

    def tokens(self) -> list[str]:
        runs = self.runs
        return [chr(key) if key < RUN_KEY_BASE else runs[key - RUN_KEY_BASE]
                for key in self.keys.tolist()]


def cjk_doc_tokens_many(contexts: list[str]) -> list[tuple[list[str], list[int]]]:
    """`cjk_doc_tokens` of every context (made from `cjk_doc_token_arrays`)."""
    return [(made.tokens(), made.starts.tolist()) for made in cjk_doc_token_arrays(contexts)]


def cjk_doc_token_arrays(contexts: list[str]) -> list[CjkDocTokens]:
    """The doc tokens of every context, computed for all of them at once with numpy: the
    regex and per-token strings and offsets cost some 170 ns per character, and Chinese
    contexts have one doc token per character."""
    runs: list[str] = []
    if not contexts:
        return []
    # Contexts joined with a separator between them, so no token spans two.
    text = "\n".join(contexts)
    code_points = _code_points(text)
    kinds = _kinds(code_points)
    single = kinds == _SINGLE
    run = kinds == _RUN
    run_starts = run.copy()
    run_starts[1:] &= ~run[:-1]
    run_ends = run.copy()
    run_ends[:-1] &= ~run[1:]
    token_starts = np.flatnonzero(single | run_starts)
    keys = code_points[token_starts].astype(np.int64)
    if run_starts.any():
        with gc_paused():  # a string per run, no cycles
            index: dict[str, int] = {}
            found = [
                index.setdefault(text[start:end], len(index))
                for start, end in zip(np.flatnonzero(run_starts).tolist(),
                                      (np.flatnonzero(run_ends) + 1).tolist())
            ]
        runs = list(index)
        keys[~single[token_starts]] = RUN_KEY_BASE + np.asarray(found, dtype=np.int64)
    offsets = np.cumsum([0, *(len(context) + 1 for context in contexts)])
    bounds = np.searchsorted(token_starts, offsets).tolist()
    starts = token_starts - np.repeat(offsets[:-1], np.diff(bounds))
    return [
        CjkDocTokens(keys[first:last], starts[first:last], runs)
        for first, last in itertools.pairwise(bounds)
    ]


def _cjk_doc_tokens_by_char(context: str) -> tuple[list[str], list[int]]:
    tokens: list[str] = []
    starts: list[int] = []
    run_start = -1
    kind_of = _char_kind
    for index, char in enumerate(context):
        kind = kind_of(char)
        if kind == _RUN:
            if run_start < 0:
                run_start = index
            continue
        if run_start >= 0:
            tokens.append(context[run_start:index])
            starts.append(run_start)
            run_start = -1
        if kind == _SINGLE:
            tokens.append(char)
            starts.append(index)
    if run_start >= 0:
        tokens.append(context[run_start:])
        starts.append(run_start)
    return tokens, starts


def cjk_share(contexts: Iterable[str]) -> float:
    """Share of CJK characters among the non-whitespace characters of ``contexts``."""
    code_points = _code_points("".join(contexts))
    kinds, cjk_table = _bmp_tables()
    bmp = np.minimum(code_points, 0xFFFF)
    astral = code_points[code_points > 0xFFFF].tolist()  # never whitespace
    total = int(np.count_nonzero(kinds[bmp] != _SEPARATOR))
    cjk = int(np.count_nonzero(cjk_table[bmp])) + sum(map(is_cjk, astral))
    return cjk / total if total else 0.0


def resolve_doc_tokens(choice: str, contexts: Iterable[str]) -> str:
    """``whitespace`` or ``cjk-chars`` for ``choice`` (``auto`` decides from the text)."""
    if choice != AUTO:
        return choice
    return CJK_CHARS if cjk_share(contexts) >= AUTO_CJK_SHARE else WHITESPACE


@dataclass(frozen=True)
class AnswerPlacement:
    """Where an answer's text really is: ``start`` (or -1) and what was done about it."""

    start: int
    status: str  # "aligned", "repaired" or "unrepairable"
    reason: str = ""


def place_answer(context: str, text: str, start: int) -> AnswerPlacement:
    """Check ``text`` at ``start`` in ``context``; repair it from the text if needed."""
    if not text:
        return AnswerPlacement(-1, "unrepairable", "the answer text is empty")
    if 0 <= start and context.startswith(text, start):
        return AnswerPlacement(start, "aligned")
    occurrences = []
    found = context.find(text)
    while found >= 0:
        occurrences.append(found)
        found = context.find(text, found + 1)
    if not occurrences:
        return AnswerPlacement(-1, "unrepairable", "the answer text is not in the context")
    if start < 0:
        if len(occurrences) == 1:
            return AnswerPlacement(occurrences[0], "repaired", f"answer_start {start}")
        return AnswerPlacement(
            -1, "unrepairable",
            f"answer_start {start} and the text occurs {len(occurrences)} times",
        )
    nearest = min(occurrences, key=lambda offset: (abs(offset - start), offset))
    return AnswerPlacement(nearest, "repaired", f"answer_start {start} -> {nearest}")
