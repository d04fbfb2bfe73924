"""Tokenizers behind one interface: BERT WordPiece (exactly Google's) and SentencePiece (ALBERT's).

`load_tokenizer(vocab=..., spm_model=..., do_lower_case=...)` returns an object with
`tokenize(text) -> list[str]`, `tokenize_exact(text)` (no fast path), `tokenize_many(texts) ->
list[list[str]]`, `ids_many(texts)`,
`convert_tokens_to_ids`, `convert_ids_to_tokens`, `vocab`, the special tokens and ids
(`cls_id`, `sep_id`, `pad_id`, `unk_id`, `mask_id`), `do_lower_case`, `kind` and
`describe()` for manifests. Module map:
- `vocab.py`: vocab.txt loading (Google's rules) and its errors;
- `reference.py`: Google's BasicTokenizer + WordPiece, char by char (the oracle port);
- `fast_basic.py`: the same rules as whole-text C-level operations (the fast path);
- `wordpiece_tokenizer.py`: the WordPiece tokenizer object and `load_tokenizer`;
- `sentencepiece_tokenizer.py`: `.model` files, ALBERT preprocessing and special pieces;
- `segmentation.py`: jieba word-boundary features for Chinese NER;
- `text_lines.py`: file -> JSON lines, behind `bertkit tokenize`.
"""

from bertkit.tokenization.wordpiece_tokenizer import BertWordPieceTokenizer, load_tokenizer

__all__ = ["BertWordPieceTokenizer", "load_tokenizer"]
