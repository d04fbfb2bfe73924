"""Sliding windows over a tokenized paragraph, and the answer span inside them.

These are the rules of Google's `convert_examples_to_features` (reference-formats A.3),
computed with numpy over whole paragraphs instead of per piece:
- windows ("doc spans") start at 0, hold at most ``max_tokens_for_doc`` pieces and
  advance by ``min(length, doc_stride)`` until one reaches the end;
- a piece is "max context" in the window where min(left, right context) + 0.01 * window
  length is largest, the earliest window winning ties;
- the answer's piece span is narrowed to the first sub-span whose pieces equal the
  tokenized answer text.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=4096)
def doc_spans(
    num_pieces: int, max_tokens_for_doc: int, doc_stride: int
) -> tuple[tuple[int, int], ...]:
    """(start, length) of every window; none for an empty paragraph, as in Google's loop."""
    spans = []
    start = 0
    while start < num_pieces:
        length = min(num_pieces - start, max_tokens_for_doc)
        spans.append((start, length))
        if start + length == num_pieces:
            break
        start += min(length, doc_stride)
    return tuple(spans)


@lru_cache(maxsize=4096)
def max_context_owner(num_pieces: int, max_tokens_for_doc: int, doc_stride: int) -> np.ndarray:
    """For every piece, the index of the window where it has the most context."""
    spans = doc_spans(num_pieces, max_tokens_for_doc, doc_stride)
    if not spans:
        return np.zeros(0, dtype=np.int64)
    starts = np.array([start for start, _ in spans], dtype=np.int64)[:, None]
    lengths = np.array([length for _, length in spans], dtype=np.int64)[:, None]
    ends = starts + lengths - 1
    position = np.arange(num_pieces, dtype=np.int64)[None, :]
    # Same float arithmetic as Google's scalar expression (int min + float), so ties and
    # near-ties resolve identically; argmax returns the first maximum = earliest window.
    score = np.minimum(position - starts, ends - position) + 0.01 * lengths
    score = np.where((position >= starts) & (position <= ends), score, -np.inf)
    owner = score.argmax(axis=0)
    owner.setflags(write=False)  # cached and shared between callers
    return owner


def max_context_flags(
    num_pieces: int, max_tokens_for_doc: int, doc_stride: int
) -> tuple[str, ...]:
    """Per window, "1"/"0" for each of its pieces: whether the piece has its most context
    there (`max_context_owner`).

    Each window owns one run of pieces (the owner never decreases along the paragraph), so
    the runs' bounds are found with a few scalar comparisons instead of numpy over every
    (window, piece) pair; this costs little per paragraph, and a Chinese file has a
    different (length, query length) pair for nearly every question."""
    spans = doc_spans(num_pieces, max_tokens_for_doc, doc_stride)
    bounds = _owned_runs(num_pieces, max_tokens_for_doc, spans)
    if bounds is None:
        owner = max_context_owner(num_pieces, max_tokens_for_doc, doc_stride)
        return tuple(
            ((owner[start : start + length] == index).view(np.uint8) + ord("0"))
            .tobytes().decode("ascii")
            for index, (start, length) in enumerate(spans)
        )
    flags = []
    for (start, length), first, end in zip(spans, bounds, bounds[1:]):
        # A run is inside its window; an empty one may lie elsewhere: put it inside.
        first = min(max(first, start), start + length)
        end = min(max(end, first), start + length)
        flags.append("0" * (first - start) + "1" * (end - first) + "0" * (start + length - end))
    return tuple(flags)


def _owned_runs(
    num_pieces: int, max_tokens: int, spans: tuple[tuple[int, int], ...]
) -> list[int] | None:
    """Window k owns pieces ``[bounds[k], bounds[k + 1])``: the bounds, or None where float
    rounding could decide a tie (see below).

    All windows but the last are full (``max_tokens`` pieces) and advance by the same step,
    so among them a piece's owner is the one whose centre is nearest (the earliest on a
    tie): their scores differ by whole numbers. Against the last, shorter window the
    0.01 * length terms differ; the last window beats each other window from some piece on
    (the score difference never decreases along the paragraph), so its run is a suffix,
    found by bisection with Google's own float expression. When the two lengths differ by
    a multiple of 100 the true scores can tie exactly and the float sums decide; those
    few layouts are left to `max_context_owner`."""
    if len(spans) <= 1:
        return [0, num_pieces][-len(spans) - 1 :]
    last_start, last_length = spans[-1]
    if last_length != max_tokens and (max_tokens - last_length) % 100 == 0:
        return None
    step = spans[1][0] - spans[0][0]
    # Full window j gives way to j + 1 past the midpoint of their centres.
    firsts = [0] + [max(start + step, start + (max_tokens - 1 + step) // 2 + 1)
                    for start, _ in spans[:-2]]
    low, high = last_start, min(num_pieces, spans[-2][0] + max_tokens)
    while low < high:  # the first piece the last window wins (past the full ones: all)
        middle = (low + high) // 2
        start = spans[bisect.bisect_right(firsts, middle) - 1][0]
        last_score = min(middle - last_start, num_pieces - 1 - middle) + 0.01 * last_length
        if last_score > min(middle - start, start + max_tokens - 1 - middle) + 0.01 * max_tokens:
            high = middle
        else:
            low = middle + 1
    return [min(first, low) for first in firsts] + [low, num_pieces]


def improve_answer_span(
    pieces: Sequence[str], start: int, end: int, answer_pieces: Sequence[str]
) -> tuple[int, int]:
    """The first sub-span of ``pieces[start..end]`` equal to ``answer_pieces``, else the input.

    Works on piece strings or on their ids (equal ids <=> equal pieces).

    Google compares space-joined strings; pieces never contain spaces, so comparing piece
    lists is the same test, and for a given start only one end can match.
    """
    width = len(answer_pieces)
    if width == 0:
        return start, end
    target = list(answer_pieces)
    for new_start in range(start, end - width + 2):
        if list(pieces[new_start : new_start + width]) == target:
            return new_start, new_start + width - 1
    return start, end
