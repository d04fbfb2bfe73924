"""Bad input to `bertkit train` / `predict`: one line, exit 1 (2 for contradicting options)."""

from __future__ import annotations

import re

import pytest
from train_support import (
    TINY_BERT,
    one_error_line,
    tiny_config,
    write_classification_records,
    write_squad_records,
)
from typer.testing import CliRunner

from bertkit.cli import app

# One torch thread for every test here (conftest.one_torch_thread): they train or backprop.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train(data, run, *extra: str) -> list[str]:
    return ["train", "--task", extra[0] if extra and extra[0] in ("ner", "classification")
            else "squad", "--train-file", str(data), "-o", str(run), "--max-steps", "2",
            "--batch-size", "4", "--device", "cpu",
            *[e for e in extra if e not in ("ner", "classification")]]


def test_sequence_longer_than_position_embeddings(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8, seq_length=64)
    config = tiny_config(tmp_path / "cfg", max_position_embeddings=32)
    message = one_error_line(_train(data, tmp_path / "run", "--config", str(config)))
    assert "sequence length 64 is larger than the model's max_position_embeddings 32" in message
    assert str(data) in message
    assert not (tmp_path / "run" / "model").exists()


def test_tfrecord_missing_a_needed_feature(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8, drop=("end_positions",))
    message = one_error_line(_train(data, tmp_path / "run", "--config", str(TINY_BERT / "config.json")))
    assert f"{data}:record 0: feature 'end_positions' needed by task squad is missing" in message


def test_label_in_data_outside_the_label_map(tmp_path):
    data = write_classification_records(tmp_path / "d" / "train.tf_record", 8, ["a", "b", "c"],
                                        label_ids=[0, 1, 2, 3, 0, 1, 2, 0])
    message = one_error_line(_train(data, tmp_path / "run", "classification",
                            "--config", str(TINY_BERT / "config.json")))
    assert "label id 3 is outside the 3 labels of the model's head" in message
    assert "record 3" in message


def test_checkpoint_head_with_other_label_count(tmp_path):
    three = write_classification_records(tmp_path / "d3" / "train.tf_record", 8, ["a", "b", "c"])
    result = CliRunner().invoke(app, _train(three, tmp_path / "run3", "classification",
                                            "--init-checkpoint", str(TINY_BERT)))
    assert result.exit_code == 0, result.output
    five = write_classification_records(tmp_path / "d5" / "train.tf_record", 8,
                                        ["a", "b", "c", "d", "e"])
    message = one_error_line(_train(five, tmp_path / "run5", "classification",
                            "--init-checkpoint", str(tmp_path / "run3" / "model")))
    assert re.search(r"the checkpoint's head has 3 labels but the data's label map \(.*\) has 5$",
                     message), message


def test_checkpoint_config_shape_mismatch_names_both_shapes(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    config = tiny_config(tmp_path / "cfg", intermediate_size=48)
    message = one_error_line(_train(data, tmp_path / "run", "--init-checkpoint", str(TINY_BERT),
                            "--config", str(config)))
    assert re.search(r"intermediate\.dense\.bias has shape \(64,\) in the checkpoint but "
                     r"\S+intermediate\.dense\.bias has shape \(48,\) in the model", message), message


@pytest.mark.parametrize(("extra", "needle"), [
    (["--do-eval"], "--do-eval needs --eval-file"),
    (["--precision", "fp8"], "--precision must be one of"),
    (["--grad-accum", "0"], "--grad-accum must be at least 1"),
])
def test_contradicting_options_are_usage_errors(tmp_path, extra, needle):
    message = one_error_line(["train", "--task", "squad", "--train-file", str(tmp_path / "none"),
                      "-o", str(tmp_path / "run"), "--config", str(TINY_BERT / "config.json"),
                      *extra], code=2)
    assert needle in message


def test_missing_train_file(tmp_path):
    message = one_error_line(_train(tmp_path / "absent.tf_record", tmp_path / "run",
                            "--config", str(TINY_BERT / "config.json")))
    assert "absent.tf_record: TFRecord file not found" in message


def test_resume_without_checkpoint(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    message = one_error_line(_train(data, tmp_path / "run", "--config", str(TINY_BERT / "config.json"),
                            "--resume"), code=2)
    assert "no checkpoint" in message


def test_fresh_run_over_an_old_one_is_refused(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    args = _train(data, tmp_path / "run", "--config", str(TINY_BERT / "config.json"),
                  "--save-steps", "1")
    assert CliRunner().invoke(app, args).exit_code == 0
    message = one_error_line(args, code=2)
    assert "already holds a run (checkpoint-2); pass --resume" in message


def test_do_eval_with_missing_eval_file_fails_before_training(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    message = one_error_line(_train(data, tmp_path / "run", "--config", str(TINY_BERT / "config.json"),
                            "--do-eval", "--eval-file", str(tmp_path / "nope")))
    assert "nope: eval file not found" in message
    assert not (tmp_path / "run" / "log.jsonl").exists()


def test_predict_refuses_to_run_on_several_ranks(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    message = one_error_line(["predict", str(tmp_path), "--eval-file", str(tmp_path)], code=2)
    assert "launch it without torchrun" in message


def test_predict_on_a_directory_without_a_model(tmp_path):
    message = one_error_line(["predict", str(tmp_path), "--eval-file", str(tmp_path), "--device", "cpu"])
    assert "config.json" in message or "model" in message
