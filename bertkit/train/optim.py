"""The BERT fine-tuning optimiser: AdamW, linear warmup then linear decay, global-norm clip.

Google's `optimization.py` recipe (reference-formats.md A.6): weight decay 0.01 on every
weight except biases and LayerNorm parameters, epsilon 1e-6, learning rate rising
linearly from 0 over the warmup steps and falling linearly to 0 at the last step, and
gradients clipped by their global norm. One deliberate difference: torch's AdamW applies
Adam's bias correction, which Google's `AdamWeightDecayOptimizer` omits; it matters only
in the first few hundred steps and is what the PyTorch ports (HF, NVIDIA) do.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

ADAM_EPSILON = 1e-6
ADAM_BETAS = (0.9, 0.999)
# Substrings of parameter names that get no weight decay (Google: "LayerNorm", "layer_norm", "bias").
NO_DECAY_MARKERS = ("bias", "LayerNorm", "layer_norm")


def uses_weight_decay(parameter_name: str) -> bool:
    return not any(marker in parameter_name for marker in NO_DECAY_MARKERS)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (decay if uses_weight_decay(name) else no_decay).append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(model: nn.Module, *, lr: float, weight_decay: float) -> torch.optim.AdamW:
    # The fused kernel (what HF's Trainer picks by default on torch >= 2.8) is one launch per
    # step on GPUs and ~10x faster than the per-tensor loop on CPU, where torch would
    # otherwise fall back to that loop. Older torch builds without it get the foreach path.
    groups = parameter_groups(model, weight_decay)
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPSILON, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPSILON, foreach=True)


def warmup_steps_for(total_steps: int, warmup_proportion: float) -> int:
    return int(total_steps * warmup_proportion)


def linear_warmup_decay_factor(step: int, *, warmup_steps: int, total_steps: int) -> float:
    """Multiplier of the peak learning rate for optimizer step ``step`` (0-based)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def make_scheduler(optimizer: torch.optim.Optimizer, *, warmup_steps: int,
                   total_steps: int) -> LambdaLR:
    def factor(step: int) -> float:
        return linear_warmup_decay_factor(step, warmup_steps=warmup_steps,
                                          total_steps=total_steps)

    return LambdaLR(optimizer, factor)


def clip_global_norm(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale all gradients together so their joint L2 norm is at most ``max_norm``.

    Returns the norm before clipping, as a 0-dim tensor on the gradients' device: reading
    it is a host sync on an accelerator, so the caller chooses when (the trainer reads it
    with the loss). ``max_norm <= 0`` disables clipping.
    """
    parameters = [p for p in parameters if p.grad is not None]
    if max_norm <= 0:
        norms = [p.grad.detach().norm() for p in parameters]
        return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm, foreach=True)
