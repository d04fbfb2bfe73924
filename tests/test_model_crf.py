"""The linear-chain CRF against brute force over every tag sequence."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.train.crf import LinearChainCRF

# One torch thread for every test here (conftest.one_torch_thread): they train or backprop.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def brute_force(crf: LinearChainCRF, emissions: torch.Tensor, tags: list[int]) -> tuple[float, list[int]]:
    """(-log p(tags), best path) for ONE unpadded sequence by enumerating all paths."""
    length, num_tags = emissions.shape

    def score(path: tuple[int, ...]) -> torch.Tensor:
        total = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
        total = total + sum(emissions[i, t] for i, t in enumerate(path))
        return total + sum(crf.transitions[a, b] for a, b in itertools.pairwise(path))

    paths = list(itertools.product(range(num_tags), repeat=length))
    scores = torch.stack([score(path) for path in paths])
    nll = torch.logsumexp(scores, 0) - score(tuple(tags))
    return nll.item(), list(paths[int(scores.argmax())])


@st.composite
def crf_cases(draw):
    num_tags = draw(st.integers(2, 3))
    batch = draw(st.integers(1, 3))
    length = draw(st.integers(1, 4))
    masks = [[draw(st.booleans()) for _ in range(length)] for _ in range(batch)]
    masks[0][draw(st.integers(0, length - 1))] = True  # at least one row has a token
    seed = draw(st.integers(0, 2**16))
    return num_tags, masks, seed


@settings(max_examples=40, deadline=None)
@given(crf_cases())
def test_masked_nll_and_viterbi_equal_brute_force_over_valid_positions(case) -> None:
    num_tags, masks, seed = case
    generator = torch.Generator().manual_seed(seed)
    crf = LinearChainCRF(num_tags)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    mask = torch.tensor(masks)
    emissions = torch.randn(*mask.shape, num_tags, generator=generator, dtype=torch.float64)
    tags = torch.randint(0, num_tags, mask.shape, generator=generator)
    crf = crf.double()

    expected_nll = []
    expected_paths = []
    for row in range(mask.shape[0]):
        valid = mask[row].nonzero().flatten()
        if len(valid) == 0:
            expected_paths.append([])
            continue
        nll, path = brute_force(crf, emissions[row, valid], tags[row, valid].tolist())
        expected_nll.append(nll)
        expected_paths.append(path)
    got = crf.neg_log_likelihood(emissions, tags, mask).item()
    assert abs(got - sum(expected_nll) / len(expected_nll)) < 1e-9
    assert crf.viterbi_decode(emissions, mask) == expected_paths


def test_nll_gradients_reach_the_transitions() -> None:
    crf = LinearChainCRF(3)
    emissions = torch.randn(2, 5, 3, requires_grad=True)
    tags = torch.randint(0, 3, (2, 5))
    crf.neg_log_likelihood(emissions, tags, torch.ones(2, 5, dtype=torch.bool)).backward()
    assert crf.transitions.grad.abs().sum() > 0 and emissions.grad.abs().sum() > 0
