"""The real texts the tokenizer parity tests run on (all read from the shared data)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from conftest import SHARED_DATA

EDGE_CASES_FILE = Path(__file__).resolve().parent / "data" / "tokenizer_edge_cases.txt"
# run_squad.py's own whitespace (not the tokenizer's) for splitting contexts into doc tokens.
SQUAD_WHITESPACE = frozenset(" \t\r\n\u202f")


def edge_cases() -> list[str]:
    # split("\n") only: lines hold \r, NEL and LINE SEPARATOR on purpose.
    return EDGE_CASES_FILE.read_bytes().decode("utf-8").split("\n")[:-1]


def squad_texts() -> list[str]:
    data = json.loads((SHARED_DATA / "squad_v1.1" / "dev-v1.1.json").read_text(encoding="utf-8"))
    texts = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            texts.append(paragraph["context"])
            texts.extend(qa["question"] for qa in paragraph["qas"])
    return texts


def squad_doc_tokens(contexts: list[str]) -> list[str]:
    tokens: list[str] = []
    for context in contexts:
        current = ""
        for char in context:
            if char in SQUAD_WHITESPACE:
                if current:
                    tokens.append(current)
                current = ""
            else:
                current += char
        if current:
            tokens.append(current)
    return tokens


def _json_lines(path: Path, field: str) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line)[field] for line in handle if line.strip()]


def cluener_texts() -> list[str]:
    return [text for split in ("train", "dev", "test")
            for text in _json_lines(SHARED_DATA / "cluener2020" / f"{split}.json", "text")]


def tnews_texts() -> list[str]:
    return [text for split in ("train", "dev")
            for text in _json_lines(SHARED_DATA / "tnews" / f"{split}.json", "sentence")]


def glue_sentences() -> list[str]:
    """Every sentence of MRPC and RTE (train, dev, test), read like run_classifier.py does."""
    columns = {"MRPC": ("#1 String", "#2 String"), "RTE": ("sentence1", "sentence2")}
    texts: list[str] = []
    for task, names in columns.items():
        for split in ("train", "dev", "test"):
            path = SHARED_DATA / "glue" / task / f"{split}.tsv"
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
            header, body = rows[0], rows[1:]
            indexes = [header.index(name) for name in names]
            texts.extend(row[i] for row in body for i in indexes)
    return texts
