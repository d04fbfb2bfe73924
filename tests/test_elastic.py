"""torchrun restarts and lost ranks, in one process: the planning, the trainer path, the errors.

The end-to-end runs under torchrun (a SIGKILLed worker, two nodes, a hung rank) are in
test_ddp_elastic.py; here TORCHELASTIC_* is set in this process to drive the same code.
"""

from __future__ import annotations

import json
import time

import pytest
from train_support import read_log, tiny_config, write_squad_records

from bertkit.errors import UsageError
from bertkit.train import elastic
from bertkit.train.distributed import PeerFailureError, agree_on_attempt, describe_peer_failure
from bertkit.train.options import TrainOptions, validate_options
from bertkit.train.trainer import _check_run_dir, train
from bertkit.train.training_state import save_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Killed(Exception):
    pass


def _attempt(monkeypatch, restart: int, run_id: str = "job-a") -> None:
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", str(restart))
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", run_id)


def _state(step: int) -> dict:
    return {"step": step, "model": {}, "optimizer": {}, "scheduler": {}, "scaler": {},
            "rng": [{}], "config": {}}


def _marked_run(tmp_path, monkeypatch):
    run = tmp_path / "run"
    _attempt(monkeypatch, 0)
    elastic.mark_run_dir(run)
    (run / "log.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
    return run


# --- planning ------------------------------------------------------------------------------


def test_first_attempt_resumes_only_when_asked(tmp_path, monkeypatch):
    run = _marked_run(tmp_path, monkeypatch)  # a run an earlier (non-torchrun) job left
    save_checkpoint(run, 4, _state(4))
    (run / elastic.JOB_MARK).unlink()
    assert elastic.plan_attempt(run, resume_asked=False) == elastic.AttemptPlan(False, False)
    assert elastic.plan_attempt(run, resume_asked=True) == elastic.AttemptPlan(True, False)
    with pytest.raises(UsageError, match="already holds a run"):
        _check_run_dir(run, False)


# The restart count of a node whose workers were healthy stays 0: the mark decides.
@pytest.mark.parametrize("restart", [1, 0])
def test_restart_resumes_from_latest_complete_checkpoint(tmp_path, monkeypatch, restart):
    run = _marked_run(tmp_path, monkeypatch)
    save_checkpoint(run, 4, _state(4))
    # Half-written: a later step's folder without its state, a temporary of a killed writer.
    (run / "checkpoint-8").mkdir()
    (run / "checkpoint-8" / "training_state.safetensors").write_bytes(b"\0" * 10)
    (run / ".checkpoint-12.tmp-4000000").mkdir()
    _attempt(monkeypatch, restart)
    plan = elastic.plan_attempt(run, resume_asked=False)
    assert plan.resume and plan.own_restart
    assert plan.note == ("restarted by torchrun: resuming from checkpoint-4, the latest "
                         "complete checkpoint")


def test_restart_without_checkpoint_starts_again(tmp_path, monkeypatch):
    run = _marked_run(tmp_path, monkeypatch)
    _attempt(monkeypatch, 2)
    plan = elastic.plan_attempt(run, resume_asked=False)
    assert (plan.resume, plan.own_restart) == (False, True)
    assert plan.note == ("restarted by torchrun: no checkpoint was complete yet; training "
                         "again from the start")
    _check_run_dir(run, plan.resume or plan.own_restart)  # its own log is no obstacle


@pytest.mark.parametrize("case", ["other job", "no mark", "mark older than the agent",
                                  "mark not JSON"])
def test_restart_never_takes_over_another_run(tmp_path, monkeypatch, case):
    run = _marked_run(tmp_path, monkeypatch)
    save_checkpoint(run, 4, _state(4))
    _attempt(monkeypatch, 1, run_id="job-b" if case == "other job" else "job-a")
    if case == "no mark":
        (run / elastic.JOB_MARK).unlink()
    if case == "mark older than the agent":  # e.g. --rdzv-id none reused by a later job
        monkeypatch.setattr(elastic, "_agent_started_at", lambda: time.time() + 60)
    if case == "mark not JSON":
        (run / elastic.JOB_MARK).write_text("{")
    plan = elastic.plan_attempt(run, resume_asked=False)
    assert plan == elastic.AttemptPlan(False, False)
    with pytest.raises(UsageError, match="already holds a run"):
        _check_run_dir(run, plan.resume or plan.own_restart)


def test_agent_start_time_is_read_from_proc():
    started = elastic._agent_started_at()
    assert started is not None and started <= time.time()  # the parent began before us


def test_mark_is_written_only_under_torchrun(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    elastic.mark_run_dir(tmp_path / "plain")
    assert not (tmp_path / "plain").exists()
    _attempt(monkeypatch, 0, run_id="job-z")
    elastic.mark_run_dir(tmp_path / "job")
    assert json.loads((tmp_path / "job" / elastic.JOB_MARK).read_text())["run_id"] == "job-z"


# --- the trainer under a simulated restart --------------------------------------------------


def _options(tmp_path, **changes) -> TrainOptions:
    data = tmp_path / "data" / "train.tf_record"
    if not data.exists():
        write_squad_records(data, 48, seq_length=32)
    base = {"task": "squad", "train_file": data, "output_dir": tmp_path / "run",
            "config_file": tiny_config(tmp_path / "cfg"), "max_steps": 6, "batch_size": 4,
            "lr": 2e-3, "device": "cpu", "seed": 5, "quiet": True}
    base.update(changes)
    return TrainOptions(**base)


def _kill_at(kill_step: int):
    def on_step(step, record, model):
        if step == kill_step:
            raise Killed

    return on_step


@pytest.mark.parametrize(("save_steps", "resumed_at"), [(2, 4), (None, 0)])
def test_restarted_trainer_continues_its_run(tmp_path, monkeypatch, save_steps, resumed_at):
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    expected = read_log(train(_options(tmp_path, output_dir=tmp_path / "whole")).run_dir)

    _attempt(monkeypatch, 0)
    with pytest.raises(Killed):
        train(_options(tmp_path, save_steps=save_steps), on_step=_kill_at(5))
    assert [row["step"] for row in read_log(tmp_path / "run")] == [1, 2, 3, 4, 5]
    _attempt(monkeypatch, 1)
    seen: list[int] = []
    result = train(_options(tmp_path, save_steps=save_steps),
                   on_step=lambda step, record, model: seen.append(step))
    assert seen[0] == resumed_at + 1  # resumed from checkpoint-4, or trained again from 1
    assert result.global_step == 6
    rows = read_log(tmp_path / "run")
    assert [row["step"] for row in rows] == list(range(1, 7))
    assert [row["loss"] for row in rows] == pytest.approx([row["loss"] for row in expected],
                                                          rel=1e-6)
    config = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert config["resume"] is (resumed_at > 0)


# --- lost ranks -------------------------------------------------------------------------


def test_peer_failures_become_one_line():
    timed_out = RuntimeError("[third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:78] "
                             "Timed out waiting 5000ms for recv operation to complete")
    assert describe_peer_failure(timed_out, 0, 5.0) == (
        "rank 0: another rank did not answer within --ddp-timeout 5 s (it hangs or died); "
        f"stopping the run ({timed_out})")
    reset = RuntimeError("[gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:1: "
                         "Connection reset by peer.\nThis is typically caused by ...")
    message = describe_peer_failure(reset, 1, 5.0)
    assert message.startswith("rank 1: lost the connection to another rank (it died, or the "
                              "network failed); stopping the run ([gloo/transport/tcp/pair.cc")
    assert "\n" not in message
    import torch.distributed as dist

    store_wait = dist.DistStoreError("wait timeout after 500ms, keys: /bertkit/answer/ab")
    assert describe_peer_failure(store_wait, 1, 0.5).startswith(
        "rank 1: another rank did not answer within --ddp-timeout 0.5 s")
    # A bug of ours is not a lost rank: it keeps its traceback.
    assert describe_peer_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"),
                                 0, 5.0) is None
    assert describe_peer_failure(ValueError("Timed out"), 0, 5.0) is None
    assert describe_peer_failure(RuntimeError("DataLoader timed out after 5 seconds"), 0,
                                 5.0) is None


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_ddp_timeout_must_be_finite(tmp_path, value):
    with pytest.raises(UsageError, match="--ddp-timeout must be a finite number at least 5"):
        validate_options(_options(tmp_path, ddp_timeout=value))


# --- naming an attempt in a store that holds the previous attempt's keys --------------------


def _agree(port: int, world_size: int, first: int, timeout_s: float = 60.0) -> list:
    """Every rank's agree_on_attempt in threads, rank ``first`` started well before the others."""
    import threading

    import torch.distributed as dist

    results: list = [None] * world_size

    def run(rank: int) -> None:
        store = dist.TCPStore("127.0.0.1", port, is_master=False,
                              timeout=__import__("datetime").timedelta(seconds=60))
        try:
            results[rank] = agree_on_attempt(store, rank, world_size, timeout_s)
        except Exception as error:  # noqa: BLE001 -- checked by the caller
            results[rank] = error

    threads = [threading.Thread(target=run, args=(first,))]
    threads[0].start()
    time.sleep(0.3)
    threads += [threading.Thread(target=run, args=(rank,)) for rank in range(world_size)
                if rank != first]
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(90)
    return results


def test_every_attempt_gets_its_own_name_despite_old_keys():
    import torch.distributed as dist

    server = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False)
    names = []
    for first in (0, 2, 0):  # rank 0 first finds only the previous attempt's tokens
        results = _agree(server.port, 3, first)
        assert all(isinstance(name, str) for name in results), results
        assert len(set(results)) == 1
        names.append(results[0])
    assert len(set(names)) == 3


def test_a_rank_that_never_joins_stops_rank_0():
    import torch.distributed as dist

    server = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False)
    with pytest.raises(PeerFailureError, match=r"rank 0: ranks \[1\] did not join within "
                                               r"--ddp-timeout 0.5 s"):
        agree_on_attempt(server, 0, 2, 0.5)
