"""Google's BERT tokenization rules, implemented directly in Python.

This is the exact behaviour of `tokenization.FullTokenizer` (google-research/bert),
written from its documented rules: clean the text, space out CJK ideographs,
split on whitespace, optionally lower-case then strip accents, split off
punctuation, then greedy longest-match WordPiece per word. It is the slow but
authoritative path; the fast path in `fast_basic.py` must agree with it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Inclusive code-point ranges that Google's tokenizer treats as CJK ideographs.
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
MAX_INPUT_CHARS_PER_WORD = 200


def is_cjk(code_point: int) -> bool:
    return any(low <= code_point <= high for low, high in CJK_RANGES)


def is_whitespace(char: str) -> bool:
    # \t \n \r are technically control characters, but Google counts them as spaces.
    if char in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(char) == "Zs"


def is_control(char: str) -> bool:
    if char in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def is_punctuation(char: str) -> bool:
    # Every non-alphanumeric ASCII printable counts ($, +, <, =, >, ^, `, |, ~ are not
    # Unicode punctuation but Google treats them as such).
    code_point = ord(char)
    if (33 <= code_point <= 47 or 58 <= code_point <= 64 or 91 <= code_point <= 96
            or 123 <= code_point <= 126):
        return True
    return unicodedata.category(char).startswith("P")


def clean_text(text: str) -> str:
    out = []
    for char in text:
        code_point = ord(char)
        if code_point == 0 or code_point == 0xFFFD or is_control(char):
            continue
        out.append(" " if is_whitespace(char) else char)
    return "".join(out)


def space_out_cjk(text: str) -> str:
    out = []
    for char in text:
        if is_cjk(ord(char)):
            out.extend((" ", char, " "))
        else:
            out.append(char)
    return "".join(out)


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def split_on_punctuation(token: str) -> list[str]:
    pieces: list[str] = []
    start_new = True
    for char in token:
        if is_punctuation(char):
            pieces.append(char)
            start_new = True
        else:
            if start_new:
                pieces.append("")
                start_new = False
            pieces[-1] += char
    return pieces


def basic_tokenize(text: str, do_lower_case: bool) -> list[str]:
    """Google's BasicTokenizer: the words WordPiece will see."""
    text = space_out_cjk(clean_text(text))
    words: list[str] = []
    for token in text.strip().split():
        if do_lower_case:
            token = strip_accents(token.lower())
        words.extend(split_on_punctuation(token))
    return " ".join(words).strip().split()


class WordPiece:
    """Greedy longest-match-first WordPiece; an unmatchable word becomes one [UNK]."""

    def __init__(self, vocab: dict[str, int], unk_token: str = "[UNK]",
                 max_input_chars_per_word: int = MAX_INPUT_CHARS_PER_WORD):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self.split_word = lru_cache(maxsize=1 << 18)(self.split_word_uncached)

    def split_word_uncached(self, word: str) -> tuple[str, ...]:
        if len(word) > self.max_input_chars_per_word:
            return (self.unk_token,)
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            match = None
            while start < end:
                candidate = word[start:end] if start == 0 else "##" + word[start:end]
                if candidate in self.vocab:
                    match = candidate
                    break
                end -= 1
            if match is None:
                return (self.unk_token,)
            pieces.append(match)
            start = end
        return tuple(pieces)

    def tokenize(self, words: list[str]) -> list[str]:
        out: list[str] = []
        for word in words:
            out.extend(self.split_word(word))
        return out


def reference_tokenize(text: str, wordpiece: WordPiece, do_lower_case: bool) -> list[str]:
    return wordpiece.tokenize(basic_tokenize(text, do_lower_case))
