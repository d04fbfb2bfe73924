"""Turning read SQuAD paragraphs into feature rows: ids, windows and answer positions.

Speed comes from doing Google's work once instead of per question (reference-formats
A.3): every distinct doc token is tokenized once (Google tokenizes the whole paragraph
again for every question: 250k doc-token tokenizations instead of 41k on the SQuAD train
subset), all texts go through the tokenizer's batch path (possibly in worker processes,
see `texts_to_tokenize`), the pieces of all paragraphs are gathered with numpy, and
window/max-context layouts are cached per (paragraph length, query length).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bertkit.prep.squad.reader import SquadParagraph
from bertkit.prep.squad.windows import doc_spans, improve_answer_span, max_context_owner

if TYPE_CHECKING:
    from bertkit.prep.pipeline import Tokenizer


@dataclass(frozen=True)
class WindowOptions:
    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    is_training: bool = False
    keep_eval_details: bool = False  # tokens and max-context flags for the eval sidecar


@dataclass
class ChunkFeatures:
    """Everything encoding produced, in file order; arrays are per window (= per feature)
    unless noted."""

    input_ids: np.ndarray  # [F, max_seq_length] int32, zero padded
    num_tokens: np.ndarray  # [F] real tokens ([CLS] query [SEP] span [SEP])
    query_length: np.ndarray  # [F] query pieces after truncation
    span_start: np.ndarray  # [F] first paragraph piece of the window
    span_length: np.ndarray  # [F]
    doc_span_index: np.ndarray  # [F]
    start_positions: np.ndarray  # [F] (training only; zeros otherwise)
    end_positions: np.ndarray  # [F]
    is_impossible: np.ndarray  # [F]
    windows_per_question: np.ndarray  # [Q]
    truncated_questions: int
    # Eval sidecar material (empty unless keep_eval_details):
    paragraph_pieces: list[list[str]] = field(default_factory=list)  # per paragraph
    paragraph_piece_to_word: list[list[int]] = field(default_factory=list)  # per paragraph
    query_pieces: list[list[str]] = field(default_factory=list)  # per question
    max_context: list[str] = field(default_factory=list)  # per window: "0"/"1" per span piece


class PieceCache:
    """Doc token -> its word pieces and ids, kept as flat arrays for vectorised gathers.

    Doc tokens are whitespace-free strings and tokenization is a pure function, so a
    token's pieces never change; Google recomputes them for every question. Tokens come
    already tokenized (by worker processes) or are tokenized here in one batch.
    """

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.index: dict[str, int] = {}  # doc token -> row
        self._pieces: list[str] = []
        self._ids: list[int] = []
        self._counts: list[int] = []
        self.piece_ids = np.zeros(0, dtype=np.int32)  # flat, rows back to back
        self.pieces = np.zeros(0, dtype=object)
        self.first = np.zeros(0, dtype=np.int64)  # row -> offset of its first piece
        self.counts = np.zeros(0, dtype=np.int64)  # row -> number of pieces

    def add(self, words: list[str], word_pieces: list[list[str]] | None = None) -> None:
        """Add doc tokens; ``word_pieces`` (their tokenization, if already done elsewhere,
        e.g. in worker processes) saves tokenizing them here."""
        if word_pieces is None:
            words = [word for word in dict.fromkeys(words) if word not in self.index]
            word_pieces = self.tokenizer.tokenize_many(words) if words else []
        first_new = len(self._pieces)
        for word, pieces in zip(words, word_pieces):
            if word in self.index:
                continue
            self.index[word] = len(self._counts)
            self._counts.append(len(pieces))
            self._pieces.extend(pieces)
        self._ids.extend(self.tokenizer.convert_tokens_to_ids(self._pieces[first_new:]))
        self.piece_ids = np.asarray(self._ids, dtype=np.int32)
        self.pieces = np.empty(len(self._pieces), dtype=object)
        self.pieces[:] = self._pieces
        self.counts = np.asarray(self._counts, dtype=np.int64)
        self.first = np.cumsum(self.counts) - self.counts


@dataclass
class _ChunkPieces:
    """Every paragraph of a chunk, tokenized, back to back; paragraph k is
    ``[piece_bounds[k], piece_bounds[k + 1])`` (pieces) and likewise for words."""

    piece_ids: np.ndarray  # [P]
    piece_rows: np.ndarray  # [P] positions in the cache's flat arrays (for the strings)
    piece_to_word: np.ndarray  # [P] doc-token index within its paragraph
    word_to_first_piece: np.ndarray  # [W] piece index within its paragraph
    piece_bounds: np.ndarray
    word_bounds: np.ndarray


def _chunk_pieces(paragraphs: list[SquadParagraph], cache: PieceCache) -> _ChunkPieces:
    """Google's per-paragraph `all_doc_tokens` / `tok_to_orig_index` / `orig_to_tok_index`,
    for all paragraphs at once with numpy gathers."""
    index = cache.index
    # map/chain keep the per-token loop in C (Chinese paragraphs have one token per char).
    all_words = itertools.chain.from_iterable(p.doc_tokens for p in paragraphs)
    rows = np.fromiter(map(index.__getitem__, all_words), dtype=np.int64)
    words_per_paragraph = np.fromiter(
        (len(p.doc_tokens) for p in paragraphs), dtype=np.int64, count=len(paragraphs)
    )
    word_bounds = np.concatenate([[0], np.cumsum(words_per_paragraph)])
    paragraph_of_word = np.repeat(np.arange(len(paragraphs)), words_per_paragraph)
    counts = cache.counts[rows]
    total = int(counts.sum())
    first_piece_of_word = np.cumsum(counts) - counts  # chunk-wide
    piece_rows = np.repeat(cache.first[rows] - first_piece_of_word, counts) + np.arange(
        total, dtype=np.int64
    )
    pieces_per_paragraph = np.bincount(
        paragraph_of_word, weights=counts, minlength=len(paragraphs)
    ).astype(np.int64)
    piece_bounds = np.concatenate([[0], np.cumsum(pieces_per_paragraph)])
    word_in_paragraph = np.arange(len(rows)) - word_bounds[paragraph_of_word]
    return _ChunkPieces(
        piece_ids=cache.piece_ids[piece_rows],
        piece_rows=piece_rows,
        piece_to_word=np.repeat(word_in_paragraph, counts),
        word_to_first_piece=first_piece_of_word - piece_bounds[paragraph_of_word],
        piece_bounds=piece_bounds,
        word_bounds=word_bounds,
    )


@dataclass
class TokenizedTexts:
    """Every text a chunk needs tokenized (see `texts_to_tokenize`) and its pieces."""

    words: list[str]  # distinct doc tokens
    word_pieces: list[list[str]]
    query_pieces: list[list[str]]  # per question, in file order
    answer_pieces: list[list[str]]  # per answerable training question


def texts_to_tokenize(
    paragraphs: list[SquadParagraph], options: WindowOptions
) -> tuple[list[str], list[str], list[str]]:
    """(distinct doc tokens, questions, training answers): all the tokenizer calls a chunk
    needs, so they can be spread over processes as one flat list."""
    words = list(dict.fromkeys(itertools.chain.from_iterable(p.doc_tokens for p in paragraphs)))
    questions = [question for paragraph in paragraphs for question in paragraph.questions]
    answers = (
        [q.answer_text for q in questions if not q.is_impossible] if options.is_training else []
    )
    return words, [q.question_text for q in questions], answers


def tokenize_texts(
    paragraphs: list[SquadParagraph], tokenizer: Tokenizer, options: WindowOptions
) -> TokenizedTexts:
    words, questions, answers = texts_to_tokenize(paragraphs, options)
    return TokenizedTexts(
        words,
        tokenizer.tokenize_many(words),
        tokenizer.tokenize_many(questions),
        tokenizer.tokenize_many(answers),
    )


def encode_paragraphs(
    paragraphs: list[SquadParagraph],
    tokenizer: Tokenizer,
    options: WindowOptions,
    tokenized: TokenizedTexts | None = None,
) -> ChunkFeatures:
    """Feature rows for ``paragraphs``; ``tokenized`` if the texts were tokenized elsewhere."""
    tokenized = tokenized or tokenize_texts(paragraphs, tokenizer, options)
    cache = PieceCache(tokenizer)
    cache.add(tokenized.words, tokenized.word_pieces)
    query_pieces = tokenized.query_pieces
    query_ids = _convert_many(tokenizer, query_pieces)
    answer_ids = _convert_many(tokenizer, tokenized.answer_pieces)
    chunk = _chunk_pieces(paragraphs, cache)
    builder = _RowBuilder(tokenizer, options)
    question_index = 0
    answer_index = 0
    for number, paragraph in enumerate(paragraphs):
        first, last = chunk.piece_bounds[number], chunk.piece_bounds[number + 1]
        piece_ids = chunk.piece_ids[first:last]
        if options.keep_eval_details:
            builder.out.paragraph_pieces.append(cache.pieces[chunk.piece_rows[first:last]].tolist())
            builder.out.paragraph_piece_to_word.append(chunk.piece_to_word[first:last].tolist())
        id_list: list[int] | None = None
        word_to_first_piece: list[int] = []
        for question in paragraph.questions:
            answer_span = None
            if options.is_training and not question.is_impossible:
                if id_list is None:
                    id_list = piece_ids.tolist()
                    word_to_first_piece = chunk.word_to_first_piece[
                        chunk.word_bounds[number] : chunk.word_bounds[number + 1]
                    ].tolist()
                answer_span = _answer_piece_span(
                    question.start_word,
                    question.end_word,
                    len(paragraph.doc_tokens),
                    id_list,
                    word_to_first_piece,
                    answer_ids[answer_index],
                )
                answer_index += 1
            builder.add_question(
                query_pieces[question_index],
                query_ids[question_index],
                piece_ids,
                answer_span,
                question.is_impossible,
            )
            question_index += 1
    return builder.finish()


def _convert_many(tokenizer: Tokenizer, token_lists: list[list[str]]) -> list[list[int]]:
    """`convert_tokens_to_ids` of many lists through one call."""
    flat = tokenizer.convert_tokens_to_ids([token for tokens in token_lists for token in tokens])
    out = []
    position = 0
    for tokens in token_lists:
        out.append(flat[position : position + len(tokens)])
        position += len(tokens)
    return out


def _answer_piece_span(
    start_word: int,
    end_word: int,
    num_words: int,
    piece_ids: list[int],
    word_to_first_piece: list[int],
    answer_ids: list[int],
) -> tuple[int, int]:
    """Answer words -> piece span, then narrowed to the tokenized answer (Google's rules).

    Pieces are compared by id: distinct vocab strings have distinct ids."""
    start = word_to_first_piece[start_word]
    if end_word < num_words - 1:
        end = word_to_first_piece[end_word + 1] - 1
    else:
        end = len(piece_ids) - 1
    return improve_answer_span(piece_ids, start, end, answer_ids)


class _RowBuilder:
    """Accumulates feature rows for one chunk."""

    def __init__(self, tokenizer: Tokenizer, options: WindowOptions):
        self.options = options
        self.cls_id = tokenizer.cls_id
        self.sep_id = tokenizer.sep_id
        self.rows: list[np.ndarray] = []
        self.columns: dict[str, list[int]] = {
            name: []
            for name in (
                "num_tokens",
                "query_length",
                "span_start",
                "span_length",
                "doc_span_index",
                "start_positions",
                "end_positions",
                "is_impossible",
            )
        }
        self.windows_per_question: list[int] = []
        self.truncated = 0
        self.out = ChunkFeatures(*(np.zeros(0),) * 10, truncated_questions=0)

    def add_question(
        self,
        query: list[str],
        query_ids: list[int],
        piece_ids: np.ndarray,
        answer_span: tuple[int, int] | None,
        is_impossible: bool,
    ) -> None:
        options = self.options
        if len(query) > options.max_query_length:
            query = query[: options.max_query_length]
            query_ids = query_ids[: options.max_query_length]
            self.truncated += 1
        if options.keep_eval_details:
            self.out.query_pieces.append(query)
        query_length = len(query)
        max_tokens_for_doc = options.max_seq_length - query_length - 3
        num_pieces = len(piece_ids)
        spans = doc_spans(num_pieces, max_tokens_for_doc, options.doc_stride)
        self.windows_per_question.append(len(spans))
        owner = (
            max_context_owner(num_pieces, max_tokens_for_doc, options.doc_stride)
            if options.keep_eval_details
            else None
        )
        offset = query_length + 2  # [CLS] query [SEP]
        columns = self.columns
        for span_index, (start, length) in enumerate(spans):
            row = np.zeros(options.max_seq_length, dtype=np.int32)
            row[0] = self.cls_id
            row[1 : offset - 1] = query_ids
            row[offset - 1] = self.sep_id
            row[offset : offset + length] = piece_ids[start : start + length]
            row[offset + length] = self.sep_id
            self.rows.append(row)
            columns["num_tokens"].append(offset + length + 1)
            columns["query_length"].append(query_length)
            columns["span_start"].append(start)
            columns["span_length"].append(length)
            columns["doc_span_index"].append(span_index)
            start_position = end_position = 0
            if answer_span is not None:
                answer_start, answer_end = answer_span
                # An answer not wholly inside this window points at [CLS] (0, 0); the
                # window is kept, as in Google's converter.
                if answer_start >= start and answer_end <= start + length - 1:
                    start_position = answer_start - start + offset
                    end_position = answer_end - start + offset
            columns["start_positions"].append(start_position)
            columns["end_positions"].append(end_position)
            columns["is_impossible"].append(int(is_impossible))
            if owner is not None:
                flags = (owner[start : start + length] == span_index).astype(np.uint8) + ord("0")
                self.out.max_context.append(flags.tobytes().decode("ascii"))

    def finish(self) -> ChunkFeatures:
        length = self.options.max_seq_length
        out = self.out
        out.input_ids = np.stack(self.rows) if self.rows else np.zeros((0, length), np.int32)
        for name, values in self.columns.items():
            setattr(out, name, np.asarray(values, dtype=np.int64))
        out.windows_per_question = np.asarray(self.windows_per_question, dtype=np.int64)
        out.truncated_questions = self.truncated
        return out
