"""The training loop's arithmetic: accumulation keeps the global batch, precisions run, logs hold."""

from __future__ import annotations

import json
import math

import pytest
from train_support import read_log, tiny_config, write_classification_records, write_squad_records

from bertkit.train.trainer import TrainOptions, train
from bertkit.train.training_state import load_checkpoint

# One torch thread for every test here (conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _run(tmp_path, name, data, config, **changes):
    options = {"task": "squad", "train_file": data, "output_dir": tmp_path / name,
               "config_file": config, "max_steps": 6, "batch_size": 8, "lr": 1e-3,
               "device": "cpu", "seed": 3, "quiet": True}
    options.update(changes)
    return train(TrainOptions(**options))


def test_accumulation_gives_the_same_steps_as_one_big_batch(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 64)
    config = tiny_config(tmp_path / "cfg", hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)
    whole = _run(tmp_path, "whole", data, config)
    accumulated = _run(tmp_path, "accum", data, config, batch_size=2, grad_accum=4)
    assert whole.global_batch == accumulated.global_batch == 8
    a, b = read_log(whole.run_dir), read_log(accumulated.run_dir)
    assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], rel=1e-5)
    assert a[0]["loss"] != pytest.approx(a[-1]["loss"], rel=1e-3)  # the weights did move


def test_schedule_in_the_log_is_linear_warmup_then_decay(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 64)
    result = _run(tmp_path, "run", data, tiny_config(tmp_path / "cfg"), max_steps=10,
                  warmup_proportion=0.2)
    lrs = [r["lr"] for r in read_log(result.run_dir)]
    expected = [0.0, 5e-4, 1e-3, 8.75e-4, 7.5e-4, 6.25e-4, 5e-4, 3.75e-4, 2.5e-4, 1.25e-4]
    assert lrs == pytest.approx(expected, abs=1e-12)
    assert all(r["seq_per_s"] == pytest.approx(8 / r["step_time"]) for r in read_log(result.run_dir))
    results = json.loads((result.run_dir / "train_results.json").read_text())
    assert results["global_step"] == 10 and results["total_steps"] == 10


def test_epochs_decide_the_step_count(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 40)  # 5 batches of 8
    result = _run(tmp_path, "run", data, tiny_config(tmp_path / "cfg"), max_steps=None,
                  epochs=1.5)
    assert result.global_step == 7  # int(1.5 * 5), across an epoch boundary


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_saves_the_scaler(tmp_path, precision):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 32)
    result = _run(tmp_path, precision, data, tiny_config(tmp_path / "cfg"), max_steps=3,
                  save_steps=3, precision=precision)
    assert all(math.isfinite(r["loss"]) for r in read_log(result.run_dir))
    state = load_checkpoint(result.run_dir / "checkpoint-3")
    assert state["config"]["precision"] == precision
    assert bool(state["scaler"]) == (precision == "fp16")  # GradScaler only for fp16


def test_regression_labels_train_a_single_output_head(tmp_path):
    data = write_classification_records(tmp_path / "d" / "train.tf_record", 16, ["score"],
                                        regression=True)
    result = _run(tmp_path, "sts", data, tiny_config(tmp_path / "cfg"), task="classification",
                  max_steps=2, batch_size=4)
    config = json.loads((result.run_dir / "model" / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert len(config["id2label"]) == 1


def test_tensorboard_gets_every_step_when_installed(tmp_path, monkeypatch):
    """tensorboard is optional; with it, each step's four scalars go to RUN_DIR/runs."""
    import sys
    import types

    written = []

    class FakeWriter:
        def __init__(self, log_dir):
            written.append(("dir", log_dir))

        def add_scalar(self, tag, value, step):
            written.append((tag, step))

        def close(self):
            written.append(("closed", None))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 32)
    result = _run(tmp_path, "run", data, tiny_config(tmp_path / "cfg"), max_steps=2)
    assert written[0] == ("dir", str(result.run_dir / "runs"))
    assert written[1:] == [(f"train/{k}", step) for step in (1, 2)
                           for k in ("loss", "lr", "step_time", "seq_per_s")] + [("closed", None)]
