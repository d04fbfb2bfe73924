"""A linear-chain CRF over per-token emissions, with a mask and Viterbi decoding.

Parameters: ``transitions[i, j]`` scores tag i followed by tag j; ``start_transitions`` and
``end_transitions`` score the first and last tag of a sequence (the role the MindSpore zoo's
extra <START>/<STOP> tags play, without widening the tag set).

Masked positions are *removed*, not skipped: the valid positions of each row are packed to
the left first, so the chain runs over exactly the tokens that carry labels, whether the mask
is the attention mask (a prefix) or a first-word-piece mask with holes in it.
"""

from __future__ import annotations

import torch
from torch import nn


class LinearChainCRF(nn.Module):
    def __init__(self, num_tags: int):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))

    def neg_log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean over the rows that have at least one valid position of -log p(tags | emissions).

        emissions [B, L, T] float, tags [B, L] int (anything at masked positions), mask [B, L].
        """
        mask = mask.bool()
        tags = tags.long().masked_fill(~mask, 0)
        emissions, tags, mask = pack_left(emissions, tags, mask)
        has_tokens = mask[:, 0]
        if not bool(has_tokens.any()):
            return emissions.sum() * 0.0  # keeps the graph connected for DDP
        emissions, tags, mask = emissions[has_tokens], tags[has_tokens], mask[has_tokens]
        nll = self._log_partition(emissions, mask) - self._path_score(emissions, tags, mask)
        return nll.mean()

    def _path_score(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        emitted = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)  # [B, L]
        transition = self.transitions[tags[:, :-1], tags[:, 1:]]  # [B, L-1]
        step_mask = mask.to(emissions.dtype)
        score = self.start_transitions[tags[:, 0]]
        score = score + (emitted * step_mask).sum(dim=1)
        score = score + (transition * step_mask[:, 1:]).sum(dim=1)
        last = mask.sum(dim=1) - 1
        last_tags = tags.gather(1, last.unsqueeze(1)).squeeze(1)
        return score + self.end_transitions[last_tags]

    def _log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        score = self.start_transitions + emissions[:, 0]  # [B, T]
        for step in range(1, emissions.shape[1]):
            candidates = score.unsqueeze(2) + self.transitions + emissions[:, step].unsqueeze(1)
            score = torch.where(mask[:, step, None], torch.logsumexp(candidates, dim=1), score)
        return torch.logsumexp(score + self.end_transitions, dim=1)

    @torch.no_grad()
    def viterbi_decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The best tag sequence over the valid positions of each row (empty for none)."""
        mask = mask.bool()
        placeholder = torch.zeros(mask.shape, dtype=torch.long, device=mask.device)
        emissions, _, mask = pack_left(emissions, placeholder, mask)
        lengths = mask.sum(dim=1).tolist()
        score = self.start_transitions + emissions[:, 0]
        backpointers = []
        for step in range(1, emissions.shape[1]):
            candidates = score.unsqueeze(2) + self.transitions  # [B, from, to]
            best_score, best_from = candidates.max(dim=1)
            backpointers.append(best_from)
            score = torch.where(mask[:, step, None], best_score + emissions[:, step], score)
        score = score + self.end_transitions
        paths: list[list[int]] = []
        for row, length in enumerate(lengths):
            if length == 0:
                paths.append([])
                continue
            tag = int(score[row].argmax())
            path = [tag]
            for step in range(length - 1, 0, -1):
                tag = int(backpointers[step - 1][row, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths


def pack_left(
    emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Move each row's valid positions to the front, keeping their order; the mask becomes
    a prefix mask. A stable sort on "is padding" does exactly that."""
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
    packed_emissions = emissions.gather(1, order.unsqueeze(-1).expand_as(emissions))
    packed_tags = tags.gather(1, order)
    lengths = mask.sum(dim=1, keepdim=True)
    packed_mask = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0) < lengths
    return packed_emissions, packed_tags, packed_mask
