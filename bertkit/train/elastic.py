"""torchrun restarts: a restarted worker group continues the run its first attempt began.

Under `torchrun --max-restarts N`, when a worker dies the agent stops the others and starts
the whole group again, with the same command line and TORCHELASTIC_RESTART_COUNT one
higher. Left alone, the new group would refuse its own run folder (it holds a run, and
there is no --resume). Instead:

- the attempt that starts (or resumes) a run writes `torchrun_job.json` in the run folder:
  the torchrun job's rendezvous run id, and when it was written;
- an attempt that finds its own job's mark is a restart (the first attempt has not written
  it yet when it looks): it resumes from the latest complete checkpoint (a checkpoint
  folder appears only whole: see training_state), or, when none was saved yet, starts
  again, replacing what the killed attempt logged.

TORCHELASTIC_RESTART_COUNT does not tell a restart on every machine: a node whose workers
were healthy when another node's died restarts them without counting; the mark does.

A folder marked by another job, or not marked at all, is never taken over: the check that
refuses an existing run without --resume applies as on a first attempt. "Its own job"
means the same run id (random for each `--standalone` job; `--rdzv-id` across machines)
and a mark written after this machine's torchrun agent started, so a reused id
(`--rdzv-id` defaults to "none") does not claim a run that an earlier job left.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from bertkit.fsutil import write_json_atomic
from bertkit.train.training_state import latest_checkpoint

JOB_MARK = "torchrun_job.json"
# /proc/stat's boot time is in whole seconds, and machines' clocks differ a little.
_CLOCK_SLACK_S = 2.0
# Tests only: "kill:RANK:STEP" or "hang:RANK:STEP" (see inject_test_fault).
TEST_FAULT_ENV = "BERTKIT_TEST_FAULT"


def restart_count() -> int:
    """How many times this machine's torchrun agent has restarted its workers (0: never)."""
    try:
        return max(0, int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")))
    except ValueError:
        return 0


def _agent_started_at() -> float | None:
    """When this worker's parent, the torchrun agent on this machine, started (Linux)."""
    try:
        stat = Path(f"/proc/{os.getppid()}/stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime
        boot = next(int(line.split()[1]) for line in
                    Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        return boot + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def mark_run_dir(run_dir: Path) -> None:
    """Rank 0 of a torchrun attempt, before writing anything else: this job owns the folder."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if run_id is None:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / JOB_MARK, {"run_id": run_id, "written_at": time.time()})


def _marked_by_this_job(run_dir: Path) -> bool:
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if run_id is None:  # not under torchrun: no mark is ours (not even {"run_id": null})
        return False
    try:
        mark = json.loads((run_dir / JOB_MARK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(mark, dict) or mark.get("run_id") != run_id:
        return False
    written, started = mark.get("written_at"), _agent_started_at()
    if started is None:
        return True
    return (isinstance(written, (int, float)) and not isinstance(written, bool)
            and written >= started - _CLOCK_SLACK_S)


@dataclass(frozen=True)
class AttemptPlan:
    resume: bool  # continue from the latest checkpoint
    own_restart: bool  # a restart in the folder its own job began: not "another run"
    note: str | None = None  # what the restart does, for the log


def plan_attempt(run_dir: Path, resume_asked: bool) -> AttemptPlan:
    """Whether this attempt resumes: as asked on a first attempt; by itself on a restart."""
    if not _marked_by_this_job(run_dir):
        return AttemptPlan(resume_asked, False)
    latest = latest_checkpoint(run_dir)
    if latest is None:
        return AttemptPlan(False, True, "restarted by torchrun: no checkpoint was complete "
                                        "yet; training again from the start")
    return AttemptPlan(True, True, f"restarted by torchrun: resuming from {latest.name}, "
                                   "the latest complete checkpoint")


def inject_test_fault(step: int, rank: int) -> None:
    """Tests only: with BERTKIT_TEST_FAULT=kill:RANK:STEP (or hang:RANK:STEP), that rank
    kills itself with SIGKILL (or stops answering) after that step, on the first attempt."""
    spec = os.environ.get(TEST_FAULT_ENV)
    if not spec or restart_count() > 0:
        return
    action, fault_rank, fault_step = spec.split(":")
    if int(fault_rank) != rank or int(fault_step) != step:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    while action == "hang":
        time.sleep(60)
