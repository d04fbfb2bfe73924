"""Predicting on unlabelled test files (CLUENER test, TNEWS test stand-in, a SQuAD-style file
without answers: only prep is checked here, see test_prep_squad_chinese): predictions are written, nothing is scored, and `bertkit submit` turns
them into leaderboard files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from train_support import TINY_BERT
from typer.testing import CliRunner

from bertkit.cli import app

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ok(args: list[str]) -> dict:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else {}


def _lines(source: Path, count: int, target: Path, drop: tuple[str, ...] = ()) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, encoding="utf-8") as handle:
        records = [json.loads(next(handle)) for _ in range(count)]
    target.write_text("".join(json.dumps({k: v for k, v in r.items() if k not in drop},
                                         ensure_ascii=False) + "\n" for r in records), "utf-8")
    return target


def _prep_tiny(converter: str, train: Path, test: Path, prep: Path, max_seq_length: int) -> None:
    _ok(["prep", converter, str(train), str(test), "-o", str(prep), "--vocab",
         str(TINY_BERT / "vocab.txt"), "--max-seq-length", str(max_seq_length), "--workers", "1"])


def _train_then_predict_unscored(tmp_path: Path, task: str, prep: Path) -> Path:
    """Trains a few steps on prep/train.tf_record, predicts prep/test.tf_record (no labels)
    and checks the prediction was not scored; returns the run folder."""
    run = tmp_path / "run"
    _ok(["train", "--task", task, "--train-file", str(prep / "train.tf_record"),
         "--init-checkpoint", str(TINY_BERT), "-o", str(run), "--max-steps", "3",
         "--batch-size", "8", "--lr", "1e-3", "--device", "cpu"])
    predicted = _ok(["predict", str(run), "--eval-file", str(prep / "test.tf_record"),
                     "--device", "cpu", "--json"])
    assert predicted["scores"] is None and "not scored" in predicted["note"]
    return run


def test_cluener_test_file_is_predicted_not_scored_and_submitted(shared_data, tmp_path):
    train = _lines(SHARED_DATA / "cluener2020" / "train.json", 24, tmp_path / "raw" / "train.json")
    test = _lines(SHARED_DATA / "cluener2020" / "test.json", 30, tmp_path / "raw" / "test.json")
    prep = tmp_path / "prep"
    _prep_tiny("cluener", train, test, prep, 64)
    run = _train_then_predict_unscored(tmp_path, "ner", prep)
    out = run / "eval"
    assert not (out / "eval_results.json").exists()
    _ok(["submit", "-o", str(tmp_path / "sub"), "--cluener", str(out / "predictions.json"),
         "--cluener-test", str(test)])
    lines = (tmp_path / "sub" / "cluener_predict.json").read_text("utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(range(30))


def test_tnews_stand_in_is_predicted_not_scored_and_submitted(shared_data, tmp_path):
    train = _lines(SHARED_DATA / "tnews" / "train.json", 32, tmp_path / "raw" / "train.json")
    test = _lines(SHARED_DATA / "tnews" / "dev.json", 20, tmp_path / "raw" / "test.json",
                  drop=("label", "label_desc"))
    prep = tmp_path / "prep"
    _prep_tiny("tnews", train, test, prep, 32)
    run = _train_then_predict_unscored(tmp_path, "classification", prep)
    _ok(["submit", "-o", str(tmp_path / "sub"), "--tnews", str(run / "eval" / "predictions.tsv"),
         "--tnews-test", str(test)])
    assert len((tmp_path / "sub" / "tnews11_predict.json").read_text("utf-8").splitlines()) == 20
