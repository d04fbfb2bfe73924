"""The BERT optimiser recipe against transformers' and torch's own implementations."""

from __future__ import annotations

import pytest
import torch

from bertkit.train.config import BertConfig
from bertkit.train.tasks import build_model
from bertkit.train.optim import (
    ADAM_EPSILON,
    clip_global_norm,
    make_optimizer,
    make_scheduler,
    parameter_groups,
    warmup_steps_for,
)


def _tiny_model():
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32)
    return build_model("classification", config, num_labels=3)


def test_no_weight_decay_on_biases_and_layernorm():
    model = _tiny_model()
    decay, no_decay = parameter_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    exempt = {names[id(p)] for p in no_decay["params"]}
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert "bert.embeddings.word_embeddings.weight" in decayed
    assert "classifier.weight" in decayed
    assert "bert.embeddings.LayerNorm.weight" in exempt
    assert "bert.encoder.layer.0.attention.output.LayerNorm.bias" in exempt
    assert all(n.endswith("bias") or "LayerNorm" in n for n in exempt)
    assert decayed | exempt == set(names.values()) and not decayed & exempt
    optimizer = make_optimizer(model, lr=3e-5, weight_decay=0.01)
    assert optimizer.defaults["eps"] == ADAM_EPSILON == 1e-6


@pytest.mark.parametrize(("total", "proportion"), [(100, 0.1), (37, 0.0), (10, 0.25), (1, 0.1)])
def test_schedule_matches_transformers_linear_schedule(total, proportion):
    from transformers import get_linear_schedule_with_warmup

    warmup = warmup_steps_for(total, proportion)
    ours_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-5)
    peer_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-5)
    ours = make_scheduler(ours_opt, warmup_steps=warmup, total_steps=total)
    peer = get_linear_schedule_with_warmup(peer_opt, warmup, total)
    for _ in range(total + 2):
        assert ours.get_last_lr()[0] == pytest.approx(peer.get_last_lr()[0], abs=1e-15)
        ours_opt.step(), peer_opt.step()
        ours.step(), peer.step()
    # Peak at the end of warmup, zero at the last step.
    assert warmup_steps_for(100, 0.1) == 10


def test_global_norm_clip_matches_torch_and_scales_jointly():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(5, 3)) for _ in range(3)]
    copies = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for p, c in zip(params, copies):
        p.grad = torch.randn_like(p) * 4
        c.grad = p.grad.clone()
    norm = clip_global_norm(params, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(copies, 1.0)
    assert norm == pytest.approx(float(expected))
    for p, c in zip(params, copies):
        assert torch.equal(p.grad, c.grad)
    joint = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
    assert float(joint) == pytest.approx(1.0, rel=1e-5)
    # 0 disables clipping but still reports the norm.
    before = [p.grad.clone() for p in params]
    assert clip_global_norm(params, 0.0) == pytest.approx(1.0, rel=1e-5)
    assert all(torch.equal(a, p.grad) for a, p in zip(before, params))
