"""Pretraining corpora built from the contexts of the shared reading-comprehension sets.

One sentence per line (the rule-based splitter of `prep pretrain --sentence-split`), one
document per context paragraph, a blank line between documents.
"""

from __future__ import annotations

import json
from pathlib import Path

from bertkit.prep.pretrain.corpus import split_sentences


def contexts(squad_style_json: Path) -> list[str]:
    data = json.loads(squad_style_json.read_text(encoding="utf-8"))["data"]
    return [paragraph["context"] for article in data for paragraph in article["paragraphs"]]


def write_corpus(paragraphs: list[str], language: str, path: Path) -> Path:
    documents = []
    for paragraph in paragraphs:
        sentences = [s for line in paragraph.splitlines()
                     for s in split_sentences(line.strip(), language)]
        if sentences:
            documents.append("\n".join(sentences) + "\n")
    path.write_text("\n".join(documents), encoding="utf-8")
    return path


def squad_contexts_corpus(shared_data: Path, path: Path) -> Path:
    """SQuAD v1.1 dev contexts: about 1.6 MB, 2,067 documents."""
    return write_corpus(contexts(shared_data / "squad_v1.1" / "dev-v1.1.json"), "en", path)


def chinese_contexts_corpus(shared_data: Path, path: Path) -> Path:
    """CMRC 2018 dev + DRCD dev contexts (simplified and traditional Chinese)."""
    paragraphs = contexts(shared_data / "cmrc2018" / "cmrc2018_dev.json")
    paragraphs += contexts(shared_data / "drcd" / "DRCD_dev.json")
    return write_corpus(paragraphs, "zh", path)
