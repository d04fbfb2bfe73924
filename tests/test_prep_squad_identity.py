"""`prep squad` against Google's converter (PyPI bert-tensorflow), record for record.

The oracle is Google's own `read_squad_examples` + `convert_examples_to_features` with
`FullTokenizer`, with train examples pre-shuffled by `random.Random(12345)` as its `main()`
does. Slices of the real files run by default; the full files are marked `oracle` (CI runs them).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from bertkit.prep.squad.convert import SquadPrepOptions, prep_squad
from bertkit.prep.squad.sidecar import load_squad_eval_data
from bertkit.tfrecord import read_records

DEV_V1 = Path("squad_v1.1/dev-v1.1.json")
TRAIN_V1 = Path("squad_v1.1/train-subset-du2017-test-v1.1.json")
DEV_V2 = Path("squad_v2.0/cs224n-dev-v2.0.json")

TRAIN_COLUMNS = (
    "unique_ids",
    "input_ids",
    "input_mask",
    "segment_ids",
    "start_positions",
    "end_positions",
    "is_impossible",
)
EVAL_COLUMNS = ("unique_ids", "input_ids", "input_mask", "segment_ids")


def google_features(
    path: Path,
    vocab: Path,
    *,
    is_training: bool,
    version_2: bool = False,
    shuffle: bool = True,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
    do_lower_case: bool = True,
) -> tuple[list[Any], list[Any]]:
    """Google's examples and features, exactly as run_squad.main would produce them."""
    from google_oracle import google_run_squad, google_tokenization

    run_squad = google_run_squad()
    run_squad.FLAGS.version_2_with_negative = version_2
    examples = run_squad.read_squad_examples(str(path), is_training=is_training)
    if is_training and shuffle:
        random.Random(12345).shuffle(examples)
    tokenizer = google_tokenization().FullTokenizer(str(vocab), do_lower_case=do_lower_case)
    features: list[Any] = []
    run_squad.convert_examples_to_features(
        examples,
        tokenizer,
        max_seq_length,
        doc_stride,
        max_query_length,
        is_training,
        features.append,
    )
    return examples, features


def google_rows(feature: Any, is_training: bool) -> dict[str, list[int]]:
    rows = {
        "unique_ids": [feature.unique_id],
        "input_ids": list(feature.input_ids),
        "input_mask": list(feature.input_mask),
        "segment_ids": list(feature.segment_ids),
    }
    if is_training:
        rows["start_positions"] = [feature.start_position]
        rows["end_positions"] = [feature.end_position]
        rows["is_impossible"] = [1 if feature.is_impossible else 0]
    return rows


def assert_identical(source: Path, vocab: Path, outdir: Path, *, split: str,
                     version_2: bool = False, workers: int = 1, **window: int) -> None:
    is_training = split == "train"
    result = prep_squad(
        source,
        outdir,
        SquadPrepOptions(split=split, version_2_with_negative=version_2, **window),
        vocab=vocab,
        workers=workers,
    )
    examples, features = google_features(
        source, vocab, is_training=is_training, version_2=version_2, **window
    )
    records = list(read_records(result.record_path))
    assert len(records) == len(features) == result.num_features
    assert result.num_examples == len(examples)
    columns = TRAIN_COLUMNS if is_training else EVAL_COLUMNS
    for index, (record, feature) in enumerate(zip(records, features)):
        assert sorted(record) == sorted(columns), index
        expected = google_rows(feature, is_training)
        for name in columns:
            assert record[name].tolist() == expected[name], (index, name)
    if not is_training:
        assert_sidecar_identical(outdir, examples, features)


def assert_sidecar_identical(outdir: Path, examples: list[Any], features: list[Any]) -> None:
    data = load_squad_eval_data(outdir)
    assert len(data.examples) == len(examples)
    for ours, theirs in zip(data.examples, examples):
        assert (ours.qas_id, ours.question_text, ours.doc_tokens) == (
            theirs.qas_id,
            theirs.question_text,
            theirs.doc_tokens,
        )
    assert len(data.features) == len(features)
    for ours, theirs in zip(data.features, features):
        assert ours.unique_id == theirs.unique_id
        assert ours.example_index == theirs.example_index
        assert ours.doc_span_index == theirs.doc_span_index
        assert ours.tokens == theirs.tokens
        assert ours.token_to_orig_map == theirs.token_to_orig_map
        assert ours.token_is_max_context == theirs.token_is_max_context


def write_slice(
    source: Path,
    target: Path,
    articles: slice,
    paragraphs: slice = slice(None),
    one_answer: bool = False,
) -> Path:
    document = json.loads(source.read_text(encoding="utf-8"))
    document["data"] = document["data"][articles]
    for article in document["data"]:
        article["paragraphs"] = article["paragraphs"][paragraphs]
        if one_answer:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    qa["answers"] = qa["answers"][:1]
    target.write_text(json.dumps(document), encoding="utf-8")
    return target


# --- default: slices of the real files ----------------------------------------------------


def test_dev_v1_slice_eval_identical(
    shared_data: Path, uncased_vocab: Path, tmp_path: Path
) -> None:
    source = write_slice(shared_data / DEV_V1, tmp_path / "dev.json", slice(1, 3), slice(0, 15))
    assert_identical(source, uncased_vocab, tmp_path / "out", split="eval")


def test_train_slice_identical_with_google_shuffle(
    shared_data: Path, uncased_vocab: Path, tmp_path: Path
) -> None:
    source = write_slice(shared_data / TRAIN_V1, tmp_path / "train.json", slice(0, 2), slice(0, 20))
    assert_identical(source, uncased_vocab, tmp_path / "out", split="train", workers=2)


def test_short_windows_many_spans_identical(
    shared_data: Path, uncased_vocab: Path, tmp_path: Path
) -> None:
    """Small windows force many overlapping spans: max-context ties and out-of-span answers."""
    # (source, split, articles, paragraphs, max_seq_length, doc_stride, max_query_length)
    cases = (
        (TRAIN_V1, "train", slice(3, 4), slice(0, 8), 64, 16, 12),
        (DEV_V1, "eval", slice(0, 1), slice(0, 6), 48, 7, 9),
    )
    for data, split, articles, paragraphs, seq_length, stride, query_length in cases:
        source = write_slice(shared_data / data, tmp_path / f"{split}.json", articles, paragraphs)
        assert_identical(source, uncased_vocab, tmp_path / split, split=split,
                         max_seq_length=seq_length, doc_stride=stride,
                         max_query_length=query_length)


def test_v2_slice_eval_and_train_identical(
    shared_data: Path, uncased_vocab: Path, tmp_path: Path
) -> None:
    source = write_slice(shared_data / DEV_V2, tmp_path / "dev2.json", slice(0, 1), slice(0, 12))
    assert_identical(source, uncased_vocab, tmp_path / "eval", split="eval", version_2=True)
    one = write_slice(
        shared_data / DEV_V2, tmp_path / "train2.json", slice(0, 1), slice(0, 12), one_answer=True
    )
    assert_identical(one, uncased_vocab, tmp_path / "train", split="train", version_2=True)


# --- oracle: the full files -----------------------------------------------------------------


@pytest.mark.oracle
def test_full_dev_v1_eval_identical(shared_data: Path, uncased_vocab: Path, tmp_path: Path) -> None:
    assert_identical(shared_data / DEV_V1, uncased_vocab, tmp_path, split="eval", workers=2)


@pytest.mark.oracle
def test_full_train_subset_identical(
    shared_data: Path, uncased_vocab: Path, tmp_path: Path
) -> None:
    assert_identical(shared_data / TRAIN_V1, uncased_vocab, tmp_path, split="train", workers=2)


@pytest.mark.oracle
def test_full_v2_eval_identical(shared_data: Path, uncased_vocab: Path, tmp_path: Path) -> None:
    assert_identical(
        shared_data / DEV_V2, uncased_vocab, tmp_path, split="eval", version_2=True, workers=2
    )


@pytest.mark.oracle
def test_full_v2_train_one_answer_identical(
    shared_data: Path, uncased_vocab: Path, tmp_path: Path
) -> None:
    source = write_slice(
        shared_data / DEV_V2, tmp_path / "train2.json", slice(None), one_answer=True
    )
    assert_identical(
        source, uncased_vocab, tmp_path / "out", split="train", version_2=True, workers=2
    )


def test_hand_made_edge_cases_identical(uncased_vocab: Path, tmp_path: Path) -> None:
    """Empty contexts, Google's odd whitespace (U+202F splits doc tokens, U+00A0 does not),
    control characters, accents, CJK, over-long questions and answers that are sub-words."""
    long_question = " ".join(["why"] * 80) + "?"
    context = (
        "Caf\u00e9\u202fM\u00fcller\u00a0(1895\u20131943) sold t\u00e9a\u200b, "
        "\u6771\u4eac coffee.\tNe\u0301ve\r\nr again! Japanese electronics lead."
    )
    japan = context.index("Japanese")
    paragraphs = [
        {"context": "", "qas": [{"id": "empty", "question": "Anything?", "answers": []}]},
        {
            "context": context,
            "qas": [
                {
                    "id": "q1",
                    "question": "Who sold tea?",
                    "answers": [
                        {"text": "M\u00fcller", "answer_start": context.index("M\u00fcller")}
                    ],
                },
                {
                    "id": "q2",
                    "question": "When was he born?",
                    "answers": [{"text": "1895", "answer_start": context.index("1895")}],
                },
                {
                    "id": "q3",
                    "question": long_question,
                    "answers": [{"text": "Japan", "answer_start": japan}],
                },
                {
                    "id": "q4",
                    "question": "Where?",
                    "answers": [{"text": "\u6771\u4eac", "answer_start": context.index("\u6771")}],
                },
            ],
        },
    ]
    document = {"version": "1.1", "data": [{"title": "Edge", "paragraphs": paragraphs}]}
    source = tmp_path / "edge.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    window = {"max_seq_length": 40, "doc_stride": 5, "max_query_length": 12}
    assert_identical(source, uncased_vocab, tmp_path / "eval", split="eval", **window)
    document["data"][0]["paragraphs"] = paragraphs[1:]  # training needs answers
    source.write_text(json.dumps(document), encoding="utf-8")
    assert_identical(source, uncased_vocab, tmp_path / "train", split="train", **window)
    result = prep_squad(
        source,
        tmp_path / "train",
        SquadPrepOptions(split="train", **window),
        vocab=uncased_vocab,
        workers=1,
    )
    assert result.truncated_questions == 1
