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
