"""The summary table `prep pretrain` prints for people (stderr)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bertkit.prep.outputs import print_summary

if TYPE_CHECKING:
    from bertkit.prep.pretrain.pipeline import PretrainResult


def print_pretrain_summary(result: PretrainResult) -> None:
    counts = result.counts
    rows: list[tuple[str, object]] = [
        ("output", str(result.output_dir)),
        ("shards written", result.shards_run),
        ("shards resumed", result.shards_resumed),
        ("documents", counts["documents"]),
        ("sentences", counts["sentences"]),
        ("instances", counts["instances"]),
        ("masked positions", counts["masked_positions"]),
        ("NSP random next", f"{100 * counts['random_next_share']:.1f}%"),
    ]
    if counts.get("wwm_fallbacks"):
        rows.append(("WWM per-piece fallbacks", counts["wwm_fallbacks"]))
    rows.append(("seconds", f"{result.seconds:.1f}"))
    print_summary("prep pretrain", rows)
