"""Write tests/fixtures/tiny_bert/: a tiny random BERT in Hugging Face's layout.

The checkpoint is written by transformers itself (`BertModel.save_pretrained`), so the
loader is tested against the real tool's files: `config.json`, `model.safetensors`
(keys without the `bert.` prefix, with the pooler) and `vocab.txt`.

The vocab is a subset of bert-base-uncased: its first 3,000 entries (special tokens,
single characters, the most frequent words) plus every one-character `##` piece, so
WordPiece can still spell any ASCII word and real SQuAD text tokenizes sensibly.

Run once from the repository root:  /work/venv/bin/python tools/make_tiny_bert.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VOCAB = REPO.parent / "shared" / "data" / "vocab" / "bert-base-uncased" / "vocab.txt"
HEAD_ENTRIES = 3000


def tiny_vocab(source: Path) -> list[str]:
    entries = source.read_text(encoding="utf-8").splitlines()
    tail = [token for token in entries[HEAD_ENTRIES:] if token.startswith("##") and len(token) == 3]
    return entries[:HEAD_ENTRIES] + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=Path, default=DEFAULT_VOCAB)
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "tiny_bert")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)

    import torch
    from transformers import BertConfig, BertModel

    vocab = tiny_vocab(args.vocab)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=256, type_vocab_size=2,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    )
    torch.manual_seed(args.seed)
    model = BertModel(config, add_pooling_layer=True)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    (args.out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(vocab)} tokens, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
