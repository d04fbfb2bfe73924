"""`bertkit prep tnews`: the CLUE baseline's TNEWS features, label ids, duplicates, errors."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from cli_support import one_line_error
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.errors import InputError
from bertkit.prep.classification import convert as classification
from bertkit.prep.classification.tnews import (
    TNEWS_LABELS,
    convert_tnews,
    read_label_descriptions,
    read_tnews_file,
)
from bertkit.tfrecord import read_records

runner = CliRunner()

# CLUE's TnewsProcessor.get_labels, written out: the ids are positions in this list.
CLUE_LABELS = ["100", "101", "102", "103", "104", "106", "107", "108", "109", "110", "112",
               "113", "114", "115", "116"]


@pytest.fixture(scope="module")
def google() -> Iterator[tuple[ModuleType, ModuleType]]:
    """Google's run_classifier + FullTokenizer (CLUE's baseline runs them unchanged)."""
    import google_oracle

    with google_oracle.run_classifier_with_tf1_names() as scripts:
        yield scripts


def parse_with_tensorflow(path: Path) -> list[dict[str, np.ndarray]]:
    import tensorflow as tf

    length = len(next(iter(read_records(path)))["input_ids"])
    spec = {name: tf.io.FixedLenFeature([length], tf.int64)
            for name in ("input_ids", "input_mask", "segment_ids")}
    spec |= {name: tf.io.FixedLenFeature([1], tf.int64)
             for name in ("label_ids", "is_real_example")}
    dataset = tf.data.TFRecordDataset(str(path)).map(
        lambda record: tf.io.parse_single_example(record, spec))
    return [{name: value.numpy() for name, value in row.items()} for row in dataset]


def clue_tnews_records(google, lines: list[str], vocab: Path, tmp_path: Path, *,
                       with_keywords: bool = False, test: bool = False):
    """What CLUE's baseline writes: TnewsProcessor's examples through Google's writer.

    TnewsProcessor: text_a = sentence, label = label ("100" for test); the keywords
    variant puts `keywords` in text_b.
    """
    run_classifier, tokenization = google
    examples = []
    for i, line in enumerate(lines):
        record = json.loads(line)
        examples.append(run_classifier.InputExample(
            guid=f"x-{i}", text_a=tokenization.convert_to_unicode(record["sentence"]),
            text_b=record["keywords"] if with_keywords else None,
            label="100" if test else record["label"]))
    tokenizer = tokenization.FullTokenizer(str(vocab), do_lower_case=True)
    out = tmp_path / "clue.tf_record"
    run_classifier.file_based_convert_examples_to_features(examples, CLUE_LABELS, 128, tokenizer,
                                                           str(out))
    return parse_with_tensorflow(out)


def assert_same_records(ours, theirs) -> None:
    assert len(ours) == len(theirs)
    for number, (mine, clue) in enumerate(zip(ours, theirs)):
        assert mine.keys() == clue.keys()
        for name in clue:
            np.testing.assert_array_equal(mine[name], clue[name], err_msg=f"{number} {name}")


def slice_of(shared_data: Path, name: str, count: int, tmp_path: Path) -> tuple[Path, list[str]]:
    lines = (shared_data / "tnews" / name).read_text(encoding="utf-8").splitlines()[:count]
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


def test_labels_are_clues_fifteen_codes_in_order(shared_data) -> None:
    assert list(TNEWS_LABELS) == CLUE_LABELS
    descriptions = read_label_descriptions(shared_data / "tnews" / "labels.json")
    assert list(descriptions) == CLUE_LABELS
    assert descriptions["114"] == "news_stock"


@pytest.mark.parametrize("with_keywords", [False, True])
def test_dev_slice_equals_clue_baseline_records(with_keywords, shared_data, chinese_vocab,
                                                google, tmp_path) -> None:
    path, lines = slice_of(shared_data, "dev.json", 800, tmp_path)
    convert_tnews([path], tmp_path / "ours", vocab=chinese_vocab, with_keywords=with_keywords,
                  labels_file=shared_data / "tnews" / "labels.json")
    ours = parse_with_tensorflow(tmp_path / "ours" / "dev.tf_record")
    theirs = clue_tnews_records(google, lines, chinese_vocab, tmp_path,
                                with_keywords=with_keywords)
    assert_same_records(ours, theirs)
    if with_keywords:  # the keywords really are in the second segment where present
        has_keywords = [bool(json.loads(line)["keywords"]) for line in lines]
        assert [bool(row["segment_ids"].any()) for row in ours] == has_keywords


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["train.json", "dev.json"])
def test_full_files_equal_clue_baseline_records(name, shared_data, chinese_vocab, google,
                                                tmp_path) -> None:
    path = shared_data / "tnews" / name
    convert_tnews([path], tmp_path / "ours", vocab=chinese_vocab, workers=2)
    split = name.split(".")[0]
    ours = parse_with_tensorflow(tmp_path / "ours" / f"{split}.tf_record")
    lines = path.read_text(encoding="utf-8").splitlines()
    theirs = clue_tnews_records(google, lines, chinese_vocab, tmp_path)
    assert_same_records(ours, theirs)


def check_counts_and_label_ids(report: dict, tmp_path: Path, shared_data: Path,
                               splits: dict[str, int]) -> None:
    counts = report["counts"]
    assert {split: counts[split]["examples"] for split in counts} == splits
    for split in splits:
        lines = (shared_data / "tnews" / f"{split}.json").read_text(encoding="utf-8").splitlines()
        # PROVENANCE: 50,630 distinct train lines and 9,811 distinct dev lines; all are kept.
        assert counts[split]["duplicate_lines_kept"] == len(lines) - len(set(lines))
        expected = Counter(json.loads(line)["label"] for line in lines)
        assert counts[split]["labels"] == {code: expected[code] for code in CLUE_LABELS}
        for suffix in (".tf_record", ".tf_record.index", ".schema.json"):
            assert str(tmp_path / f"{split}{suffix}") in report["files"]
        # The label ids in the file follow label2id, record for record.
        label2id = json.loads((tmp_path / "label2id.json").read_text())
        for line, record in zip(lines, read_records(tmp_path / f"{split}.tf_record")):
            assert int(record["label_ids"][0]) == label2id[json.loads(line)["label"]]
    assert json.loads((tmp_path / "label2id.json").read_text()) == {
        code: i for i, code in enumerate(CLUE_LABELS)}
    assert report["label_desc"]["100"] == "news_story"
    assert str(tmp_path / "manifest.json") in report["files"]


def test_dev_file_converts_with_counts_duplicates_and_label2id(shared_data, chinese_vocab,
                                                               tmp_path) -> None:
    result = runner.invoke(app, ["prep", "tnews", str(shared_data / "tnews" / "dev.json"),
                                 "-o", str(tmp_path), "--vocab", str(chinese_vocab), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    check_counts_and_label_ids(report, tmp_path, shared_data, {"dev": 10000})
    assert report["counts"]["dev"]["duplicate_lines_kept"] == 10000 - 9811
    assert report["counts"]["dev"]["labels"]["114"] == 45


@pytest.mark.oracle
def test_directory_converts_every_tnews_file(shared_data, chinese_vocab, tmp_path) -> None:
    result = runner.invoke(app, ["prep", "tnews", str(shared_data / "tnews"), "-o", str(tmp_path),
                                 "--vocab", str(chinese_vocab), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    check_counts_and_label_ids(report, tmp_path, shared_data, {"train": 53360, "dev": 10000})
    assert report["counts"]["train"]["duplicate_lines_kept"] == 53360 - 50630


def test_test_split_without_labels_converts_with_label_zero(shared_data, chinese_vocab,
                                                            tmp_path) -> None:
    lines = (shared_data / "tnews" / "dev.json").read_text(encoding="utf-8").splitlines()[:300]
    unlabelled = []
    for i, line in enumerate(lines):
        record = json.loads(line)
        unlabelled.append(json.dumps({"id": i, "sentence": record["sentence"],
                                      "keywords": record["keywords"]}, ensure_ascii=False))
    path = tmp_path / "test.json"
    path.write_text("\n".join(unlabelled), encoding="utf-8")
    result = convert_tnews([path], tmp_path / "out", vocab=chinese_vocab)
    assert result.splits[0].split == "test" and result.splits[0].label_counts is None
    records = parse_with_tensorflow(tmp_path / "out" / "test.tf_record")
    assert len(records) == 300 and all(int(r["label_ids"][0]) == 0 for r in records)


def run_cli(*args: str):
    return runner.invoke(app, ["prep", "tnews", *args])


GOOD = '{"label": "102", "label_desc": "news_entertainment", "sentence": "好看", "keywords": ""}'


@pytest.mark.parametrize("content,expected", [
    (GOOD + '\n{"label": "105", "label_desc": "x", "sentence": "没有", "keywords": ""}\n',
     ("train.json:2: unknown label '105'; TNEWS labels are 100, 101, 102, 103, 104, 106, 107, "
     "108, 109, 110, 112, 113, 114, 115, 116")),
    (GOOD + "\n" + GOOD + '\n{"label": "102", "sentence": "断了\n',
     "train.json:3: not valid JSON (Unterminated string starting at)"),
    ('{"label": "102", "keywords": ""}\n', "train.json:1: missing string field 'sentence'"),
    ('{"sentence": "没有标签", "keywords": ""}\n',
     "train.json:1: missing field 'label' (only a test split may lack it)"),
    ("", "train.json: file has no examples (it is empty)"),
    ("\n\n", "train.json: file has no examples (it is empty)"),
])
def test_bad_input_is_one_line_with_the_line_number(content, expected, chinese_vocab,
                                                    tmp_path) -> None:
    path = tmp_path / "train.json"
    path.write_text(content, encoding="utf-8")
    line = one_line_error(run_cli(str(path), "-o", str(tmp_path / "out"),
                                  "--vocab", str(chinese_vocab)))
    assert line.endswith(expected)
    assert not (tmp_path / "out").exists()


def test_missing_input_and_bad_labels_file(shared_data, chinese_vocab, tmp_path) -> None:
    line = one_line_error(run_cli(str(tmp_path / "train.json"), "-o", str(tmp_path / "out"),
                                  "--vocab", str(chinese_vocab)))
    assert line.endswith("train.json: file not found")
    labels = tmp_path / "labels.json"
    labels.write_text('{"label": "100", "label_desc": "news_story"}\n', encoding="utf-8")
    line = one_line_error(run_cli(str(shared_data / "tnews" / "dev.json"), "-o",
                                  str(tmp_path / "out"), "--vocab", str(chinese_vocab),
                                  "--labels", str(labels)))
    assert "labels differ from CLUE's 15 TNEWS codes" in line
    with pytest.raises(InputError, match="vocab file not found"):
        convert_tnews([shared_data / "tnews" / "dev.json"], tmp_path / "o",
                      vocab=tmp_path / "vocab.txt")


def test_interrupted_run_leaves_no_complete_looking_file(shared_data, chinese_vocab, tmp_path,
                                                         interrupt_classification_chunk) -> None:
    path, _ = slice_of(shared_data, "train.json", 1000, tmp_path)
    out = tmp_path / "out"
    interrupt_classification_chunk(chunk_size=300, nth=3)
    result = run_cli(str(path), "-o", str(out), "--vocab", str(chinese_vocab))
    assert result.exit_code == 130
    assert "interrupted" in result.output
    assert not out.exists()  # a failed first run leaves no directory, so no partial file


def test_workers_do_not_change_the_bytes(shared_data, chinese_vocab, tmp_path,
                                         monkeypatch) -> None:
    monkeypatch.setattr(classification, "CHUNK_SIZE", 400)
    monkeypatch.setattr(classification, "MIN_EXAMPLES_FOR_PROCESSES", 0)
    path, _ = slice_of(shared_data, "dev.json", 1600, tmp_path)
    for workers, name in ((1, "one"), (2, "two")):
        convert_tnews([path], tmp_path / name, vocab=chinese_vocab, with_keywords=True,
                      workers=workers)
    for name in ("dev.tf_record", "dev.tf_record.index", "dev.schema.json", "label2id.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_two_inputs_for_one_split_is_a_usage_error(shared_data, chinese_vocab, tmp_path) -> None:
    other = tmp_path / "copy" / "dev.json"
    other.parent.mkdir()
    other.write_text(GOOD + "\n", encoding="utf-8")
    result = run_cli(str(shared_data / "tnews" / "dev.json"), str(other), "-o",
                     str(tmp_path / "out"), "--vocab", str(chinese_vocab))
    assert result.exit_code == 2
    assert "would both become dev.tf_record" in result.output
    assert not (tmp_path / "out").exists()


@settings(max_examples=60, deadline=None)
@given(records=st.lists(st.tuples(st.text(min_size=1), st.text(), st.sampled_from(CLUE_LABELS)),
                        min_size=1, max_size=12))
def test_json_lines_parse_back_to_the_written_fields(records, tmp_path_factory) -> None:
    """Any sentence text survives, U+2028 and other line-like characters included."""
    path = tmp_path_factory.mktemp("tnews") / "train.json"
    lines = [json.dumps({"label": label, "label_desc": "x", "sentence": sentence,
                         "keywords": keywords}, ensure_ascii=False)
             for sentence, keywords, label in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parsed = read_tnews_file(path, "train", with_keywords=True)
    assert parsed.examples.texts_a == [sentence for sentence, _, _ in records]
    assert parsed.examples.texts_b == [keywords for _, keywords, _ in records]
    assert parsed.examples.labels.tolist() == [CLUE_LABELS.index(label) for *_, label in records]
    assert parsed.extra_counts["duplicate_lines_kept"] == len(lines) - len(set(lines))
