"""A SentencePiece (`.model`) tokenizer behind the WordPiece tokenizer's interface, ALBERT style.

ALBERT's rules, which we follow:
- special pieces are `[CLS]`, `[SEP]`, `<pad>`, `<unk>`, `[MASK]`; a model lacking any of
  them cannot build ALBERT inputs, so loading it is an error;
- before encoding, text is preprocessed: whitespace runs collapse to one space and the ends
  are trimmed, LaTeX quotes (two backticks, two apostrophes) become `"`, accents are removed
  (NFKD, then combining characters dropped) unless `keep_accents`, and the text is
  lower-cased when `do_lower_case`;
- a piece ending in "<digit>," is re-encoded without the comma and the comma appended as
  its own piece, so numbers like "1,000," keep their digits together.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bertkit.errors import InputError
from bertkit.fsutil import sha256_of_file

SPIECE_UNDERLINE = "\u2581"
ALBERT_SPECIAL_PIECES = {"cls": "[CLS]", "sep": "[SEP]", "pad": "<pad>", "unk": "<unk>",
                         "mask": "[MASK]"}


def albert_preprocess(text: str, do_lower_case: bool, keep_accents: bool = False) -> str:
    """ALBERT's `preprocess_text` with remove_space on."""
    out = " ".join(text.strip().split())
    out = out.replace("``", '"').replace("''", '"')
    if not keep_accents:
        out = "".join(c for c in unicodedata.normalize("NFKD", out) if not unicodedata.combining(c))
    if do_lower_case:
        out = out.lower()
    return out


class SentencePieceTokenizer:
    """ALBERT's FullTokenizer in SentencePiece mode."""

    kind = "sentencepiece"

    def __init__(self, model_path: str | Path, do_lower_case: bool = True,
                 keep_accents: bool = False):
        import sentencepiece

        self.model_path = Path(model_path)
        self.do_lower_case = do_lower_case
        self.keep_accents = keep_accents
        if not self.model_path.is_file():
            raise InputError(self.model_path, "SentencePiece model file not found")
        self._sp = sentencepiece.SentencePieceProcessor()
        try:
            serialized = self.model_path.read_bytes()
            if not serialized:
                raise InputError(self.model_path, "SentencePiece model file is empty")
            self._sp.LoadFromSerializedProto(serialized)
        except InputError:
            raise
        except (OSError, RuntimeError) as error:
            message = str(error).strip()
            first_line = message.splitlines()[0] if message else type(error).__name__
            raise InputError(self.model_path,
                             f"not a readable SentencePiece model ({first_line})") from error
        size = self._sp.GetPieceSize()
        self.vocab = {self._sp.IdToPiece(index): index for index in range(size)}
        self.inv_vocab = {index: piece for piece, index in self.vocab.items()}
        missing = [piece for piece in ALBERT_SPECIAL_PIECES.values() if piece not in self.vocab]
        if missing:
            raise InputError(self.model_path,
                             f"SentencePiece model lacks the special piece(s) {', '.join(missing)}"
                             " that ALBERT inputs need")
        self.cls_token = ALBERT_SPECIAL_PIECES["cls"]
        self.sep_token = ALBERT_SPECIAL_PIECES["sep"]
        self.pad_token = ALBERT_SPECIAL_PIECES["pad"]
        self.unk_token = ALBERT_SPECIAL_PIECES["unk"]
        self.mask_token = ALBERT_SPECIAL_PIECES["mask"]
        self.cls_id = self.vocab[self.cls_token]
        self.sep_id = self.vocab[self.sep_token]
        self.pad_id = self.vocab[self.pad_token]
        self.unk_id = self.vocab[self.unk_token]
        self.mask_id = self.vocab[self.mask_token]

    def _split_digit_commas(self, pieces: list[str]) -> list[str]:
        out: list[str] = []
        for piece in pieces:
            if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                sub = self._sp.EncodeAsPieces(piece[:-1].replace(SPIECE_UNDERLINE, ""))
                if piece[0] != SPIECE_UNDERLINE and sub and sub[0][0] == SPIECE_UNDERLINE:
                    sub = sub[1:] if len(sub[0]) == 1 else [sub[0][1:], *sub[1:]]
                out.extend(sub)
                out.append(piece[-1])
            else:
                out.append(piece)
        return out

    def tokenize(self, text: str) -> list[str]:
        prepared = albert_preprocess(text, self.do_lower_case, self.keep_accents)
        return self._split_digit_commas(self._sp.EncodeAsPieces(prepared))

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        prepared = [albert_preprocess(text, self.do_lower_case, self.keep_accents)
                    for text in texts]
        # The C++ side encodes the batch on several threads.
        batch = self._sp.Encode(prepared, out_type=str)
        return [self._split_digit_commas(pieces) for pieces in batch]

    def tokenize_exact(self, text: str) -> list[str]:
        """SentencePiece has one path; the name matches the WordPiece tokenizer's."""
        return self.tokenize(text)

    def ids_many(self, texts: Sequence[str]) -> list[list[int]]:
        """The ids of many texts (WordPiece has a faster path under the same name)."""
        return [self.convert_tokens_to_ids(pieces) for pieces in self.tokenize_many(texts)]

    def convert_tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
        # ALBERT maps through the model, where an unknown piece becomes <unk>.
        return [self._sp.PieceToId(token) for token in tokens]

    def convert_ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        return [self.inv_vocab.get(int(index), self.unk_token) for index in ids]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "spm_model": str(self.model_path),
            "vocab_sha256": sha256_of_file(self.model_path),  # same key as WordPiece manifests
            "vocab_size": len(self.vocab),
            "do_lower_case": self.do_lower_case,
            "keep_accents": self.keep_accents,
        }
