"""The one generic loop: apply a name table to a foreign checkpoint.

Every source name ends up in exactly one bucket: mapped (renamed, transposed where the table
says so), ignored (known non-model state: optimizer slots, step counters, pre-training
heads) or unexpected (unknown; reported, never silently dropped). Tensors are read lazily, so
optimizer slots three times the model's size are never loaded.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable

import torch

from bertkit.errors import BertkitError
from bertkit.train.checkpoints.name_maps import TRANSPOSE, Rule

ENCODER_PREFIX = "bert."  # where our head models keep the encoder


@dataclasses.dataclass
class MappedWeights:
    """Tensors under our full names (``bert.encoder...``, ``qa_outputs.weight``)."""

    tensors: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    source_names: dict[str, str] = dataclasses.field(default_factory=dict)
    ignored: list[str] = dataclasses.field(default_factory=list)
    unexpected: list[str] = dataclasses.field(default_factory=list)


def map_names(
    names: Iterable[str],
    read: Callable[[str], torch.Tensor],
    *,
    encoder_rules: Iterable[Rule],
    head_rules: Iterable[Rule],
    ignored: re.Pattern[str],
    encoder_prefix: str = "",
    head_prefix: str = "",
) -> MappedWeights:
    compiled = [
        (re.compile(re.escape(encoder_prefix) + rule.pattern().pattern), rule, ENCODER_PREFIX)
        for rule in encoder_rules
    ] + [
        (re.compile(re.escape(head_prefix) + rule.pattern().pattern), rule, "")
        for rule in head_rules
    ]
    mapped = MappedWeights()
    for name in names:
        for pattern, rule, target_prefix in compiled:
            match = pattern.match(name)
            if match:
                target = target_prefix + rule.target.format(**match.groupdict())
                if target in mapped.tensors:  # two aliases of one tensor: keep the first
                    mapped.unexpected.append(name)
                    break
                tensor = read(name)
                if rule.transform is TRANSPOSE:
                    if tensor.dim() != 2:
                        raise BertkitError(f"{name}: expected a 2-D kernel to transpose, got shape {tuple(tensor.shape)}")
                    tensor = tensor.t().contiguous()
                mapped.tensors[target] = tensor
                mapped.source_names[target] = name
                break
        else:
            (mapped.ignored if ignored.match(name) else mapped.unexpected).append(name)
    return mapped
