"""Small TFRecord files and configs for the train/predict tests (written with our codec)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.tfrecord import FloatList, TFRecordWriter

TINY_BERT = Path(__file__).resolve().parent / "fixtures" / "tiny_bert"
SQUAD_FEATURES = ("unique_ids", "input_ids", "input_mask", "segment_ids", "start_positions",
                  "end_positions", "is_impossible")


def tiny_config(directory: Path, **overrides: object) -> Path:
    """The tiny_bert fixture's config.json with some fields changed (e.g. dropout 0)."""
    config = json.loads((TINY_BERT / "config.json").read_text())
    config.update(overrides)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def _inputs(rng: np.random.Generator, seq_length: int, vocab_size: int) -> dict[str, np.ndarray]:
    length = int(rng.integers(seq_length // 2, seq_length + 1))
    query = int(rng.integers(3, length // 2))
    ids = np.zeros(seq_length, dtype=np.int64)
    ids[:length] = rng.integers(1000, vocab_size, size=length)
    ids[0], ids[query], ids[length - 1] = 101, 102, 102  # [CLS] query [SEP] doc [SEP]
    mask = np.zeros(seq_length, dtype=np.int64)
    mask[:length] = 1
    segments = np.zeros(seq_length, dtype=np.int64)
    segments[query + 1 : length] = 1
    return {"input_ids": ids, "input_mask": mask, "segment_ids": segments, "_length": length,
            "_query": query}


def write_squad_records(path: Path, num_records: int, *, seq_length: int = 32,
                        vocab_size: int = 3963, seed: int = 0,
                        drop: tuple[str, ...] = ()) -> Path:
    """Random but learnable SQuAD training records: the answer starts at a fixed token id."""
    rng = np.random.default_rng(seed)
    with TFRecordWriter(path) as writer:
        for number in range(num_records):
            row = _inputs(rng, seq_length, vocab_size)
            length, query = row.pop("_length"), row.pop("_query")
            start = int(rng.integers(query + 1, length - 1))
            end = int(min(length - 2, start + rng.integers(0, 3)))
            row["input_ids"][start] = 2000  # a marker the model can learn to point at
            record = {"unique_ids": [1000000000 + number], **row, "start_positions": [start],
                      "end_positions": [end], "is_impossible": [0]}
            writer.write({name: value for name, value in record.items() if name not in drop})
    return path


def write_classification_records(path: Path, num_records: int, labels: list[str], *,
                                 seq_length: int = 32, vocab_size: int = 3963, seed: int = 0,
                                 label_ids: list[int] | None = None, regression: bool = False
                                 ) -> Path:
    """Records plus label2id.json beside them (label ids cycle unless given)."""
    rng = np.random.default_rng(seed)
    with TFRecordWriter(path) as writer:
        for number in range(num_records):
            row = _inputs(rng, seq_length, vocab_size)
            row.pop("_length"), row.pop("_query")
            label = label_ids[number] if label_ids is not None else number % len(labels)
            row["input_ids"][1] = 2000 + label  # the label is readable from token 1
            value = FloatList([float(label) / 2]) if regression else [label]
            writer.write({**row, "label_ids": value})
    (path.parent / "label2id.json").write_text(
        json.dumps({label: index for index, label in enumerate(labels)}))
    return path


def write_ner_records(path: Path, num_records: int, labels: list[str], *, seq_length: int = 32,
                      vocab_size: int = 3963, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with TFRecordWriter(path) as writer:
        for _ in range(num_records):
            row = _inputs(rng, seq_length, vocab_size)
            length = row.pop("_length")
            row.pop("_query")
            tags = np.zeros(seq_length, dtype=np.int64)
            tags[1 : length - 1] = rng.integers(0, len(labels), size=length - 2)
            writer.write({**row, "label_ids": tags})
    (path.parent / "label2id.json").write_text(
        json.dumps({label: index for index, label in enumerate(labels)}))
    return path


def read_log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def one_error_line(args: list[str], code: int = 1) -> str:
    """Runs the CLI with `args`, checks it failed with `code` and exactly one `error:` line on
    stderr and no traceback, and returns that line with its white space folded (rich may
    wrap it at the terminal width)."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    return " ".join(result.stderr.split())


def random_bert_inputs(config, *, rows: int, length: int, seed: int, padded_row: int,
                       pad_from: int, second_segment_from: int):
    """(input_ids, attention_mask, token_type_ids) for `config`: random ids from a seeded
    generator, row `padded_row` padded from `pad_from` on, and every row's tokens from
    `second_segment_from` on in the last token type (so type embeddings beyond 0 count)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, config.vocab_size, (rows, length), generator=generator)
    mask = torch.ones_like(ids)
    mask[padded_row, pad_from:] = 0
    types = torch.zeros_like(ids)
    types[:, second_segment_from:] = config.type_vocab_size - 1
    return ids, mask, types
