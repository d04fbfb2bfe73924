"""Tokenizers behind one interface: BERT WordPiece (exactly Google's) and SentencePiece.

`load_tokenizer(vocab=..., spm_model=..., do_lower_case=...)` returns an object with
`tokenize(text) -> list[str]`, `tokenize_many(texts) -> list[list[str]]`,
`convert_tokens_to_ids`, `convert_ids_to_tokens`, the special tokens and ids
(`cls_id`, `sep_id`, `pad_id`, `unk_id`, `mask_id`), and `describe()` for manifests.
"""

from bertkit.tokenization.wordpiece_tokenizer import BertWordPieceTokenizer, load_tokenizer

__all__ = ["BertWordPieceTokenizer", "load_tokenizer"]
