"""The CPU lane-mask dropout: its drop rate, its scaling, and eval mode.

The keep probability is quantised to 1/65536, so p = 0.1 keeps 58982/65536 = 0.8999939 of
the elements (measured by hand: 0.89999), and survivors are scaled by 65536/58982, the
inverse of that quantised probability, so a dropped-out tensor keeps its input's mean.
"""

from __future__ import annotations

import math

import pytest
import torch

from bertkit.train.dropout import (
    LANES,
    FastDropout,
    attention_with_lane_dropout,
    keep_mask,
    quantised_keep,
)

ELEMENTS = 1 << 22  # 4M: the keep rate's standard deviation is about 1.5e-4 at p = 0.1


def _within(rate: float, expected: float, count: int) -> bool:
    """Within 6 standard deviations of a binomial proportion: a false alarm about once
    in 10^9 runs, while a lane or offset mistake moves the rate by 0.01 or more."""
    return abs(rate - expected) <= 6 * math.sqrt(expected * (1 - expected) / count)


def test_quantised_keep_for_the_usual_probability():
    threshold, scale = quantised_keep(0.1)
    assert threshold == 58982  # round(0.9 * 65536)
    assert scale == 65536 / 58982
    assert quantised_keep(0.0) == (LANES, 1.0)
    assert quantised_keep(1.0) == (0, 0.0)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.02, 0.9])
def test_drop_rate_over_many_elements_and_in_every_lane(p):
    torch.manual_seed(1)
    dropout = FastDropout(p).train()
    out = dropout(torch.ones(ELEMENTS))
    kept = out != 0
    expected = dropout.keep_threshold / LANES
    assert _within(kept.float().mean().item(), expected, ELEMENTS)
    # Each int64 draw feeds four consecutive elements, one 16-bit lane each: every lane,
    # the top one holding the sign bit included, must keep at the same rate.
    for lane in range(4):
        rate = kept[lane::4].float().mean().item()
        assert _within(rate, expected, ELEMENTS // 4), f"lane {lane}: {rate}"


def test_keep_rate_for_p_point_one_is_the_hand_measured_figure():
    torch.manual_seed(2)
    out = FastDropout(0.1).train()(torch.ones(ELEMENTS))
    rate = (out != 0).float().mean().item()
    assert 58982 / LANES == pytest.approx(0.89999, abs=1e-5)
    assert _within(rate, 58982 / LANES, ELEMENTS)


def test_kept_values_are_scaled_by_the_inverse_keep_rate_and_dropped_ones_are_zero():
    torch.manual_seed(3)
    hidden = torch.randn(64, 1000) + 5.0  # never 0, so a 0 in the output means dropped
    dropout = FastDropout(0.1).train()
    out = dropout(hidden)
    kept = out != 0
    assert 0 < kept.sum() < hidden.numel()
    scale = torch.tensor(65536 / 58982, dtype=torch.float32)
    assert torch.equal(out[kept], hidden[kept] * scale)  # bit for bit: one multiply
    # The scale makes the dropped-out tensor an unbiased estimate of its input.
    ones = dropout(torch.ones(ELEMENTS))
    mean_sd = math.sqrt((65536 / 58982 - 1) / ELEMENTS)  # sd of the mean of scale*Bernoulli
    assert abs(ones.mean().item() - 1.0) <= 6 * mean_sd


def test_add_to_is_the_residual_plus_the_dropped_out_branch():
    torch.manual_seed(4)
    hidden, residual = torch.randn(32, 500) + 5.0, torch.randn(32, 500)
    dropout = FastDropout(0.1).train()
    out = dropout.add_to(hidden, residual)
    dropped = out == residual
    assert _within(1 - dropped.float().mean().item(), 58982 / LANES, hidden.numel())
    torch.testing.assert_close(out[~dropped], residual[~dropped] + hidden[~dropped] * 65536 / 58982,
                               rtol=1e-6, atol=1e-6)


def test_eval_mode_and_zero_probability_are_the_identity():
    hidden = torch.randn(8, 16)
    assert FastDropout(0.1).eval()(hidden) is hidden
    assert FastDropout(0.0).train()(hidden) is hidden
    assert FastDropout(1e-7).train()(hidden) is hidden  # rounds to keeping every lane
    residual = torch.randn(8, 16)
    assert torch.equal(FastDropout(0.1).eval().add_to(hidden, residual), hidden + residual)


def test_masks_follow_the_torch_seed():
    dropout = FastDropout(0.1).train()
    torch.manual_seed(5)
    first = dropout(torch.ones(1000))
    torch.manual_seed(5)
    assert torch.equal(dropout(torch.ones(1000)), first)
    assert not torch.equal(dropout(torch.ones(1000)), first)


def test_keep_mask_for_a_count_that_is_not_a_multiple_of_four():
    torch.manual_seed(6)
    mask = keep_mask(torch.Size([3, 7]), 58982, 1.0, torch.empty(0))
    assert mask.shape == (3, 7) and set(mask.unique().tolist()) <= {0.0, 1.0}


def test_attention_with_lane_dropout_masks_the_probabilities_and_rescales_the_context():
    torch.manual_seed(7)
    query, key, value = (torch.randn(2, 4, 9, 8) for _ in range(3))
    bias = torch.zeros(2, 1, 1, 9)
    bias[1, ..., 6:] = torch.finfo(torch.float32).min  # padding in the second row
    dropout = FastDropout(0.1).train()
    torch.manual_seed(8)
    got = attention_with_lane_dropout(query, key, value, bias, dropout)
    probs = torch.softmax(query @ key.transpose(-1, -2) + bias, dim=-1)
    torch.manual_seed(8)  # the same draw as inside: one mask over the probabilities
    mask = keep_mask(probs.shape, dropout.keep_threshold, 1.0, probs)
    assert 0 < mask.sum() < mask.numel()
    expected = (probs * mask) @ value * (65536 / 58982)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
