"""Reading the loss back from the device only every few steps changes nothing a user sees.

On an accelerator the trainer reads each step's loss and gradient norm back to the host only
every `STEPS_PER_READ` steps (and before each checkpoint, `on_step` call and the end). The
CPU reads every step, so here the accelerator's schedule is forced on the CPU and compared
with the per-step one: the same log, the same checkpoints, and a divergence stopped at the
same step with the same message, even when steps have already run past it.
"""

from __future__ import annotations

import math

import pytest
import torch
from test_train_loop import _run  # the same small SQuAD run (tests/ is on sys.path)
from train_support import read_log, tiny_config, write_squad_records

import bertkit.train.trainer as trainer
from bertkit.train.trainer import NonFiniteLossError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def data(tmp_path):
    return write_squad_records(tmp_path / "d" / "train.tf_record", 96)


def _read_every(monkeypatch, steps: int) -> None:
    monkeypatch.setattr(trainer, "_steps_per_read", lambda device: steps)


def _poison(monkeypatch, name: str, at_step: int, value: float) -> None:
    """From optimizer step ``at_step`` on, the trainer's ``name`` (the loss's mean over ranks
    or the gradient clip) returns ``value`` where it would return the real figure."""
    real = getattr(trainer, name)
    calls = {"count": 0}

    def poisoned(*args, **kwargs):
        calls["count"] += 1
        result = real(*args, **kwargs)
        return result * value if calls["count"] >= at_step else result

    monkeypatch.setattr(trainer, name, poisoned)


def _diverge(monkeypatch, at_step: int, gradient: float, loss: bool) -> None:
    """A real divergence at ``at_step``: every gradient becomes ``gradient`` before the clip
    (so the update breaks the weights), and with ``loss`` the step's loss reads NaN too."""
    real = trainer.clip_global_norm
    calls = {"count": 0}

    def clip(parameters, max_norm):
        parameters = list(parameters)
        calls["count"] += 1
        if calls["count"] == at_step:
            for parameter in parameters:
                parameter.grad.fill_(gradient)
        return real(parameters, max_norm)

    monkeypatch.setattr(trainer, "clip_global_norm", clip)
    if loss:
        _poison(monkeypatch, "mean_over_ranks", at_step, math.nan)


def _outcome(run_dir, error) -> tuple:
    """Message, logged (step, loss, lr), checkpoints left, whether model/ was written."""
    logged = [(row["step"], row["loss"], row["lr"]) for row in read_log(run_dir)]
    return (str(error).replace(str(run_dir), "RUN"), logged,
            sorted(path.name for path in run_dir.glob("checkpoint-*")),
            (run_dir / "model").exists())


def test_reading_every_few_steps_logs_every_step_as_reading_each(tmp_path, data, monkeypatch):
    config = tiny_config(tmp_path / "cfg")
    each = read_log(_run(tmp_path, "each", data, config, max_steps=11).run_dir)
    _read_every(monkeypatch, 4)
    grouped = read_log(_run(tmp_path, "grouped", data, config, max_steps=11).run_dir)
    assert [row["step"] for row in grouped] == list(range(1, 12))
    assert [(row["loss"], row["lr"]) for row in grouped] == \
        [(row["loss"], row["lr"]) for row in each]
    assert all(row["step_time"] > 0 and row["seq_per_s"] > 0 for row in grouped)


@pytest.mark.parametrize(("gradient", "loss", "what"), [
    (math.nan, True, "loss is nan"),
    (math.inf, False, "gradient norm is inf"),
])
def test_a_divergence_found_late_stops_as_it_would_have_at_once(tmp_path, data, monkeypatch,
                                                                 gradient, loss, what):
    """Step 7 diverges; with reads every 5 steps and a checkpoint every 4, the read before
    checkpoint-8 finds it, after step 8 has already run on the broken weights."""
    config = tiny_config(tmp_path / "cfg")
    outcomes = []
    for run, every in (("each", 1), ("grouped", 5)):
        _read_every(monkeypatch, every)
        _diverge(monkeypatch, 7, gradient, loss)
        with pytest.raises(NonFiniteLossError) as caught:
            _run(tmp_path, run, data, config, max_steps=12, save_steps=4)
        monkeypatch.undo()
        outcomes.append(_outcome(tmp_path / run, caught.value))
    each, grouped = outcomes
    assert f"training stopped at step 7: {what}" in each[0]
    assert "kept RUN/checkpoint-4" in each[0]
    assert [step for step, _, _ in each[1]] == [1, 2, 3, 4, 5, 6]
    assert each[2] == ["checkpoint-4"] and not each[3]
    assert grouped == each


def test_steps_finished_before_an_error_are_logged(tmp_path, data, monkeypatch):
    config = tiny_config(tmp_path / "cfg")
    _read_every(monkeypatch, 5)
    real = trainer._model_inputs
    calls = {"count": 0}

    def failing(batch, device):
        calls["count"] += 1
        if calls["count"] == 3:
            raise KeyboardInterrupt
        return real(batch, device)

    monkeypatch.setattr(trainer, "_model_inputs", failing)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "run", data, config, max_steps=8)
    assert [row["step"] for row in read_log(tmp_path / "run")] == [1, 2]


def test_a_divergence_before_another_error_is_the_error_reported(tmp_path, data, monkeypatch):
    """A per-step check would have stopped at the divergence, before the later error."""
    config = tiny_config(tmp_path / "cfg")
    _read_every(monkeypatch, 5)
    _poison(monkeypatch, "mean_over_ranks", 2, math.nan)
    real = trainer._model_inputs
    calls = {"count": 0}

    def failing(batch, device):
        calls["count"] += 1
        if calls["count"] == 4:
            raise RuntimeError("a later failure")
        return real(batch, device)

    monkeypatch.setattr(trainer, "_model_inputs", failing)
    with pytest.raises(NonFiniteLossError, match="training stopped at step 2: loss is nan"):
        _run(tmp_path, "run", data, config, max_steps=8)
    assert [row["step"] for row in read_log(tmp_path / "run")] == [1]


def test_clip_global_norm_leaves_the_norm_on_the_device():
    """No host sync inside the step: the norm comes back as a tensor."""
    parameter = torch.nn.Parameter(torch.zeros(2))
    parameter.grad = torch.tensor([3.0, 4.0])
    for max_norm in (1.0, 0.0):
        norm = trainer.clip_global_norm([parameter], max_norm)
        assert isinstance(norm, torch.Tensor) and norm.dim() == 0
