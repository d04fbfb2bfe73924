"""2-process gloo DDP with --group-by-length and trimmed batches == 1 process, same global
batch: every rank gets the same number of batches (no rank waits at an all-reduce), and
trimming each rank's batch to its own longest record changes no loss.

28 s on the shared 2-core box at load 10 (two torchrun workers plus a reference run), so it
stays in the default run; the sampler's per-rank batch counts are also checked without
processes in tests/test_trimming.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_ddp import STEPS, _run
from train_support import read_log, tiny_config, write_classification_records

# One torch thread in this process for the in-process reference run (2 cores, 2 workers).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _command(data: Path, config: Path, run_dir: Path, batch_size: int) -> list[str]:
    return ["-m", "bertkit", "train", "--task", "classification", "--train-file", str(data),
            "--config", str(config), "-o", str(run_dir), "--max-steps", str(STEPS),
            "--batch-size", str(batch_size), "--lr", "1e-3", "--device", "cpu", "--seed", "7",
            "--group-by-length"]


@pytest.mark.distributed
def test_grouped_two_process_gloo_matches_one_process(tmp_path):
    # 90 records: 5 global batches of 16 per epoch, 10 left over; 10 steps = 2 epochs.
    data = write_classification_records(tmp_path / "data" / "train.tf_record", 90,
                                        ["a", "b", "c"], seq_length=48)
    config = tiny_config(tmp_path / "cfg", hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _run(_command(data, config, single, batch_size=16), tmp_path)
    _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
          *_command(data, config, ddp, batch_size=8)], tmp_path)
    results = json.loads((ddp / "train_results.json").read_text())
    assert results["world_size"] == 2 and results["global_step"] == STEPS
    one, two = read_log(single), read_log(ddp)
    assert len(one) == len(two) == STEPS
    for a, b in zip(one, two):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
    assert abs(one[-1]["loss"] - one[0]["loss"]) > 1e-3
