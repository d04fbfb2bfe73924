"""What a NER conversion tells people: summary tables on stderr (--json prints the manifest)."""

from __future__ import annotations

from typing import Any

from bertkit.prep.ner.convert import NerConversion, NerSplitResult
from bertkit.prep.ner.features import UNIT_DROPPED, UNIT_SEVERAL_PIECES
from bertkit.prep.outputs import print_distribution, print_summary


def summary_rows(split: NerSplitResult) -> list[tuple[str, Any]]:
    """Core figures always; the rarer ones only when they happened."""
    stats = split.stats
    rows: list[tuple[str, Any]] = [
        ("examples", stats.examples),
        ("truncated examples", stats.truncated_examples),
        ("entities in the input", stats.entities_in),
        ("entities written", stats.entities_written),
        ("overlapping entities dropped", stats.overlapping_dropped),
    ]
    optional = [
        ("entities cut by truncation", stats.entities_cut_by_truncation),
        ("I- tags read as B- (IOB1 input)", stats.repaired_tags),
        ("sentences skipped (-DOCSTART-)", stats.skipped_sentences),
    ]
    rows += [(name, value) for name, value in optional if value]
    rows += [("characters", stats.units), ("characters written as [UNK]", stats.unknown_units)]
    optional = [
        ("  of which the tokenizer drops", stats.unit_kinds.get(UNIT_DROPPED, 0)),
        ("characters split into pieces (first kept)",
         stats.unit_kinds.get(UNIT_SEVERAL_PIECES, 0)),
    ]
    rows += [(name, value) for name, value in optional if value]
    rows.append(("records", str(split.record_path)))
    return rows


def print_ner_summary(result: NerConversion, dataset: str) -> None:
    """Per split: the summary table and the entities-per-type distribution, on stderr."""
    for split in result.splits:
        print_summary(f"{dataset} {split.split} ({split.input.name})", summary_rows(split))
        if split.stats.entity_types:
            print_distribution(f"{dataset} {split.split}: entities per type",
                               dict(split.stats.entity_types.most_common()))


def print_first_records(result: NerConversion, count: int = 3) -> None:
    """--verbose: the first records of each split as `char/id/label` triples (Google's habit
    of dumping the first converted features is the cheapest check of a converter)."""
    from itertools import islice

    from bertkit.console import info
    from bertkit.prep.ner.sidecar import load_ner_sidecar
    from bertkit.tfrecord import read_records

    id2label = {index: label for label, index in result.label2id.items()}
    for split in result.splits:
        sidecar = load_ner_sidecar(split.sidecar_path)
        for record, entry in islice(zip(read_records(split.record_path), sidecar), count):
            triples = []
            for position, pair in enumerate(entry.offsets):
                text = "[CLS]" if position == 0 else "[SEP]" if pair is None else (
                    entry.text[pair[0]:pair[1]])
                label = id2label.get(int(record["label_ids"][position]), "?")
                triples.append(f"{text}/{int(record['input_ids'][position])}/{label}")
            info(f"{split.split} record {entry.record} (line {entry.line}): " + " ".join(triples))
