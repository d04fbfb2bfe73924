"""Dropout for CPU training: keep-masks from 16-bit random lanes instead of ``bernoulli_``.

On CPU, ``bernoulli_`` masks are several times dearer than the GEMMs around them would
suggest, and SDPA with dropout can only take its "math" path, whose masks cost about a
quarter of attention time. So in CPU training every dropout of the encoder -- embeddings,
attention probabilities, both residual branches -- draws its keep-mask from 16-bit lanes
of one int64 ``random_`` tensor (``keep_mask``), and attention is written out
(``attention_with_lane_dropout``: the same ops as SDPA's math path) so its probabilities
can take that mask. Eval, inference and CUDA keep SDPA and ``F.dropout`` unchanged.

Keep-probabilities are quantised to 1/65536: a lane keeps its element when its uniform
16-bit value is below ``round(keep * 65536)``. The survivors are scaled by the inverse of
that quantised probability, so the expectation of a dropped-out tensor is still exactly its
input (p = 0.1 becomes a drop rate of 6554/65536 = 0.100006).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LANES = 65536  # values of one 16-bit lane


def quantised_keep(dropout_prob: float) -> tuple[int, float]:
    """(keep threshold in 1/65536 units, survivor scale) for a dropout probability."""
    threshold = round((1.0 - dropout_prob) * LANES)
    return threshold, (LANES / threshold if threshold > 0 else 0.0)


def keep_mask(shape: torch.Size, keep_threshold: int, scale: float,
              like: torch.Tensor) -> torch.Tensor:
    """A float tensor of ``shape``: ``scale`` where kept, 0 where dropped.

    One int64 ``random_`` over the full 64-bit range gives four independent uniform 16-bit
    lanes per draw; it uses the default generator, so training stays reproducible from the
    torch seed, like ``bernoulli_``.
    """
    count = shape.numel()
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=like.device)
    words.random_(-(2**63), None)  # full range: all 64 bits random (the default omits the sign)
    lanes = words.view(torch.int16)[:count].view(shape)
    # The comparison writes straight into a float tensor (3x cheaper than bool then .to()).
    # int16 lanes are offset by -32768.
    mask = torch.empty(shape, dtype=like.dtype, device=like.device)
    torch.lt(lanes, keep_threshold - LANES // 2, out=mask)
    return mask.mul_(scale) if scale != 1.0 else mask


class FastDropout(nn.Module):
    """``nn.Dropout`` with the lane mask on CPU in training; ``F.dropout`` elsewhere.

    No parameters or buffers, so state dicts are those of ``nn.Dropout`` (i.e. none).
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.keep_threshold, self.scale = quantised_keep(p)

    def uses_lane_mask(self, hidden: torch.Tensor) -> bool:
        """Whether ``hidden`` gets the lane mask: CPU, training, and a probability above 0."""
        return self.training and self.p > 0.0 and hidden.device.type == "cpu"

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return hidden
        if hidden.device.type != "cpu":
            return F.dropout(hidden, self.p, training=True)
        if self.keep_threshold >= LANES:  # p below 1/131072: nothing would be dropped
            return hidden
        return hidden * keep_mask(hidden.shape, self.keep_threshold, self.scale, hidden)

    def add_to(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``residual + dropout(hidden)``; on the CPU training path one fused ``addcmul``."""
        if self.uses_lane_mask(hidden) and self.keep_threshold < LANES:
            mask = keep_mask(hidden.shape, self.keep_threshold, 1.0, hidden)  # 0/1
            return torch.addcmul(residual, hidden, mask, value=self.scale)
        return self(hidden) + residual

    def extra_repr(self) -> str:
        return f"p={self.p}"


def attention_with_lane_dropout(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    attn_mask: torch.Tensor | None, dropout: FastDropout,
) -> torch.Tensor:
    """SDPA's math path written out, with the lane mask on the probabilities.

    ``query``, ``key``, ``value`` are [B, heads, L, head_dim]; ``query`` must already carry
    the 1/sqrt(head_dim) score scale (the caller folds it into the projection's [H, H]
    weight, cheaper than a pass over the queries). ``attn_mask`` is the additive bias.
    """
    scores = torch.matmul(query, key.transpose(-1, -2))  # query comes pre-scaled
    if attn_mask is not None:
        if scores.dtype == attn_mask.dtype:
            scores.add_(attn_mask)  # in place: matmul's backward does not need its output
        else:
            # bf16 scores under autocast with an fp32 bias: add out of place so the sum
            # (and the softmax) stay fp32; the fp32 minimum would overflow to -inf in
            # bf16 and a fully padded row would turn to NaN.
            scores = scores + attn_mask
    probs = torch.softmax(scores, dim=-1)
    if dropout.keep_threshold >= LANES:
        return torch.matmul(probs, value)
    # A 0/1 mask on the [B, heads, L, L] probabilities and the 1/keep scale on the much
    # smaller [B, heads, L, head_dim] context: one pass over the big tensor saved. In place
    # is safe: matmul's backward needs its inputs, not its output.
    kept = probs * keep_mask(probs.shape, dropout.keep_threshold, 1.0, probs)
    return torch.matmul(kept, value).mul_(dropout.scale)
