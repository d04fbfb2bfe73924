"""Token ids of each segment, with the whole-word-masking continuation bit where it applies.

Modes (`--whole-word-mask`):
- `none`: plain ids (Google's default).
- `wordpiece`: a `##` piece continues the previous word (Google's `--do_whole_word_mask`).
- `jieba`: ymcui's Chinese-BERT-wwm recipe with jieba instead of LTP. The segment's
  original text is cut into words; the later characters of a multi-character, all-Chinese
  word continue its first character. The bit only groups pieces: the ids (and therefore
  the `masked_lm_ids` labels) stay the real characters', never a `##` form (the albert_zh
  bug). Words of any length are grouped. `##` pieces keep grouping as in `wordpiece`.
  A multi-character jieba word that mixes Chinese with other characters ("3月") cannot be
  one group of Chinese pieces: its pieces are masked one by one and the word is counted
  in `wwm_fallbacks`; so is a segment whose Chinese characters and pieces do not line up.
- `ref:FILE`: Hugging Face `run_chinese_ref.py` ref files: line k holds the indexes (with
  [CLS] = 0) of the pieces of the k-th non-empty input line that continue a word.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from bertkit.errors import InputError
from bertkit.prep.input_text import read_input_lines
from bertkit.prep.pretrain.corpus import CorpusText
from bertkit.prep.pretrain.instances import CONTINUATION
from bertkit.tokenization.reference import is_cjk


def continuation_table(vocab: dict[str, int]) -> bytearray:
    """table[id] == 1 when the vocab entry with that id is a `##` piece."""
    table = bytearray(max(vocab.values()) + 1)
    for token, index in vocab.items():
        if token.startswith("##"):
            table[index] = 1
    return table


def _mark_pieces(ids: tuple[int, ...], table: bytearray) -> tuple[int, ...]:
    return tuple(index | CONTINUATION if table[index] else index for index in ids)


def segments_plain(tokenizer: Any, corpus: CorpusText) -> list[tuple[int, ...]]:
    if hasattr(tokenizer, "ids_many"):
        return list(tokenizer.ids_many(corpus.texts))
    return [tuple(tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text)))
            for text in corpus.texts]


def segments_wordpiece(tokenizer: Any, corpus: CorpusText) -> list[tuple[int, ...]]:
    table = continuation_table(tokenizer.vocab)
    return [_mark_pieces(ids, table) for ids in segments_plain(tokenizer, corpus)]


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def chinese_continuations(text: str) -> tuple[list[bool], int]:
    """Per character of ``text``: does it continue a multi-character Chinese word? And
    how many multi-character words mix Chinese with other characters (not grouped)."""
    flags = [False] * len(text)
    mixed = 0
    start = 0
    for word in _jieba().cut(text):
        end = start + len(word)
        if len(word) > 1:
            chinese = [is_cjk(ord(char)) for char in word]
            if all(chinese):
                for offset in range(start + 1, end):
                    flags[offset] = True
            elif any(chinese):
                mixed += 1
        start = end
    if start != len(text):
        raise ValueError(f"jieba returned {start} characters for a {len(text)}-character text")
    return flags, mixed


def segments_jieba(tokenizer: Any, corpus: CorpusText) -> tuple[list[tuple[int, ...]], int]:
    table = continuation_table(tokenizer.vocab)
    fallbacks = 0
    segments: list[tuple[int, ...]] = []
    for text in corpus.texts:
        words = tokenizer.basic_tokenize(text)
        word_ids = tokenizer.ids_many(words)
        flags, mixed = chinese_continuations(text)
        fallbacks += mixed
        # Every Chinese character is a word of its own for the tokenizer and one piece
        # ([UNK] if unknown), in text order: the k-th one-character Chinese word is the
        # k-th Chinese character of the text.
        chinese_offsets = [offset for offset, char in enumerate(text) if is_cjk(ord(char))]
        chinese_words = sum(1 for word in words if len(word) == 1 and is_cjk(ord(word)))
        aligned = chinese_words == len(chinese_offsets)
        if not aligned:
            fallbacks += 1
        marked: list[int] = []
        k = 0
        for word, ids in zip(words, word_ids):
            if len(word) == 1 and is_cjk(ord(word)):
                continues = aligned and flags[chinese_offsets[k]]
                k += 1
                marked.append(ids[0] | CONTINUATION if continues else ids[0])
            else:
                marked += _mark_pieces(ids, table)
        segments.append(tuple(marked))
    return segments, fallbacks


def read_ref_file(path: Path) -> list[list[int]]:
    """One JSON list of ints per non-empty line (Hugging Face's ref format)."""
    lines = read_input_lines(path)  # the converters' reader: bad UTF-8 names its line
    refs: list[list[int]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(path, f"not a JSON list: {error.msg}", position=number) from None
        if not isinstance(value, list) or not all(
                isinstance(item, int) and not isinstance(item, bool) for item in value):
            raise InputError(path, "expected a JSON list of token indexes", position=number)
        refs.append(value)
    return refs


def segments_ref(tokenizer: Any, corpus: CorpusText,
                 ref_path: Path) -> list[tuple[int, ...]]:
    table = continuation_table(tokenizer.vocab)
    refs = read_ref_file(ref_path)
    lines_needed = (corpus.line_number_of[-1] + 1) if corpus.line_number_of else 0
    if len(refs) < lines_needed:
        raise InputError(ref_path, f"{len(refs)} ref lines for {lines_needed} non-empty "
                                   "input lines")
    segments: list[tuple[int, ...]] = []
    for ids, line in zip(segments_plain(tokenizer, corpus), corpus.line_number_of):
        marked = list(_mark_pieces(ids, table))
        for position in refs[line]:
            if not 1 <= position <= len(marked):
                raise InputError(ref_path, f"token index {position} is outside the line's "
                                           f"{len(marked)} tokens ([CLS] = 0)",
                                 position=f"ref line {line + 1}")
            marked[position - 1] |= CONTINUATION
        segments.append(tuple(marked))
    return segments
