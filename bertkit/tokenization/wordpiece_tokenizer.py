"""The BERT WordPiece tokenizer object that converters and the CLI use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bertkit.errors import InputError, UsageError
from bertkit.fsutil import sha256_of_file
from bertkit.tokenization.reference import WordPiece, basic_tokenize
from bertkit.tokenization.vocab import load_vocab


class BertWordPieceTokenizer:
    """Google's `FullTokenizer`, token for token, built from a `vocab.txt`."""

    kind = "wordpiece"

    def __init__(self, vocab_path: str | Path, do_lower_case: bool = True):
        self.vocab_path = Path(vocab_path)
        self.do_lower_case = do_lower_case
        self.vocab = load_vocab(self.vocab_path)
        self.inv_vocab = {index: token for token, index in self.vocab.items()}
        self._wordpiece = WordPiece(self.vocab)
        self.cls_token, self.sep_token, self.pad_token, self.unk_token = (
            "[CLS]", "[SEP]", "[PAD]", "[UNK]")
        self.mask_token = "[MASK]"
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.pad_id = self.vocab["[PAD]"]
        self.unk_id = self.vocab["[UNK]"]
        self.mask_id = self.vocab.get("[MASK]")

    def basic_tokenize(self, text: str) -> list[str]:
        return basic_tokenize(text, self.do_lower_case)

    def tokenize(self, text: str) -> list[str]:
        return self._wordpiece.tokenize(basic_tokenize(text, self.do_lower_case))

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenize(text) for text in texts]

    def convert_tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        vocab = self.vocab
        try:
            return [vocab[token] for token in tokens]
        except KeyError as error:
            raise InputError(self.vocab_path, f"token {error.args[0]!r} is not in the vocab") from None

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
    raise UsageError("SentencePiece models are not supported yet")
