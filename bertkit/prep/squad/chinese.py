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


@lru_cache(maxsize=1)
def _cjk_pattern() -> re.Pattern[str]:
    ranges = "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES)
    return re.compile(f"[{ranges}]")


def cjk_share(contexts: Iterable[str]) -> float:
    """Share of CJK characters among the non-whitespace characters of ``contexts``."""
    cjk = total = 0
    pattern = _cjk_pattern()
    for context in contexts:
        total += len(context) - len(_SPACE.findall(context))
        cjk += len(pattern.findall(context))
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
