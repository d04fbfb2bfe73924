"""Resume and divergence: an interrupted run resumed from its checkpoint == the uninterrupted run."""

from __future__ import annotations

import json
import math

import pytest
import torch
from train_support import read_log, tiny_config, write_squad_records

from bertkit.train.trainer import NonFiniteLossError, TrainOptions, train
from bertkit.train.training_state import load_checkpoint


class Interrupted(Exception):
    pass


# One torch thread for every test here (conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _options(tmp_path, run_name, **changes):
    data = tmp_path / "data" / "train.tf_record"
    if not data.exists():
        write_squad_records(data, 48, seq_length=32)
    # Dropout stays on (0.1): resuming must restore the RNG, not only the weights.
    config = tiny_config(tmp_path / "cfg")
    base = {"task": "squad", "train_file": data, "output_dir": tmp_path / run_name,
            "config_file": config, "max_steps": 8, "batch_size": 4, "grad_accum": 2,
            "lr": 2e-3, "device": "cpu", "save_steps": 3, "seed": 11, "quiet": True}
    base.update(changes)
    return TrainOptions(**base)


def test_resumed_run_reproduces_uninterrupted_losses(tmp_path):
    whole = train(_options(tmp_path, "whole"))
    expected = [row["loss"] for row in read_log(whole.run_dir)]
    assert len(expected) == 8

    def stop_at_step_5(step, record, model):
        if step == 5:  # checkpoint-3 exists; steps 4 and 5 are lost work
            raise Interrupted

    with pytest.raises(Interrupted):
        train(_options(tmp_path, "broken"), on_step=stop_at_step_5)
    broken = tmp_path / "broken"
    assert [row["step"] for row in read_log(broken)] == [1, 2, 3, 4, 5]
    assert not (broken / "model").exists()

    resumed = train(_options(tmp_path, "broken", resume=True))
    assert resumed.global_step == 8
    rows = read_log(broken)
    assert [row["step"] for row in rows] == list(range(1, 9))  # steps 4, 5 replaced, not doubled
    assert [row["loss"] for row in rows] == pytest.approx(expected, rel=1e-6)
    assert [row["lr"] for row in rows] == pytest.approx(
        [row["lr"] for row in read_log(whole.run_dir)], rel=1e-12)
    saved = load_checkpoint(broken / "checkpoint-6")
    assert saved["step"] == 6 and saved["config"]["grad_accum"] == 2
    assert {"model", "optimizer", "scheduler", "scaler", "rng"} <= set(saved)


def test_resume_refuses_changed_settings(tmp_path):
    train(_options(tmp_path, "run", max_steps=3))
    from bertkit.errors import UsageError

    # (--lr may change on resume: tests/test_train_trust.py)
    with pytest.raises(UsageError, match="weight_decay was 0.01"):
        train(_options(tmp_path, "run", max_steps=3, weight_decay=0.1, resume=True))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    def poison_after_step_5(step, record, model):
        if step == 5:
            with torch.no_grad():
                model.qa_outputs.weight.fill_(math.nan)

    with pytest.raises(NonFiniteLossError) as caught:
        train(_options(tmp_path, "nan", save_steps=2), on_step=poison_after_step_5)
    message = str(caught.value)
    assert "training stopped at step 6: loss is nan" in message
    assert "checkpoint-4" in message and "\n" not in message
    run = tmp_path / "nan"
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert [row["step"] for row in read_log(run)] == [1, 2, 3, 4, 5]
    assert all(math.isfinite(row["loss"]) for row in read_log(run))
    assert not (run / "train_results.json").exists()
    json.loads((run / "log.jsonl").read_text().splitlines()[-1])  # the log is intact
