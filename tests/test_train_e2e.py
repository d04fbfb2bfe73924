"""End to end on real SQuAD text: prep -> train a tiny BERT -> predict -> eval.

The model is tests/fixtures/tiny_bert (random weights, 2 layers, hidden 32), so the
scores are near zero; what is checked is that every stage runs on the previous stage's
real output, the loss goes down and every file is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from train_support import TINY_BERT, read_log
from typer.testing import CliRunner

from bertkit.cli import app

V1_DEV = SHARED_DATA / "squad_v1.1" / "dev-v1.1.json"
V2_DEV = SHARED_DATA / "squad_v2.0" / "cs224n-dev-v2.0.json"
STEPS = 30


# One torch thread for every test here (conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sample(source: Path, tmp_path: Path, paragraphs: int, training: bool) -> Path:
    """The first paragraphs of a real dev set; for training, one answer per question
    (the layout of SQuAD's train files, which Google's converter requires)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    article = data["data"][0]
    kept = article["paragraphs"][:paragraphs]
    if training:
        kept = [dict(p, qas=[dict(qa, answers=qa["answers"][:1]) for qa in p["qas"]])
                for p in kept]
    data["data"] = [dict(article, paragraphs=kept)]
    path = tmp_path / f"{'train' if training else 'eval'}-{source.name}"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _prep(sample: Path, out: Path, split: str, v2: bool) -> None:
    from bertkit.prep.squad.convert import SquadPrepOptions, prep_squad

    prep_squad(sample, out, SquadPrepOptions(split=split, max_seq_length=128, doc_stride=64,
                                             max_query_length=32, version_2_with_negative=v2),
               vocab=TINY_BERT / "vocab.txt", workers=1)


def _invoke(args: list[str]) -> dict:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("v2", [False, True], ids=["squad1.1", "squad2.0"])
def test_prep_train_predict_eval(shared_data, tmp_path, v2):
    source = V2_DEV if v2 else V1_DEV
    _prep(_sample(source, tmp_path, 6, training=True), tmp_path / "prep_train", "train", v2)
    sample = _sample(source, tmp_path, 6, training=False)
    _prep(sample, tmp_path / "prep_eval", "eval", v2)
    run = tmp_path / "run"

    trained = _invoke([
        "train", "--task", "squad", "--train-file", str(tmp_path / "prep_train" / "train.tf_record"),
        "--init-checkpoint", str(TINY_BERT), "-o", str(run), "--max-steps", str(STEPS),
        "--batch-size", "8", "--lr", "2e-3", "--warmup-proportion", "0.1", "--save-steps", "15",
        "--device", "cpu", "--do-eval", "--eval-file", str(tmp_path / "prep_eval"), "--json"])

    losses = [row["loss"] for row in read_log(run)]
    assert len(losses) == STEPS
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.3
    assert set(read_log(run)[0]) == {"step", "loss", "lr", "step_time", "seq_per_s"}
    for name in ("log.jsonl", "train_results.json", "run_config.json", "checkpoint-15",
                 "checkpoint-30", "model"):
        assert (run / name).exists(), name
    assert trained["global_step"] == STEPS and trained["global_batch"] == 8
    expected = {"predictions.json", "nbest_predictions.json", "eval_meta.json",
                "eval_results.json"} | ({"null_odds.json"} if v2 else set())
    assert expected <= {p.name for p in (run / "eval").iterdir()}
    assert trained["eval_results"]["task"] == ("squad2" if v2 else "squad")

    # predict again from the saved model directory, then score with `bertkit eval`.
    out = tmp_path / "predicted"
    predicted = _invoke(["predict", str(run), "--eval-file", str(tmp_path / "prep_eval"),
                         "-o", str(out), "--device", "cpu", "--json"])
    for name in ("predictions.json", "nbest_predictions.json"):
        assert (out / name).read_bytes() == (run / "eval" / name).read_bytes()
    answers = json.loads((out / "predictions.json").read_text())
    questions = sum(len(p["qas"]) for a in json.loads(sample.read_text())["data"]
                    for p in a["paragraphs"])
    assert len(answers) == questions
    nbest = json.loads((out / "nbest_predictions.json").read_text())
    assert all(1 <= len(entries) <= 20 for entries in nbest.values())

    scored = _invoke(["eval", str(out / "predictions.json"), "--json"])
    key = "exact" if v2 else "exact_match"
    assert scored[key] == pytest.approx(predicted["scores"][key])
    assert 0.0 <= scored["f1"] <= 100.0
