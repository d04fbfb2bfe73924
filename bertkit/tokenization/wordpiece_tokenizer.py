"""The BERT WordPiece tokenizer object that converters and the CLI use.

Two implementations of Google's `FullTokenizer`, one answer:
- `reference.py`: Google's rules written out char by char in pure Python (the oracle
  we reason from; slow).
- `fast_basic.py`: the same rules as whole-text C-level string operations (regex,
  `str.lower`, `unicodedata.normalize`) on the same `unicodedata`, plus a word -> pieces
  cache in front of the greedy WordPiece, since natural text repeats words constantly.
`tokenize` and `tokenize_many` use the fast one; `tokenize_exact` keeps the reference
reachable for tests and debugging.

We measured the Rust `tokenizers` pipeline configured like Google's as an alternative:
it differs from Google on some Unicode input (accents stripped before lower-casing,
no final sigma, private-use characters dropped, newer Unicode tables), needed a
proven-safe character gate, and on this 2-core machine was 2-15x slower than the
C-level Python path above even with both cores (bench/bench_tokenizer.py), so it is
not used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

from bertkit.errors import InputError, UsageError
from bertkit.fsutil import sha256_of_file
from bertkit.gcutil import gc_paused
from bertkit.tokenization.fast_basic import fast_basic_tokenize
from bertkit.tokenization.reference import WordPiece, basic_tokenize
from bertkit.tokenization.vocab import load_vocab

# Distinct words (or short texts) cached before a cache starts over; bounds memory.
WORD_CACHE_LIMIT = 1 << 18
# Texts up to this length are cached whole: converters tokenize every SQuAD doc token on
# its own, and the same short words come back again and again.
SHORT_TEXT_CHARS = 32


class BertWordPieceTokenizer:
    """Google's `FullTokenizer`, token for token, built from a `vocab.txt`."""

    kind = "wordpiece"

    def __init__(self, vocab_path: str | Path, do_lower_case: bool = True):
        self.vocab_path = Path(vocab_path)
        self.do_lower_case = do_lower_case
        self.vocab = load_vocab(self.vocab_path)
        self.inv_vocab = {index: token for token, index in self.vocab.items()}
        self._wordpiece = WordPiece(self.vocab)
        self._pieces_of_word: dict[str, tuple[str, ...]] = {}
        self._tokens_of_short_text: dict[str, tuple[str, ...]] = {}
        self._ids_of_word: dict[str, tuple[int, ...]] = {}
        self._id_of_one_piece_word: dict[str, int] = {}
        self._ids_of_short_text: dict[str, tuple[int, ...]] = {}
        self.cls_token, self.sep_token, self.pad_token, self.unk_token = (
            "[CLS]", "[SEP]", "[PAD]", "[UNK]")
        self.mask_token = "[MASK]"
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.pad_id = self.vocab["[PAD]"]
        self.unk_id = self.vocab["[UNK]"]
        self.mask_id = self.vocab.get("[MASK]")

    def basic_tokenize(self, text: str) -> list[str]:
        """The words WordPiece sees (Google's BasicTokenizer output)."""
        return fast_basic_tokenize(text, self.do_lower_case)

    def tokenize_exact(self, text: str) -> list[str]:
        """Google's rules char by char in pure Python (the slow reference path)."""
        return self._wordpiece.tokenize(basic_tokenize(text, self.do_lower_case))

    def tokenize(self, text: str) -> list[str]:
        if len(text) <= SHORT_TEXT_CHARS:
            known = self._tokens_of_short_text.get(text)
            if known is None:
                if len(self._tokens_of_short_text) > WORD_CACHE_LIMIT:
                    self._tokens_of_short_text.clear()
                known = self._tokens_of_short_text[text] = tuple(self._tokenize_uncached(text))
            return list(known)
        return self._tokenize_uncached(text)

    def _tokenize_uncached(self, text: str) -> list[str]:
        cache = self._pieces_of_word
        if len(cache) > WORD_CACHE_LIMIT:
            cache.clear()
        out: list[str] = []
        for word in fast_basic_tokenize(text, self.do_lower_case):
            pieces = cache.get(word)
            if pieces is None:
                pieces = cache[word] = self._wordpiece.split_word_uncached(word)
            out += pieces
        return out

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokenize a batch (the path converters use)."""
        # The short-text cache lookup is inlined: SQuAD converters send ~250k one-word texts.
        known_short = self._tokens_of_short_text
        tokenize = self.tokenize
        out: list[list[str]] = []
        # A batch allocates hundreds of thousands of small lists that can never form
        # cycles; left on, the cyclic GC rescans the whole heap over and over while
        # they pile up (about half the time on SQuAD doc tokens), for no garbage.
        with gc_paused():
            for text in texts:
                known = known_short.get(text) if len(text) <= SHORT_TEXT_CHARS else None
                out.append(list(known) if known is not None else tokenize(text))
        return out

    def ids_many(self, texts: Sequence[str]) -> list[tuple[int, ...]]:
        """`convert_tokens_to_ids(tokenize(text))` for each text, as tuples (the fast path
        classification converters use: no piece strings, no per-piece Python loop)."""
        known_short = self._ids_of_short_text
        if len(known_short) > WORD_CACHE_LIMIT:
            known_short.clear()
        ids_of = self._ids_uncached
        out: list[tuple[int, ...]] = []
        append = out.append
        with gc_paused():  # many small tuples, no cycles (see tokenize_many)
            for text in texts:
                if len(text) <= SHORT_TEXT_CHARS:
                    known = known_short.get(text)
                    if known is None:
                        known = known_short[text] = ids_of(text)
                    append(known)
                else:
                    append(ids_of(text))
        return out

    def _ids_uncached(self, text: str) -> tuple[int, ...]:
        words = fast_basic_tokenize(text, self.do_lower_case)
        try:
            # Most words (every CJK character) are one piece: one C-level lookup each.
            return tuple(map(self._id_of_one_piece_word.__getitem__, words))
        except KeyError:
            pass
        cache = self._ids_of_word
        try:
            return tuple(chain.from_iterable(map(cache.__getitem__, words)))
        except KeyError:
            pass  # a word seen for the first time
        if len(cache) > WORD_CACHE_LIMIT:
            cache.clear()
            self._id_of_one_piece_word.clear()
        vocab = self.vocab
        for word in words:
            if word not in cache:
                # Every piece WordPiece returns is a vocab entry ([UNK] included).
                ids = cache[word] = tuple(
                    vocab[piece] for piece in self._wordpiece.split_word_uncached(word))
                if len(ids) == 1:
                    self._id_of_one_piece_word[word] = ids[0]
        return tuple(chain.from_iterable(map(cache.__getitem__, words)))

    def convert_tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        vocab = self.vocab
        try:
            return [vocab[token] for token in tokens]
        except KeyError as error:
            raise InputError(self.vocab_path,
                             f"token {error.args[0]!r} is not in the vocab") from None

    def convert_ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        return [self.inv_vocab.get(int(index), "[UNK]") for index in ids]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "vocab": str(self.vocab_path),
            "vocab_sha256": sha256_of_file(self.vocab_path),
            "vocab_size": len(self.inv_vocab),
            "do_lower_case": self.do_lower_case,
        }


def load_tokenizer(
    vocab: str | Path | None = None,
    spm_model: str | Path | None = None,
    do_lower_case: bool = True,
) -> Any:
    """The tokenizer for a vocab file or a SentencePiece model (exactly one of them)."""
    if (vocab is None) == (spm_model is None):
        raise UsageError("give exactly one of --vocab and --spm-model")
    if vocab is not None:
        return BertWordPieceTokenizer(vocab, do_lower_case=do_lower_case)
    from bertkit.tokenization.sentencepiece_tokenizer import SentencePieceTokenizer

    return SentencePieceTokenizer(spm_model, do_lower_case=do_lower_case)
