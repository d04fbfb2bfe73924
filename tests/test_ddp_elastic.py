"""Faults and scale under real torchrun, 2 gloo processes on CPU.

- a worker SIGKILLed mid-run under --max-restarts: the restarted group resumes by itself
  from the latest complete checkpoint, and the losses equal an uninterrupted run's;
- two torchrun "nodes" (c10d rendezvous on localhost, one process each) give the same
  losses as one node with two processes;
- a rank that hangs stops the whole run with one error line within --ddp-timeout.

The faults come from the test-only BERTKIT_TEST_FAULT hook (bertkit.train.elastic).
Dropout is 0 so that which process gets which rank (c10d decides) cannot change a loss.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from train_support import read_log, tiny_config, write_squad_records

pytestmark = [pytest.mark.distributed, pytest.mark.usefixtures("one_torch_thread")]

STEPS = 12
SAVE_STEPS = 4
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("elastic_inputs")
    data = write_squad_records(root / "data" / "train.tf_record", 96, seq_length=32)
    config = tiny_config(root / "cfg", hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)
    return data, config


def _train_args(inputs: tuple[Path, Path], run_dir: Path, *extra: str) -> list[str]:
    data, config = inputs
    return ["-m", "bertkit", "train", "--task", "squad", "--train-file", str(data),
            "--config", str(config), "-o", str(run_dir), "--max-steps", str(STEPS),
            "--batch-size", "4", "--lr", "1e-3", "--device", "cpu", "--seed", "7",
            "--save-steps", str(SAVE_STEPS), *extra]


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TORCHELASTIC_", "BERTKIT_TEST_"))}
    return dict(env, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)


def _torchrun(args: list[str], cwd: Path, *, timeout: float = 240, **env: str
              ) -> subprocess.CompletedProcess:
    return subprocess.run([*TORCHRUN, *args], cwd=cwd, env=_env(**env), capture_output=True,
                          text=True, timeout=timeout, check=False)


def _losses(run_dir: Path) -> list[float]:
    rows = read_log(run_dir)
    assert [row["step"] for row in rows] == list(range(1, STEPS + 1))
    return [row["loss"] for row in rows]


@pytest.fixture(scope="module")
def uninterrupted(inputs, tmp_path_factory) -> list[float]:
    """One node, two processes, no fault: the losses every other run must reproduce."""
    root = tmp_path_factory.mktemp("elastic_reference")
    done = _torchrun(["--standalone", "--nproc-per-node", "2",
                      *_train_args(inputs, root / "run")], root)
    assert done.returncode == 0, done.stderr[-3000:]
    losses = _losses(root / "run")
    assert abs(losses[-1] - losses[0]) > 1e-3  # training moved the weights
    return losses


def test_sigkilled_worker_restarts_and_resumes_from_latest_checkpoint(
        inputs, uninterrupted, tmp_path):
    run = tmp_path / "run"
    # Rank 1 SIGKILLs itself after step 6 on the first attempt; checkpoint-4 is complete.
    done = _torchrun(["--standalone", "--nproc-per-node", "2", "--max-restarts", "3",
                      *_train_args(inputs, run)], tmp_path, BERTKIT_TEST_FAULT="kill:1:6")
    assert done.returncode == 0, done.stderr[-3000:]
    # torchrun reports whichever dead worker it notices first: rank 1, SIGKILLed
    # (exitcode -9), or rank 0, which lost its peer mid-collective and stopped. Either way
    # the agent saw a failed worker and restarted the group.
    assert "failed (exitcode: " in done.stderr, done.stderr[-3000:]
    # No --resume was given: the restarted group found its own run and resumed it.
    assert done.stderr.count("restarted by torchrun: resuming from checkpoint-4, the latest "
                             "complete checkpoint") == 1, done.stderr[-3000:]
    assert "resumed from" in done.stderr and "at step 4" in done.stderr
    assert _losses(run) == uninterrupted
    results = json.loads((run / "train_results.json").read_text())
    assert results["global_step"] == STEPS and results["world_size"] == 2
    assert sorted(path.name for path in run.glob("*checkpoint-*")) == [
        "checkpoint-12", "checkpoint-4", "checkpoint-8"]  # no temporaries left behind


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# With a SIGKILL too: a node whose worker was healthy may restart it without counting a
# restart (TORCHELASTIC_RESTART_COUNT stays 0 there), and the store outlives the attempt.
@pytest.mark.parametrize("fault", [None, pytest.param("kill:1:6", marks=pytest.mark.slow)])
def test_two_nodes_give_the_same_losses_as_one_node(inputs, uninterrupted, tmp_path, fault):
    run = tmp_path / "run"
    port = _free_port()
    restarts = ["--max-restarts", "3"] if fault else []
    env = _env(BERTKIT_TEST_FAULT=fault) if fault else _env()
    nodes = [subprocess.Popen(
        [*TORCHRUN, "--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(rank),
         "--rdzv-backend", "c10d", "--rdzv-endpoint", f"localhost:{port}",
         "--rdzv-id", f"bertkit-test-{port}", *restarts, *_train_args(inputs, run)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for rank in (0, 1)]
    outputs = []
    try:
        for node in nodes:
            outputs.append(node.communicate(timeout=240))
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.communicate()
    for node, (_, stderr) in zip(nodes, outputs):
        assert node.returncode == 0, stderr[-3000:]
    banner = "global batch 8 = 4 per device x 2 device(s)"
    # One rank 0, on one node (and once more after the restart).
    assert sum(stderr.count(banner) for _, stderr in outputs) == (2 if fault else 1)
    if fault:
        assert sum(stderr.count("restarted by torchrun: resuming from checkpoint-4")
                   for _, stderr in outputs) == 1, outputs[0][1][-3000:]
    assert _losses(run) == uninterrupted
    assert json.loads((run / "train_results.json").read_text())["world_size"] == 2


def test_hung_rank_stops_the_run_within_the_timeout(inputs, tmp_path):
    run = tmp_path / "run"
    # Rank 1 stops answering after step 3; without the timeout rank 0 would wait forever
    # (the subprocess timeout below is what fails then).
    done = _torchrun(["--standalone", "--nproc-per-node", "2", "--max-restarts", "0",
                      *_train_args(inputs, run, "--ddp-timeout", "5")], tmp_path, timeout=120,
                     BERTKIT_TEST_FAULT="hang:1:3")
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert errors[0].startswith("error: rank 0: another rank did not answer within "
                                "--ddp-timeout 5 s (it hangs or died); stopping the run ("), \
        errors[0]
    assert [row["step"] for row in read_log(run)] == [1, 2, 3]
