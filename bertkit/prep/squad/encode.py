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
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import numpy as np

from bertkit.compact_json import ItemTexts, Raw, string_items
from bertkit.compact_json import int_items as int_item_texts
from bertkit.gcutil import gc_paused
from bertkit.prep.squad.chinese import RUN_KEY_BASE
from bertkit.prep.squad.reader import SquadParagraph
from bertkit.prep.squad.windows import doc_spans, improve_answer_span, max_context_flags

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
    paragraph_texts: ParagraphTexts | None = None  # every paragraph's pieces
    query_pieces: list[list[str]] = field(default_factory=list)  # per question
    max_context: list[str] = field(default_factory=list)  # per window: "0"/"1" per span piece

    @property
    def paragraph_pieces(self) -> list[list[str]]:
        """Per paragraph, its pieces (empty unless keep_eval_details)."""
        return self.paragraph_texts.pieces if self.paragraph_texts else []

    @property
    def paragraph_piece_to_word(self) -> list[list[int]]:
        """Per paragraph, each piece's doc token (empty unless keep_eval_details)."""
        return self.paragraph_texts.piece_to_word if self.paragraph_texts else []


# CJK unified ideographs of the BMP: Google's tokenizer makes each its own word, and
# neither lower-casing nor accent stripping (NFD) changes one, so a doc token that is one
# of them is one piece: itself if in the vocab, else [UNK]. (Compatibility ideographs,
# which NFD maps to others, are left to the tokenizer.)
_UNIFIED_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")


def tokenize_words(
    tokenizer: Tokenizer, words: list[str],
    tokenize_rest: Callable[[list[str]], list[list[str]]] | None = None,
) -> list[list[str]]:
    """The pieces of each doc token: a single CJK character by a vocab lookup (Chinese
    paragraphs have thousands of distinct ones, and the full tokenizer costs microseconds
    a word), the others by ``tokenize_rest`` (default: the tokenizer's batch path)."""
    tokenize_rest = tokenize_rest or tokenizer.tokenize_many
    if tokenizer.kind != "wordpiece":
        return tokenize_rest(words)
    vocab = tokenizer.vocab
    single = _UNIFIED_CJK.fullmatch
    rest = [word for word in words if not single(word)]
    if len(rest) == len(words):
        return tokenize_rest(words)
    rest_pieces = iter(tokenize_rest(rest))
    unknown = [tokenizer.unk_token]
    return [
        ([word] if word in vocab else unknown[:]) if single(word) else next(rest_pieces)
        for word in words
    ]


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
        self._word_texts: ItemTexts | None = None
        self._piece_texts: ItemTexts | None = None

    def word_texts(self) -> ItemTexts:
        """JSON text of every doc token, by row (each distinct token written once)."""
        if self._word_texts is None:
            self._word_texts = string_items(list(self.index))
        return self._word_texts

    def piece_texts(self) -> ItemTexts:
        """JSON text of every piece in the flat arrays."""
        if self._piece_texts is None:
            self._piece_texts = string_items(self._pieces)
        return self._piece_texts

    def add(self, words: list[str], word_pieces: list[list[str]] | None = None) -> None:
        """Add doc tokens; ``word_pieces`` (their tokenization, if already done elsewhere,
        e.g. in worker processes) saves tokenizing them here."""
        if word_pieces is None:
            words = [word for word in dict.fromkeys(words) if word not in self.index]
            word_pieces = tokenize_words(self.tokenizer, words) if words else []
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
        self._word_texts = self._piece_texts = None


@dataclass
class _ChunkPieces:
    """Every paragraph of a chunk, tokenized, back to back; paragraph k is
    ``[piece_bounds[k], piece_bounds[k + 1])`` (pieces) and likewise for words."""

    piece_ids: np.ndarray  # [P]
    piece_rows: np.ndarray  # [P] positions in the cache's flat arrays (for the strings)
    word_rows: np.ndarray  # [W] the cache's row of each doc token
    piece_to_word: np.ndarray  # [P] doc-token index within its paragraph
    word_to_first_piece: np.ndarray  # [W] piece index within its paragraph
    piece_bounds: np.ndarray
    word_bounds: np.ndarray


class _CjkWords:
    """The character doc tokens of a chunk's paragraphs, by key (`chinese.CjkDocTokens`):
    their distinct tokens and each token's index among them found with numpy, instead of
    hashing a string per character."""

    def __init__(self, paragraphs: list[SquadParagraph]):
        made = [paragraph.cjk for paragraph in paragraphs]
        assert made and all(item is not None for item in made)
        runs = made[0].runs  # type: ignore[union-attr]
        keys = np.concatenate([item.keys for item in made])  # type: ignore[union-attr]
        seen = np.zeros(RUN_KEY_BASE + len(runs), dtype=bool)
        seen[keys] = True
        distinct = np.flatnonzero(seen)
        row_of_key = np.zeros(seen.size, dtype=np.int32)
        row_of_key[distinct] = np.arange(distinct.size)
        self.rows = row_of_key[keys]  # per doc token: its index in `words`
        self.words = [chr(key) if key < RUN_KEY_BASE else runs[key - RUN_KEY_BASE]
                      for key in distinct.tolist()]

    @staticmethod
    def usable(paragraphs: list[SquadParagraph]) -> bool:
        """Every paragraph has keyed character doc tokens, from one tokenization."""
        first = paragraphs[0].cjk if paragraphs else None
        return first is not None and all(
            p.cjk is not None and p.cjk.runs is first.runs for p in paragraphs
        )


def _chunk_pieces(
    paragraphs: list[SquadParagraph], cache: PieceCache, cjk_words: _CjkWords | None = None
) -> _ChunkPieces:
    """Google's per-paragraph `all_doc_tokens` / `tok_to_orig_index` / `orig_to_tok_index`,
    for all paragraphs at once with numpy gathers. ``cjk_words``: the paragraphs' keyed
    character doc tokens, whose words the cache holds in that order."""
    words_per_paragraph = np.fromiter(
        (p.num_doc_tokens for p in paragraphs), dtype=np.int64, count=len(paragraphs)
    )
    if cjk_words is not None:
        row_of_word = [cache.index[word] for word in cjk_words.words]
        rows = np.asarray(row_of_word, dtype=np.int64)[cjk_words.rows]
    else:
        index = cache.index
        # map/chain keep the per-token loop in C.
        all_words = itertools.chain.from_iterable(p.doc_tokens for p in paragraphs)
        rows = np.fromiter(map(index.__getitem__, all_words), dtype=np.int64)
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
        word_rows=rows,
        piece_to_word=np.repeat(word_in_paragraph, counts),
        word_to_first_piece=first_piece_of_word - piece_bounds[paragraph_of_word],
        piece_bounds=piece_bounds,
        word_bounds=word_bounds,
    )


@dataclass
class ParagraphTexts:
    """What the eval sidecar stores per paragraph (doc tokens, pieces, piece -> doc token),
    kept as the chunk's flat arrays: as lists for use in this process, or as JSON text made
    from the arrays (`compact_json`), which is several times faster to write than the lists."""

    cache: PieceCache
    chunk: _ChunkPieces

    @cached_property
    def pieces(self) -> list[list[str]]:
        pieces, bounds = self.cache.pieces[self.chunk.piece_rows].tolist(), self.chunk.piece_bounds
        return [pieces[start:end] for start, end in itertools.pairwise(bounds.tolist())]

    @cached_property
    def piece_to_word(self) -> list[list[int]]:
        words, bounds = self.chunk.piece_to_word.tolist(), self.chunk.piece_bounds
        return [words[start:end] for start, end in itertools.pairwise(bounds.tolist())]

    def json_lists(self) -> dict[str, list[Raw]]:
        """JSON text of every paragraph's doc_tokens, pieces and piece_to_word lists."""
        chunk = self.chunk
        return {
            "doc_tokens": self.cache.word_texts().take(chunk.word_rows).lists(chunk.word_bounds),
            "pieces": self.cache.piece_texts().take(chunk.piece_rows).lists(chunk.piece_bounds),
            "piece_to_word": int_item_texts(chunk.piece_to_word).lists(chunk.piece_bounds),
        }


@dataclass
class TokenizedTexts:
    """Every text a chunk needs tokenized (see `texts_to_tokenize`) and its pieces."""

    words: list[str]  # distinct doc tokens
    word_pieces: list[list[str]]
    query_pieces: list[list[str]]  # per question, in file order
    answer_pieces: list[list[str]]  # per answerable training question
    cjk_words: _CjkWords | None = None  # how ``words`` were found from keyed doc tokens


def texts_to_tokenize(
    paragraphs: list[SquadParagraph], options: WindowOptions
) -> tuple[list[str], list[str], list[str], _CjkWords | None]:
    """(distinct doc tokens, questions, training answers, how the doc tokens were found
    from keyed character doc tokens, if they were): all the tokenizer calls a chunk needs,
    so they can be spread over processes as one flat list."""
    cjk_words = _CjkWords(paragraphs) if _CjkWords.usable(paragraphs) else None
    if cjk_words is not None:
        words = cjk_words.words
    else:
        words = list(
            dict.fromkeys(itertools.chain.from_iterable(p.doc_tokens for p in paragraphs))
        )
    questions = [question for paragraph in paragraphs for question in paragraph.questions]
    answers = (
        [q.answer_text for q in questions if not q.is_impossible] if options.is_training else []
    )
    return words, [q.question_text for q in questions], answers, cjk_words


def tokenize_texts(
    paragraphs: list[SquadParagraph], tokenizer: Tokenizer, options: WindowOptions
) -> TokenizedTexts:
    words, questions, answers, cjk_words = texts_to_tokenize(paragraphs, options)
    return TokenizedTexts(
        words,
        tokenize_words(tokenizer, words),
        tokenizer.tokenize_many(questions),
        tokenizer.tokenize_many(answers),
        cjk_words,
    )


def encode_paragraphs(
    paragraphs: list[SquadParagraph],
    tokenizer: Tokenizer,
    options: WindowOptions,
    tokenized: TokenizedTexts | None = None,
) -> ChunkFeatures:
    """Feature rows for ``paragraphs``; ``tokenized`` if the texts were tokenized elsewhere."""
    with gc_paused():  # many lists and arrays, no cycles
        return _encode_paragraphs(paragraphs, tokenizer, options, tokenized)


def _encode_paragraphs(
    paragraphs: list[SquadParagraph],
    tokenizer: Tokenizer,
    options: WindowOptions,
    tokenized: TokenizedTexts | None,
) -> ChunkFeatures:
    tokenized = tokenized or tokenize_texts(paragraphs, tokenizer, options)
    cache = PieceCache(tokenizer)
    cache.add(tokenized.words, tokenized.word_pieces)
    query_pieces = tokenized.query_pieces
    query_ids = _convert_many(tokenizer, query_pieces)
    answer_ids = _convert_many(tokenizer, tokenized.answer_pieces)
    chunk = _chunk_pieces(paragraphs, cache, tokenized.cjk_words)
    builder = _RowBuilder(tokenizer, options)
    if options.keep_eval_details:
        builder.out.paragraph_texts = ParagraphTexts(cache, chunk)
    question_index = 0
    answer_index = 0
    for number, paragraph in enumerate(paragraphs):
        first, last = chunk.piece_bounds[number], chunk.piece_bounds[number + 1]
        piece_ids = chunk.piece_ids[first:last]
        word_to_first_piece = chunk.word_to_first_piece[
            chunk.word_bounds[number] : chunk.word_bounds[number + 1]
        ]
        for question in paragraph.questions:
            answer_span = None
            if options.is_training and not question.is_impossible:
                answer_span = _answer_piece_span(
                    question.start_word,
                    question.end_word,
                    paragraph.num_doc_tokens,
                    piece_ids,
                    word_to_first_piece,
                    answer_ids[answer_index],
                )
                answer_index += 1
            builder.add_question(
                query_pieces[question_index],
                query_ids[question_index],
                int(first),
                len(piece_ids),
                answer_span,
                question.is_impossible,
            )
            question_index += 1
    return builder.finish(chunk.piece_ids)


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
    piece_ids: np.ndarray,
    word_to_first_piece: np.ndarray,
    answer_ids: list[int],
) -> tuple[int, int]:
    """Answer words -> piece span, then narrowed to the tokenized answer (Google's rules).

    Pieces are compared by id: distinct vocab strings have distinct ids. The narrowing
    looks only inside the span, so only the span's ids become a list (a Chinese paragraph
    has hundreds of pieces)."""
    start = int(word_to_first_piece[start_word])
    if end_word < num_words - 1:
        end = int(word_to_first_piece[end_word + 1]) - 1
    else:
        end = len(piece_ids) - 1
    new_start, new_end = improve_answer_span(
        piece_ids[start : end + 1].tolist(), 0, end - start, answer_ids
    )
    return start + new_start, start + new_end


@lru_cache(maxsize=4096)
def _window_layout(
    num_pieces: int, max_tokens_for_doc: int, doc_stride: int, with_max_context: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """(starts, lengths, indices) of a paragraph's windows and each window's max-context
    flags ("0"/"1" per piece; empty unless ``with_max_context``): the same for every
    question with this paragraph length and query length."""
    spans = doc_spans(num_pieces, max_tokens_for_doc, doc_stride)
    starts, lengths = np.array(spans, dtype=np.int64).reshape(-1, 2).T
    flags: tuple[str, ...] = ()
    if with_max_context:
        flags = max_context_flags(num_pieces, max_tokens_for_doc, doc_stride)
    return starts, lengths, np.arange(len(spans), dtype=np.int64), flags


class _RowBuilder:
    """Collects the questions of one chunk, then builds all their feature rows at once.

    Per question only its window layout is looked up (cached per paragraph length and
    query length, max-context flags included); the rows are filled with one slice copy
    per window and the other columns are numpy expressions over all windows together,
    instead of a dozen numpy calls per window.
    """

    def __init__(self, tokenizer: Tokenizer, options: WindowOptions):
        self.options = options
        self.cls_id = tokenizer.cls_id
        self.sep_id = tokenizer.sep_id
        self.query_ids: list[list[int]] = []
        self.query_length: list[int] = []
        self.first_piece: list[int] = []  # chunk-wide index of the paragraph's first piece
        self.answer: list[tuple[int, int]] = []  # piece span in the paragraph, or (-1, -1)
        self.is_impossible: list[int] = []
        self.layouts: list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]] = []
        self.windows_per_question: list[int] = []
        self.truncated = 0
        self.out = ChunkFeatures(*(np.zeros(0),) * 10, truncated_questions=0)

    def add_question(
        self,
        query: list[str],
        query_ids: list[int],
        first_piece: int,
        num_pieces: int,
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
        layout = _window_layout(
            num_pieces,
            options.max_seq_length - len(query) - 3,
            options.doc_stride,
            options.keep_eval_details,
        )
        self.layouts.append(layout)
        self.windows_per_question.append(len(layout[0]))
        if options.keep_eval_details:
            self.out.max_context.extend(layout[3])
        self.query_ids.append(query_ids)
        self.query_length.append(len(query))
        self.first_piece.append(first_piece)
        self.answer.append(answer_span if answer_span is not None else (-1, -1))
        self.is_impossible.append(int(is_impossible))

    def finish(self, piece_ids: np.ndarray) -> ChunkFeatures:
        """The rows; ``piece_ids`` are the chunk's paragraph pieces back to back."""
        length = self.options.max_seq_length
        out = self.out
        counts = np.asarray(self.windows_per_question, dtype=np.int64)
        out.windows_per_question = counts
        out.truncated_questions = self.truncated
        if not self.layouts or counts.sum() == 0:
            out.input_ids = np.zeros((0, length), np.int32)
            for name in _ROW_COLUMNS:
                setattr(out, name, np.zeros(0, dtype=np.int64))
            return out

        def per_window(values: list[int]) -> np.ndarray:
            return np.repeat(np.asarray(values, dtype=np.int64), counts)

        span_start = np.concatenate([layout[0] for layout in self.layouts])
        span_length = np.concatenate([layout[1] for layout in self.layouts])
        query_length = per_window(self.query_length)
        doc_offset = query_length + 2  # [CLS] query [SEP]
        doc_end = doc_offset + span_length  # where the closing [SEP] goes
        # Rows: [CLS] query [SEP] window pieces [SEP], zero padded. One slice copy per
        # question (its query, into all its windows' rows) and one per window.
        input_ids = np.zeros((len(span_start), length), dtype=np.int32)
        input_ids[:, 0] = self.cls_id
        query_flat = np.fromiter(
            itertools.chain.from_iterable(self.query_ids), dtype=np.int32,
            count=sum(self.query_length),
        )
        query_bounds = itertools.pairwise(itertools.accumulate(self.query_length, initial=0))
        row = 0
        for (query_start, query_end), first_piece, (starts, lengths, _, _) in zip(
            query_bounds, self.first_piece, self.layouts
        ):
            rows = len(starts)
            if rows:
                input_ids[row : row + rows, 1 : 1 + query_end - query_start] = query_flat[
                    query_start:query_end
                ]
                offset = query_end - query_start + 2
                for start, count in zip(starts.tolist(), lengths.tolist()):
                    begin = first_piece + start
                    input_ids[row, offset : offset + count] = piece_ids[begin : begin + count]
                    row += 1
        windows = np.arange(len(span_start))
        input_ids[windows, doc_offset - 1] = self.sep_id
        input_ids[windows, doc_end] = self.sep_id
        out.input_ids = input_ids

        answer = np.asarray(self.answer, dtype=np.int64).reshape(-1, 2)
        answer_start = np.repeat(answer[:, 0], counts)
        answer_end = np.repeat(answer[:, 1], counts)
        # An answer not wholly inside a window points at [CLS] (0, 0); the window is kept,
        # as in Google's converter.
        inside = (answer_start >= 0) & (answer_start >= span_start) & (
            answer_end <= span_start + span_length - 1
        )
        out.num_tokens = doc_end + 1
        out.query_length = query_length
        out.span_start = span_start
        out.span_length = span_length
        out.doc_span_index = np.concatenate([layout[2] for layout in self.layouts])
        out.start_positions = np.where(inside, answer_start - span_start + doc_offset, 0)
        out.end_positions = np.where(inside, answer_end - span_start + doc_offset, 0)
        out.is_impossible = per_window(self.is_impossible)
        return out


_ROW_COLUMNS = (
    "num_tokens",
    "query_length",
    "span_start",
    "span_length",
    "doc_span_index",
    "start_positions",
    "end_positions",
    "is_impossible",
)
