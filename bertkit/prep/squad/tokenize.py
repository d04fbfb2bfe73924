"""Tokenizing a SQuAD file's texts in worker processes, then encoding them here.

Tokenization is the bulk of the work. Every distinct text (doc tokens, questions,
answers) goes into one flat list, cut into one disjoint slice per worker (no text is
tokenized twice); building the rows from the pieces is vectorised and stays in this
process (`encode.encode_paragraphs`).
"""

from __future__ import annotations

import itertools

from bertkit.prep.pipeline import Tokenizer, TokenizerSpec, ordered_map, tokenizer_for
from bertkit.prep.squad.encode import (
    ChunkFeatures,
    TokenizedTexts,
    WindowOptions,
    encode_paragraphs,
    texts_to_tokenize,
    tokenize_words,
)
from bertkit.prep.squad.reader import SquadParagraph


def _tokenize_slice(task: tuple[TokenizerSpec, list[str]]) -> list[list[str]]:
    spec, texts = task
    return tokenizer_for(spec).tokenize_many(texts)


def encode_in_parallel(
    paragraphs: list[SquadParagraph],
    spec: TokenizerSpec,
    window_options: WindowOptions,
    workers: int,
) -> ChunkFeatures:
    """The feature rows of ``paragraphs``, tokenized over ``workers`` processes."""
    tokenizer: Tokenizer = tokenizer_for(spec)
    if workers <= 1:
        return encode_paragraphs(paragraphs, tokenizer, window_options)
    words, questions, answers, cjk_words = texts_to_tokenize(paragraphs, window_options)
    other_pieces: list[list[list[str]]] = []

    def tokenize_in_workers(other_words: list[str]) -> list[list[str]]:
        # The doc tokens that need the full tokenizer, then every question and answer, in
        # one flat list cut into one slice per worker.
        texts = other_words + questions + answers
        bounds = [len(texts) * part // workers for part in range(workers + 1)]
        slices = [(spec, texts[begin:end]) for begin, end in itertools.pairwise(bounds)]
        # Build the tokenizer's lazy tables once here, so forked workers inherit them.
        tokenizer.tokenize_many(["Warm-up, once: déjà vu 1,000 (x)."])
        pieces = [item for part in ordered_map(_tokenize_slice, slices, workers)
                  for item in part]
        other_pieces.append(pieces[len(other_words):])
        return pieces[:len(other_words)]

    # Single CJK characters are looked up here; everything else goes to the workers.
    word_pieces = tokenize_words(tokenizer, words, tokenize_in_workers)
    rest = other_pieces[0]  # tokenize_words calls tokenize_in_workers exactly once
    tokenized = TokenizedTexts(
        words=words,
        word_pieces=word_pieces,
        query_pieces=rest[: len(questions)],
        answer_pieces=rest[len(questions) :],
        cjk_words=cjk_words,
    )
    return encode_paragraphs(paragraphs, tokenizer, window_options, tokenized)
