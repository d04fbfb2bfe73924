"""`bertkit demo`, the README's main job: prep -> train -> predict -> eval on bundled data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.demo import bundled_file, one_answer_per_question

# One torch thread for every test here (conftest.one_torch_thread): they train or backprop.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_bundled_sample_and_vocab_ship_with_the_package() -> None:
    sample = bundled_file("squad_sample", "dev-v1.1-sample.json")
    vocab = bundled_file("vocab", "bert-base-uncased-vocab.txt")
    questions = [q for article in json.loads(sample.read_text())["data"]
                 for paragraph in article["paragraphs"] for q in paragraph["qas"]]
    assert len(questions) == 72
    assert vocab.read_text(encoding="utf-8").splitlines()[101] == "[CLS]"


def test_training_copy_keeps_exactly_the_first_answer(tmp_path: Path) -> None:
    sample = bundled_file("squad_sample", "dev-v1.1-sample.json")
    one_answer_per_question(sample, tmp_path / "train.json")
    original = json.loads(sample.read_text())["data"]
    copied = json.loads((tmp_path / "train.json").read_text())["data"]
    for article, copy in zip(original, copied):
        for paragraph, paragraph_copy in zip(article["paragraphs"], copy["paragraphs"]):
            for question, question_copy in zip(paragraph["qas"], paragraph_copy["qas"]):
                assert question_copy["answers"] == question["answers"][:1]


def test_demo_runs_the_whole_job_with_the_tiny_fallback(tmp_path: Path) -> None:
    output = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "-o", str(output), "--no-pretrained", "--epochs", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pretrained"] is False
    assert report["scores"]["total"] == 72
    assert 0.0 <= report["scores"]["f1"] <= 100.0
    assert report["train"]["final_loss"] < report["train"]["first_loss"]
    for inspected in report["inspected"].values():
        assert inspected["crc_ok"] is True and inspected["records"] > 0
    for path in report["files"].values():
        assert Path(path).exists(), path
    assert "run report.md" in report["files"] and "run learning_curve.png" in report["files"]
    # A second run reuses the directory it made itself.
    again = CliRunner().invoke(
        app, ["demo", "-o", str(output), "--no-pretrained", "--epochs", "1", "--json"])
    assert again.exit_code == 0, again.output


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = CliRunner().invoke(app, ["demo", "-o", str(tmp_path), "--no-pretrained"])
    assert result.exit_code == 2
    assert (tmp_path / "precious.txt").read_text() == "keep me"
