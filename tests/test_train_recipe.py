"""The training recipe against values worked out by hand, not against bertkit's own helpers.

- warmup steps: Google's `optimization.py` computes `int(num_train_steps * warmup_proportion)`,
  which rounds down; the cases below are chosen where rounding up or to nearest differs;
- gradient accumulation: k micro-batches of B/k must leave the same parameter gradients as one
  batch of B (so also the same SGD update with clipping off) -- logged losses alone cannot see a
  backward on the unscaled loss, since Adam and clipping hide a gradient scaled by k;
- global-norm clipping on a case small enough to do on paper.
"""

from __future__ import annotations

import pytest
import torch
from test_train_loop import _run as _train  # the same small SQuAD run (tests/ is on sys.path)
from train_support import read_log, tiny_config, write_squad_records

import bertkit.train.trainer as trainer
from bertkit.train.optim import clip_global_norm, warmup_steps_for

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(("total", "proportion", "expected"), [
    (10, 0.15, 1),     # 1.5 -> 1 (rounding up or to nearest would say 2)
    (99, 0.1, 9),      # 9.9 -> 9
    (7, 0.5, 3),       # 3.5 -> 3
    (1000, 0.1, 100),  # float 100.00000000000001 -> 100 (exact multiple stays)
    (3, 0.3, 0),       # 0.9 -> 0: no warmup at all
    (36, 0.25, 9),
])
def test_warmup_steps_round_down_like_google(total, proportion, expected):
    assert warmup_steps_for(total, proportion) == expected


def test_trainer_warmup_rounds_down_in_the_learning_rates_it_uses(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 32)
    result = _train(tmp_path, "run", data, tiny_config(tmp_path / "cfg"), max_steps=10,
                    warmup_proportion=0.15)
    lrs = [record["lr"] for record in read_log(result.run_dir)]
    # int(10 * 0.15) = 1 warmup step: 0 at step 0, the peak at step 1, then linear to 0 at 10.
    expected = [0.0] + [1e-3 * (10 - step) / 9 for step in range(1, 10)]
    assert lrs == pytest.approx(expected, abs=1e-12)


def _record_steps(monkeypatch) -> list[dict[str, list[torch.Tensor]]]:
    """Plain SGD instead of AdamW, and a copy of every parameter and gradient at the moment the
    trainer clips (after the micro-batches, before the update)."""
    seen: list[dict[str, list[torch.Tensor]]] = []

    def sgd(model, *, lr, weight_decay):
        return torch.optim.SGD(model.parameters(), lr=lr)

    def recording_clip(parameters, max_norm):
        parameters = list(parameters)
        seen.append({"params": [p.detach().clone() for p in parameters],
                     "grads": [p.grad.detach().clone() for p in parameters]})
        return clip_global_norm(parameters, max_norm)

    monkeypatch.setattr(trainer, "make_optimizer", sgd)
    monkeypatch.setattr(trainer, "clip_global_norm", recording_clip)
    return seen


def test_accumulation_leaves_the_gradients_of_one_big_batch(tmp_path, monkeypatch):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 64)
    config = tiny_config(tmp_path / "cfg", hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)
    seen = _record_steps(monkeypatch)
    common = {"max_grad_norm": 0.0, "warmup_proportion": 0.0, "lr": 0.5, "max_steps": 3}
    _train(tmp_path, "whole", data, config, batch_size=8, grad_accum=1, **common)
    whole, seen[:] = list(seen), []
    _train(tmp_path, "accum", data, config, batch_size=2, grad_accum=4, **common)
    accumulated = list(seen)

    assert len(whole) == len(accumulated) == 3
    for step, (one, many) in enumerate(zip(whole, accumulated)):
        # The weights each step starts from (equal SGD updates so far) ...
        for a, b in zip(one["params"], many["params"]):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6, msg=f"weights, step {step}")
        # ... and the gradient of the mean loss over the same 8 records.
        for a, b in zip(one["grads"], many["grads"]):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6, msg=f"grads, step {step}")
    moved = sum(float((a - b).abs().sum()) for a, b in
                zip(whole[0]["params"], whole[-1]["params"]))
    assert moved > 0.0  # the updates were not all zero


def test_global_norm_clip_on_a_hand_case():
    first = torch.nn.Parameter(torch.zeros(2))
    second = torch.nn.Parameter(torch.zeros(1))
    first.grad = torch.tensor([3.0, 0.0])
    second.grad = torch.tensor([4.0])  # joint norm sqrt(9 + 16) = 5
    assert clip_global_norm([first, second], 1.0) == pytest.approx(5.0)
    assert first.grad.tolist() == pytest.approx([0.6, 0.0], abs=1e-6)
    assert second.grad.tolist() == pytest.approx([0.8], abs=1e-6)

    # Already inside the bound: untouched; and the same as torch's own clip on the same case.
    inside = [torch.nn.Parameter(torch.zeros(2)) for _ in range(2)]
    peer = [torch.nn.Parameter(torch.zeros(2)) for _ in range(2)]
    for ours, theirs, values in zip(inside, peer, ([0.3, 0.4], [0.0, 0.0])):
        ours.grad, theirs.grad = torch.tensor(values), torch.tensor(values)
    assert clip_global_norm(inside, 1.0) == pytest.approx(0.5)
    assert float(torch.nn.utils.clip_grad_norm_(peer, 1.0)) == pytest.approx(0.5)
    assert [p.grad.tolist() for p in inside] == [p.grad.tolist() for p in peer] == \
        [pytest.approx([0.3, 0.4]), [0.0, 0.0]]

    # Clipping off (max_norm 0) reports the norm and changes nothing.
    first.grad = torch.tensor([6.0, 8.0])
    assert clip_global_norm([first], 0.0) == pytest.approx(10.0)
    assert first.grad.tolist() == [6.0, 8.0]
