"""NER and classification through the whole pipeline on real CLUENER / TNEWS lines:
prep -> train (tiny BERT, a few steps) -> predict -> eval_meta.json -> scored by `bertkit eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from train_support import TINY_BERT
from typer.testing import CliRunner

from bertkit.cli import app

# One torch thread for every test here (conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _head(source: Path, lines: int, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, encoding="utf-8") as handle:
        target.write_text("".join(next(handle) for _ in range(lines)), encoding="utf-8")
    return target


def _prep_first_lines(tmp_path: Path, converter: str, source: Path, *, train_lines: int,
                      dev_lines: int, max_seq_length: int) -> Path:
    """`bertkit prep CONVERTER` with the tiny vocab on the first lines of source's train.json
    and dev.json; returns the prep folder."""
    train = _head(source / "train.json", train_lines, tmp_path / "raw" / "train.json")
    dev = _head(source / "dev.json", dev_lines, tmp_path / "raw" / "dev.json")
    prep = tmp_path / "prep"
    _ok(["prep", converter, str(train), str(dev), "-o", str(prep), "--vocab",
         str(TINY_BERT / "vocab.txt"), "--max-seq-length", str(max_seq_length), "--workers", "1"])
    return prep


def _ok(args: list[str]) -> dict:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else {}


def _train_and_predict(tmp_path: Path, task: str, prep: Path, *extra: str) -> tuple[Path, dict]:
    run = tmp_path / "run"
    _ok(["train", "--task", task, "--train-file", str(prep / "train.tf_record"),
         "--init-checkpoint", str(TINY_BERT), "-o", str(run), "--max-steps", "6",
         "--batch-size", "8", "--lr", "1e-3", "--device", "cpu", *extra])
    predicted = _ok(["predict", str(run), "--eval-file", str(prep), "--device", "cpu",
                     "--json"])
    return run / "eval", predicted


@pytest.mark.parametrize("crf", [False, True], ids=["softmax", "crf"])
def test_cluener_predictions_are_scored(shared_data, tmp_path, crf):
    prep = _prep_first_lines(tmp_path, "cluener", SHARED_DATA / "cluener2020", train_lines=48,
                             dev_lines=20, max_seq_length=64)
    out, predicted = _train_and_predict(tmp_path, "ner", prep, *(["--use-crf"] if crf else []))

    lines = [json.loads(line) for line in (out / "predictions.json").read_text().splitlines()]
    assert len(lines) == 20 and all("label" in line for line in lines)
    meta = json.loads((out / "eval_meta.json").read_text())
    assert meta["task"] == "cluener" and Path(meta["gold"]).name == "dev.json"
    results = json.loads((out / "eval_results.json").read_text())
    assert results["task"] == "cluener" and results["lines"] == 20
    assert 0.0 <= results["macro_f1"] <= 1.0
    assert predicted["scores"]["macro_f1"] == results["macro_f1"]
    rescored = _ok(["eval", str(out / "predictions.json"), "--json"])
    assert rescored["macro_f1"] == results["macro_f1"]


def test_tnews_predictions_are_scored(shared_data, tmp_path):
    prep = _prep_first_lines(tmp_path, "tnews", SHARED_DATA / "tnews", train_lines=64,
                             dev_lines=24, max_seq_length=32)
    out, predicted = _train_and_predict(tmp_path, "classification", prep)

    rows = (out / "predictions.tsv").read_text().splitlines()
    assert rows[0] == "index\tprediction" and len(rows) == 25
    label2id = json.loads((prep / "label2id.json").read_text())
    assert all(row.split("\t")[1] in label2id for row in rows[1:])
    meta = json.loads((out / "eval_meta.json").read_text())
    assert meta["task"] == "tnews"
    results = json.loads((out / "eval_results.json").read_text())
    assert 0.0 <= results["accuracy"] <= 1.0
    assert results["missing_count"] == 0
    assert predicted["scores"]["accuracy"] == results["accuracy"]


def _sentences(path: Path) -> list[str]:
    return [block for block in path.read_text(encoding="utf-8").split("\n\n") if block.strip()]


def test_chinesener_tag_lines_are_scored_with_conlleval(shared_data, tmp_path):
    sentences = _sentences(SHARED_DATA / "chinese_ner" / "example.dev")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "example.train").write_text("\n\n".join(sentences[:48]) + "\n", encoding="utf-8")
    dev = raw / "example.dev"
    dev.write_text("\n\n".join(sentences[48:64]) + "\n", encoding="utf-8")
    prep = tmp_path / "prep"
    # 48 positions: some dev sentences are longer, so truncated characters are exercised.
    _ok(["prep", "chinesener", str(raw / "example.train"), str(dev), "-o", str(prep),
         "--vocab", str(TINY_BERT / "vocab.txt"), "--max-seq-length", "48", "--workers", "1"])
    out, predicted = _train_and_predict(tmp_path, "ner", prep)

    blocks = [b for b in (out / "predictions.txt").read_text(encoding="utf-8").split("\n\n")
              if b.strip()]
    assert len(blocks) == 16
    gold_chars = [[line.split()[0] for line in s.splitlines()] for s in sentences[48:64]]
    ours = [[line.split()[0] for line in b.splitlines()] for b in blocks]
    assert ours == gold_chars  # every character, truncated ones included, in order
    meta = json.loads((out / "eval_meta.json").read_text())
    assert meta["task"] == "conll" and Path(meta["gold"]).name == "example.dev"
    results = json.loads((out / "eval_results.json").read_text())
    assert results["task"] == "conll"
    rescored = _ok(["eval", str(out / "predictions.txt"), "--json"])
    # predict keeps the id counts but drops the (possibly long) id lists.
    dropped = ("warnings", "missing_ids", "unknown_ids")
    assert {k: v for k, v in rescored.items() if k not in dropped} == \
        {k: v for k, v in results.items() if k not in dropped}
    assert predicted["scores"]["task"] == "conll"
