"""One input shard -> documents of segments of token ids, as Google's reader sees them.

Google reads every line, strips it (Python's `str.strip`, so a line of only Unicode
spaces is blank), starts a new document at a blank line and keeps every line that
tokenizes to something as one segment; empty documents are dropped. Lines are split
on "\\n" only, as TensorFlow's `GFile.readline` does.

Additions, which change nothing for a plain one-sentence-per-line file:
- WikiExtractor's `<doc ...>` and `</doc>` lines are document boundaries, not text;
- `--sentence-split en|zh` cuts each line into sentences with a rule-based splitter.

A file with a NUL byte is refused as binary; text must be UTF-8 (the error names the
line), where Google would silently drop the undecodable bytes. A leading BOM is dropped
(Google's tokenizer drops it as a control character anyway).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from bertkit.prep.input_text import read_input_text
from bertkit.prep.pretrain.instances import ID_BITS, DocumentBounds, ShardTokens

_DOC_OPEN = re.compile(r"<doc(\s[^>]*)?>")
_DOC_CLOSE = "</doc>"

# English: a sentence ends at . ! or ? (and any closing quotes/brackets) when whitespace
# and a capital (possibly after an opening quote) follow.
_EN_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z])")
# Chinese: a sentence ends at 。！？； (full- or half-width !?;) and any closing quotes.
_ZH_BOUNDARY = re.compile(r"[。！？；!?;]+[”’」』）)\"']*")


def split_sentences(line: str, language: str) -> list[str]:
    """Rule-based sentences of one paragraph line (each stripped, empties dropped)."""
    pattern = _EN_BOUNDARY if language == "en" else _ZH_BOUNDARY
    pieces: list[str] = []
    start = 0
    for match in pattern.finditer(line):
        pieces.append(line[start:match.end()])
        start = match.end()
    pieces.append(line[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


@dataclass
class CorpusText:
    """A shard's segment texts and the document each belongs to."""

    texts: list[str]
    document_of: list[int]
    # For ref files: the 0-based number of the non-empty input line each text came from.
    line_number_of: list[int]


def read_shard_text(path: Path, sentence_split: str | None) -> CorpusText:
    text = read_input_text(path)  # a binary file (NUL byte) is an error naming its line
    texts: list[str] = []
    document_of: list[int] = []
    line_number_of: list[int] = []
    document = 0
    non_empty_line = -1
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            document += 1
            continue
        non_empty_line += 1
        if line == _DOC_CLOSE or _DOC_OPEN.fullmatch(line):
            document += 1
            continue
        sentences = split_sentences(line, sentence_split) if sentence_split else [line]
        for sentence in sentences:
            texts.append(sentence)
            document_of.append(document)
            line_number_of.append(non_empty_line)
    return CorpusText(texts, document_of, line_number_of)


def group_documents(corpus: CorpusText, segments: list[tuple[int, ...]],
                    special_ids: tuple[int, ...] = ()
                    ) -> tuple[ShardTokens, list[DocumentBounds]]:
    """The shard's ids back to back, and each document as its segments' offsets in them,
    in file order; empty segments and documents dropped (Google's rules)."""
    documents: list[DocumentBounds] = []
    kept: list[tuple[int, ...]] = []
    offset = 0
    current = -1
    for segment, document in zip(segments, corpus.document_of):
        if not segment:
            continue
        if document != current:
            documents.append([offset])
            current = document
        kept.append(segment)
        offset += len(segment)
        documents[-1].append(offset)
    dtype = np.int32 if offset < 2**31 else np.int64
    ids = np.fromiter(chain.from_iterable(kept), dtype=dtype, count=offset)
    plain = ids & ID_BITS
    has_special = any(bool((plain == special).any()) for special in special_ids)
    return ShardTokens(ids, has_special), documents
