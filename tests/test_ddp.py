"""2-process gloo DDP through torchrun == 1 process with the same global batch.

Marked `distributed` (it spawns torchrun workers) but NOT excluded by the default
addopts, so plain `pytest` (and .ci/run) runs it. Dropout is 0 so the only difference
between the runs is how the global batch is split across processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from train_support import read_log, tiny_config, write_squad_records

# One torch thread in this process (conftest.one_torch_thread) for the in-process reference run;
# the torchrun workers get OMP_NUM_THREADS=1.
pytestmark = pytest.mark.usefixtures("one_torch_thread")

STEPS = 10


def _train_command(data: Path, config: Path, run_dir: Path, batch_size: int,
                   grad_accum: int = 1) -> list[str]:
    return ["-m", "bertkit", "train", "--task", "squad", "--train-file", str(data),
            "--config", str(config), "-o", str(run_dir), "--max-steps", str(STEPS),
            "--batch-size", str(batch_size), "--grad-accum", str(grad_accum), "--lr", "1e-3",
            "--device", "cpu", "--seed", "7"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.distributed
def test_two_process_gloo_matches_one_process(tmp_path):
    data = write_squad_records(tmp_path / "data" / "train.tf_record", 96, seq_length=32)
    config = tiny_config(tmp_path / "cfg", hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)

    # The 1-process reference runs in this process (one thread, like torchrun's workers).
    import torch
    from typer.testing import CliRunner

    from bertkit.cli import app

    single = tmp_path / "single"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = CliRunner().invoke(app, _train_command(data, config, single, batch_size=8)[2:])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    ddp = tmp_path / "ddp"
    done = _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                 *_train_command(data, config, ddp, batch_size=4)], tmp_path)

    # Rank 0 alone prints: the global-batch banner appears exactly once.
    assert done.stderr.count("global batch 8 = 4 per device x 2 device(s)") == 1
    results = json.loads((ddp / "train_results.json").read_text())
    assert results["world_size"] == 2 and results["global_batch"] == 8
    one, two = read_log(single), read_log(ddp)
    assert [r["step"] for r in two] == list(range(1, STEPS + 1))
    for a, b in zip(one, two):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
        assert b["lr"] == pytest.approx(a["lr"], rel=1e-12)
    # Training moved the weights: the last losses differ from the first.
    assert abs(one[-1]["loss"] - one[0]["loss"]) > 1e-3
