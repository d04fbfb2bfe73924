"""GLUE tasks Google's run_classifier has no processor for (SST-2, STS-B, RTE, WNLI, QNLI, AX),
checked against Google's own code rather than bertkit's encoder.

The processors below are written here from GLUE's published column layouts, reading the TSV
the way Google's `DataProcessor._read_tsv` does (tab-separated, no quote character). Their
examples go through Google's `FullTokenizer` and `convert_single_example`; bertkit's records
must hold the same input_ids, input_mask, segment_ids and label for every row. Test splits have
no label: Google's processors give them the first label (id 0), and so must bertkit.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from bertkit.prep.classification.glue import convert_glue
from bertkit.tfrecord import read_records

MAX_SEQ_LENGTH = 128


# (column of text_a, column of text_b or None, column of the label or None, labels or None for
# a regression score), by GLUE task and split kind.
LAYOUTS = {
    "SST-2": {"labelled": (0, None, 1, ["0", "1"]), "test": (1, None, None, ["0", "1"])},
    "STS-B": {"labelled": (7, 8, 9, None), "test": (7, 8, None, None)},
    "RTE": {"labelled": (1, 2, 3, ["entailment", "not_entailment"]),
            "test": (1, 2, None, ["entailment", "not_entailment"])},
    "WNLI": {"labelled": (1, 2, 3, ["0", "1"]), "test": (1, 2, None, ["0", "1"])},
    "QNLI": {"labelled": (1, 2, 3, ["entailment", "not_entailment"]),
             "test": (1, 2, None, ["entailment", "not_entailment"])},
    # The diagnostic set is unlabelled and is scored with MNLI's three labels.
    "AX": {"test": (1, 2, None, ["contradiction", "entailment", "neutral"])},
}

FAST = [("SST-2", "SST-2/dev.tsv"), ("SST-2", "SST-2/test.tsv"), ("STS-B", "STS-B/dev.tsv"),
        ("STS-B", "STS-B/test.tsv"), ("RTE", "RTE/dev.tsv"), ("WNLI", "WNLI/train.tsv"),
        ("WNLI", "WNLI/dev.tsv"), ("WNLI", "WNLI/test.tsv"), ("AX", "diagnostic/diagnostic.tsv")]
FULL = [("RTE", "RTE/train.tsv"), ("RTE", "RTE/test.tsv"), ("QNLI", "QNLI/dev.tsv"),
        ("QNLI", "QNLI/test.tsv"), ("STS-B", "STS-B/train.tsv"), ("SST-2", "SST-2/train.tsv")]


@pytest.fixture(scope="module")
def google() -> Iterator[tuple[ModuleType, ModuleType]]:
    import google_oracle

    with google_oracle.run_classifier_with_tf1_names() as scripts:
        yield scripts


def hand_written_examples(run_classifier, task: str, path: Path):
    """(InputExample list, label list or None) the way a Google processor would build them."""
    kind = "test" if "test" in path.name or task == "AX" else "labelled"
    a, b, label_column, labels = LAYOUTS[task][kind]
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quotechar=None))
    examples = []
    for number, row in enumerate(rows[1:]):  # every GLUE file has a header line
        if label_column is None:
            label = labels[0] if labels else "0.0"
        else:
            label = row[label_column]
        examples.append(run_classifier.InputExample(
            guid=f"{kind}-{number}", text_a=row[a], text_b=row[b] if b is not None else None,
            label=label))
    return examples, labels


def check_against_google(google, task: str, path: Path, vocab: Path, out: Path) -> None:
    run_classifier, tokenization = google
    result = convert_glue(task, [path], out, vocab=vocab, max_seq_length=MAX_SEQ_LENGTH)
    [split] = result.splits
    ours = list(read_records(split.record_path))
    examples, labels = hand_written_examples(run_classifier, task, path)
    assert len(ours) == len(examples) > 0
    tokenizer = tokenization.FullTokenizer(str(vocab), do_lower_case=True)
    for number, (example, record) in enumerate(zip(examples, ours)):
        # A regression score has no label map: give Google a one-entry list for the label id,
        # and compare the float itself below.
        feature = run_classifier.convert_single_example(
            number, example, labels or [example.label], MAX_SEQ_LENGTH, tokenizer)
        for name in ("input_ids", "input_mask", "segment_ids"):
            assert list(record[name]) == list(getattr(feature, name)), f"row {number} {name}"
        if labels:
            assert list(record["label_ids"]) == [feature.label_id], f"row {number} label"
        else:
            np.testing.assert_allclose(record["label_ids"], [float(example.label)],
                                       rtol=1e-6, err_msg=f"row {number} score")


@pytest.mark.parametrize("task,relative", FAST)
def test_records_equal_google_convert_single_example(task, relative, shared_data, uncased_vocab,
                                                     google, tmp_path) -> None:
    check_against_google(google, task, shared_data / "glue" / relative, uncased_vocab,
                         tmp_path / "out")


@pytest.mark.oracle
@pytest.mark.parametrize("task,relative", FULL)
def test_large_files_equal_google_convert_single_example(task, relative, shared_data,
                                                         uncased_vocab, google, tmp_path) -> None:
    check_against_google(google, task, shared_data / "glue" / relative, uncased_vocab,
                         tmp_path / "out")


def test_layouts_cover_the_tasks_google_has_no_processor_for() -> None:
    assert set(LAYOUTS) == {"SST-2", "STS-B", "RTE", "WNLI", "QNLI", "AX"}
    covered = {task for task, _ in FAST + FULL}
    assert covered == set(LAYOUTS)
