"""The end-of-run tables for `prep squad` (stderr, for people)."""

from __future__ import annotations

from bertkit.console import info
from bertkit.prep.outputs import print_distribution, print_summary
from bertkit.prep.squad.convert import SquadPrepResult

SKIPPED_SHOWN = 5


def print_squad_summary(result: SquadPrepResult) -> None:
    print_summary(
        f"prep squad -> {result.record_path}",
        [
            ("examples", result.num_examples),
            ("features", result.num_features),
            ("skipped answers", len(result.skipped)),
            *_chinese_rows(result),
            ("truncated questions", result.truncated_questions),
        ],
    )
    for item in result.skipped[:SKIPPED_SHOWN]:
        where = f"not in {item.found!r}" if item.found else f"({item.reason})"
        info(f"  skipped {item.qas_id}: answer {item.expected!r} {where}")
    if len(result.skipped) > SKIPPED_SHOWN:
        info(f"  ... and {len(result.skipped) - SKIPPED_SHOWN} more (listed in manifest.json)")
    print_distribution(
        "windows per example", {str(key): value for key, value in result.windows_histogram.items()}
    )


def _chinese_rows(result: SquadPrepResult) -> list[tuple[str, object]]:
    if result.doc_tokens == "whitespace":
        return []
    return [("doc tokens", result.doc_tokens), ("repaired answers", len(result.repaired))]


def print_first_features(result: SquadPrepResult, count: int = 3) -> None:
    """--verbose: the first features as tokens, the way Google's converter logs them."""
    from bertkit.prep.pipeline import tokenizer_for
    from bertkit.tfrecord import read_records

    tokenizer = tokenizer_for(result.tokenizer)
    for number, record in enumerate(read_records(result.record_path)):
        if number == count:
            break
        length = int(record["input_mask"].sum())
        tokens = tokenizer.convert_ids_to_tokens(record["input_ids"][:length].tolist())
        details = "  ".join(
            f"{name}={record[name][0]}"
            for name in ("unique_ids", "start_positions", "end_positions", "is_impossible")
            if name in record
        )
        info(f"feature {number}: {details}")
        info("  " + " ".join(tokens))
