"""A torchrun_job.json planted or corrupted in a run folder is never a reason for a plain
(non-torchrun) `bertkit train` to take the folder over: {"run_id": null} matched the unset
TORCHELASTIC_RUN_ID, so the run "restarted by torchrun" and resumed without --resume."""

from __future__ import annotations

import json
import time

import pytest

from bertkit.train import elastic


@pytest.mark.parametrize("mark", [{"run_id": None, "written_at": time.time() + 1e6},
                                  {"written_at": time.time() + 1e6}, {}])
def test_mark_without_a_run_id_is_not_a_plain_runs_own(tmp_path, monkeypatch, mark):
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    monkeypatch.setattr(elastic, "_agent_started_at", lambda: None)  # e.g. no /proc
    run = tmp_path / "run"
    (run / "checkpoint-2").mkdir(parents=True)
    (run / elastic.JOB_MARK).write_text(json.dumps(mark), encoding="utf-8")
    assert elastic.plan_attempt(run, resume_asked=False) == elastic.AttemptPlan(False, False)


def test_a_real_jobs_mark_still_counts_under_its_job(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-a")
    elastic.mark_run_dir(tmp_path / "run")
    plan = elastic.plan_attempt(tmp_path / "run", resume_asked=False)
    assert plan.own_restart and not plan.resume  # no checkpoint yet: starts again
