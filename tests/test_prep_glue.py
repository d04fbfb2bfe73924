"""`bertkit prep glue`: official GLUE layouts, Google's run_classifier features, clear errors."""

from __future__ import annotations

import json
import re
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
from bertkit.errors import InputError, UsageError
from bertkit.prep.classification import convert as classification
from bertkit.prep.classification.convert import (
    EncodeJob,
    TokenizerSpec,
    build_features,
    encode_chunk,
    truncated_pair_lengths,
)
from bertkit.prep.classification.glue import GLUE_TASKS, convert_glue, glue_task, output_split_for, read_glue_file
from bertkit.tfrecord import read_records

runner = CliRunner()
GLUE = "glue"


# --- Google's code as the oracle -------------------------------------------------------------


@pytest.fixture(scope="module")
def google() -> Iterator[tuple[ModuleType, ModuleType]]:
    """Google's run_classifier and tokenization, with TF 1 names pointed at tf.compat.v1."""
    import google_oracle

    with google_oracle.run_classifier_with_tf1_names() as scripts:
        yield scripts


def parse_with_tensorflow(path: Path, float_label: bool = False) -> list[dict[str, np.ndarray]]:
    """Every record of ``path`` through tf.data + tf.io.parse_single_example."""
    import tensorflow as tf

    length = len(next(iter(read_records(path)))["input_ids"])
    spec = {
        "input_ids": tf.io.FixedLenFeature([length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([length], tf.int64),
        "label_ids": tf.io.FixedLenFeature([1], tf.float32 if float_label else tf.int64),
        "is_real_example": tf.io.FixedLenFeature([1], tf.int64),
    }
    dataset = tf.data.TFRecordDataset(str(path)).map(
        lambda record: tf.io.parse_single_example(record, spec))
    return [{name: value.numpy() for name, value in row.items()} for row in dataset]


def google_records(google, processor_name: str, data_dir: Path, split: str, vocab: Path,
                   tmp_path: Path, max_seq_length: int = 128) -> list[dict[str, np.ndarray]]:
    """Google's own TFRecord file for one split, written by its own writer, parsed by TF."""
    run_classifier, tokenization = google
    processor = getattr(run_classifier, processor_name)()
    examples = getattr(processor, f"get_{split}_examples")(str(data_dir))
    tokenizer = tokenization.FullTokenizer(str(vocab), do_lower_case=True)
    out = tmp_path / f"google_{split}.tf_record"
    run_classifier.file_based_convert_examples_to_features(
        examples, processor.get_labels(), max_seq_length, tokenizer, str(out))
    return parse_with_tensorflow(out)


def assert_same_records(ours: list[dict[str, np.ndarray]], theirs: list[dict[str, np.ndarray]]):
    assert len(ours) == len(theirs)
    for number, (mine, google_row) in enumerate(zip(ours, theirs)):
        assert mine.keys() == google_row.keys(), number
        for name in google_row:
            np.testing.assert_array_equal(mine[name], google_row[name], err_msg=f"{number} {name}")


# --- truncation and layout: Google's functions on random inputs --------------------------------


@settings(max_examples=200, deadline=None)
@given(len_a=st.integers(0, 60), len_b=st.integers(0, 60), budget=st.integers(0, 80))
def test_truncated_pair_lengths_equal_googles_pop_loop(google, len_a: int, len_b: int,
                                                       budget: int) -> None:
    run_classifier, _ = google
    tokens_a, tokens_b = list(range(len_a)), list(range(len_b))
    run_classifier._truncate_seq_pair(tokens_a, tokens_b, budget)
    kept_a, kept_b = truncated_pair_lengths(np.array([len_a]), np.array([len_b]), budget)
    assert (int(kept_a[0]), int(kept_b[0])) == (len(tokens_a), len(tokens_b))


class WordTokenizer:
    """A stand-in for FullTokenizer: words are the pieces, ids are fixed numbers."""

    vocab = {f"w{i}": 10 + i for i in range(50)} | {"[CLS]": 1, "[SEP]": 2}

    def tokenize(self, text: str) -> list[str]:
        return text.split()

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        return [self.vocab[token] for token in tokens]


words = st.lists(st.sampled_from([f"w{i}" for i in range(50)]), max_size=40).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(words, st.one_of(st.none(), words)), min_size=1, max_size=8),
       max_seq_length=st.integers(3, 48))
def test_build_features_equals_convert_single_example(google, pairs, max_seq_length: int) -> None:
    run_classifier, _ = google
    tokenizer = WordTokenizer()
    ids_a = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(a)) for a, _ in pairs]
    ids_b = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(b)) if b else None
             for _, b in pairs]
    ours = build_features(ids_a, ids_b, max_seq_length, cls_id=1, sep_id=2)
    for i, (a, b) in enumerate(pairs):
        example = run_classifier.InputExample(guid=str(i), text_a=a, text_b=b, label="0")
        theirs = run_classifier.convert_single_example(i + 10, example, ["0"], max_seq_length,
                                                       tokenizer)
        assert ours.input_ids[i].tolist() == theirs.input_ids
        assert ours.input_mask[i].tolist() == theirs.input_mask
        assert ours.segment_ids[i].tolist() == theirs.segment_ids
        total = len(ids_a[i]) + len(ids_b[i] or [])
        room = max_seq_length - (3 if ids_b[i] else 2)
        assert bool(ours.truncated[i]) == (total > room)


# --- identical to Google's run_classifier on the real files ------------------------------------


def convert_one(task: str, path: Path, vocab: Path, out: Path, **kwargs):
    return convert_glue(task, [path], out, vocab=vocab, **kwargs)


@pytest.mark.parametrize("task,processor,split", [
    ("MRPC", "MrpcProcessor", "dev"),
    pytest.param("MRPC", "MrpcProcessor", "test", marks=pytest.mark.oracle),
    ("CoLA", "ColaProcessor", "dev"),
    ("CoLA", "ColaProcessor", "test"),
])
def test_records_equal_google_run_classifier(task, processor, split, shared_data, uncased_vocab,
                                             google, tmp_path) -> None:
    data_dir = shared_data / GLUE / task
    convert_one(task, data_dir / f"{split}.tsv", uncased_vocab, tmp_path / "ours")
    ours = parse_with_tensorflow(tmp_path / "ours" / f"{split}.tf_record")
    theirs = google_records(google, processor, data_dir, split, uncased_vocab, tmp_path)
    assert_same_records(ours, theirs)


@pytest.mark.oracle
@pytest.mark.parametrize("task,processor", [("MRPC", "MrpcProcessor"), ("CoLA", "ColaProcessor")])
def test_train_records_equal_google_run_classifier(task, processor, shared_data, uncased_vocab,
                                                   google, tmp_path) -> None:
    data_dir = shared_data / GLUE / task
    convert_one(task, data_dir / "train.tsv", uncased_vocab, tmp_path / "ours")
    ours = parse_with_tensorflow(tmp_path / "ours" / "train.tf_record")
    theirs = google_records(google, processor, data_dir, "train", uncased_vocab, tmp_path)
    assert_same_records(ours, theirs)


def test_short_max_seq_length_truncates_like_google(shared_data, uncased_vocab, google,
                                                    tmp_path) -> None:
    """At L=24 most MRPC pairs are cut, so `_truncate_seq_pair` is exercised on real text."""
    data_dir = shared_data / GLUE / "MRPC"
    result = convert_one("MRPC", data_dir / "dev.tsv", uncased_vocab, tmp_path / "ours",
                         max_seq_length=24)
    assert result.splits[0].truncated > 300
    ours = parse_with_tensorflow(tmp_path / "ours" / "dev.tf_record")
    theirs = google_records(google, "MrpcProcessor", data_dir, "dev", uncased_vocab, tmp_path,
                            max_seq_length=24)
    assert_same_records(ours, theirs)


MNLI_TRAIN_HEADER = ("index promptID pairID genre sentence1_binary_parse sentence2_binary_parse "
                     "sentence1_parse sentence2_parse sentence1 sentence2 label1 gold_label")
MNLI_DEV_HEADER = ("index promptID pairID genre sentence1_binary_parse sentence2_binary_parse "
                   "sentence1_parse sentence2_parse sentence1 sentence2 label1 label2 label3 "
                   "label4 label5 gold_label")
MNLI_TEST_HEADER = ("index promptID pairID genre sentence1_binary_parse sentence2_binary_parse "
                    "sentence1_parse sentence2_parse sentence1 sentence2")


def write_synthetic_mnli(directory: Path, pairs: list[tuple[str, str]]) -> None:
    """MNLI's three layouts (12, 16 and 10 columns) filled with real sentence pairs."""
    labels = ["contradiction", "entailment", "neutral"]
    directory.mkdir(parents=True)

    def rows(header: str, extra_labels: int, with_label: bool) -> str:
        lines = ["\t".join(header.split())]
        for i, (a, b) in enumerate(pairs):
            label = labels[i % 3]
            fields = [str(i), str(1000 + i), f"{1000 + i}e", "fiction", f"( {a} )", f"( {b} )",
                      f"(ROOT {a})", f"(ROOT {b})", a, b]
            if with_label:
                fields += [labels[(i + k) % 3] for k in range(extra_labels)] + [label]
            lines.append("\t".join(fields))
        return "\n".join(lines) + "\n"

    (directory / "train.tsv").write_text(rows(MNLI_TRAIN_HEADER, 1, True), encoding="utf-8")
    (directory / "dev_matched.tsv").write_text(rows(MNLI_DEV_HEADER, 5, True), encoding="utf-8")
    (directory / "test_matched.tsv").write_text(rows(MNLI_TEST_HEADER, 0, False),
                                                encoding="utf-8")


def test_mnli_records_equal_google_run_classifier(shared_data, uncased_vocab, google,
                                                  tmp_path) -> None:
    rte = read_glue_file(GLUE_TASKS["rte"], shared_data / GLUE / "RTE" / "dev.tsv", "dev")
    pairs = list(zip(rte.examples.texts_a, rte.examples.texts_b))[:120]
    data_dir = tmp_path / "MNLI"
    write_synthetic_mnli(data_dir, pairs)
    result = convert_glue("MNLI", [data_dir], tmp_path / "ours", vocab=uncased_vocab)
    assert [split.split for split in result.splits] == ["train", "dev_matched", "test_matched"]
    for ours_name, google_split in [("train", "train"), ("dev_matched", "dev"),
                                    ("test_matched", "test")]:
        ours = parse_with_tensorflow(tmp_path / "ours" / f"{ours_name}.tf_record")
        theirs = google_records(google, "MnliProcessor", data_dir, google_split, uncased_vocab,
                                tmp_path)
        assert_same_records(ours, theirs)
        if ours_name != "test_matched":
            assert {int(row["label_ids"][0]) for row in ours} == {0, 1, 2}


# --- every file in the shared data converts, and TensorFlow reads it back -----------------------

FAST_FILES = [
    ("CoLA", "CoLA/dev.tsv"), ("CoLA", "CoLA/test.tsv"),
    ("SST-2", "SST-2/dev.tsv"), ("SST-2", "SST-2/test.tsv"),
    ("MRPC", "MRPC/dev.tsv"), ("MRPC", "MRPC/test.tsv"),
    ("STS-B", "STS-B/dev.tsv"), ("STS-B", "STS-B/test.tsv"),
    ("RTE", "RTE/dev.tsv"), ("WNLI", "WNLI/train.tsv"), ("WNLI", "WNLI/dev.tsv"),
    ("WNLI", "WNLI/test.tsv"), ("AX", "diagnostic/diagnostic.tsv"),
]
SLOW_FILES = [
    ("CoLA", "CoLA/train.tsv"), ("SST-2", "SST-2/train.tsv"), ("MRPC", "MRPC/train.tsv"),
    ("MRPC", "MRPC/msr_paraphrase_train.txt"), ("MRPC", "MRPC/msr_paraphrase_test.txt"),
    ("STS-B", "STS-B/train.tsv"), ("QNLI", "QNLI/dev.tsv"), ("QNLI", "QNLI/test.tsv"),
    ("RTE", "RTE/train.tsv"), ("RTE", "RTE/test.tsv"),
]


def check_file_converts_and_reads_back(task: str, path: Path, vocab: Path, out: Path) -> None:
    result = convert_one(task, path, vocab, out)
    [split] = result.splits
    glue = GLUE_TASKS[glue_task(task).name.lower()]
    parsed = read_glue_file(glue, path, split.split)
    regression = glue.labels is None
    records = parse_with_tensorflow(split.record_path, float_label=regression)
    assert len(records) == split.examples == len(parsed.examples)
    # The values TensorFlow reads are the values computed in memory, record for record.
    expected = encode_chunk(EncodeJob(TokenizerSpec(vocab, None, True), parsed.examples.texts_a,
                                      parsed.examples.texts_b, 128))
    for name in ("input_ids", "input_mask", "segment_ids"):
        np.testing.assert_array_equal(np.stack([r[name] for r in records]), getattr(expected, name))
    labels = np.concatenate([r["label_ids"] for r in records])
    np.testing.assert_array_equal(labels, parsed.examples.labels.astype(labels.dtype))
    assert all(int(r["is_real_example"][0]) == 1 for r in records)
    schema = json.loads((out / f"{split.split}.schema.json").read_text())
    assert schema["numRows"] == split.examples
    assert schema["columns"]["label_ids"]["type"] == ("float32" if regression else "int64")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"][split.split]["examples"] == split.examples


@pytest.mark.parametrize("task,relative", FAST_FILES)
def test_every_small_glue_file_converts_and_tensorflow_reads_it_back(
        task, relative, shared_data, uncased_vocab, tmp_path) -> None:
    check_file_converts_and_reads_back(task, shared_data / GLUE / relative, uncased_vocab,
                                       tmp_path / "out")


@pytest.mark.oracle
@pytest.mark.parametrize("task,relative", SLOW_FILES)
def test_every_large_glue_file_converts_and_tensorflow_reads_it_back(
        task, relative, shared_data, uncased_vocab, tmp_path) -> None:
    check_file_converts_and_reads_back(task, shared_data / GLUE / relative, uncased_vocab,
                                       tmp_path / "out")


def test_file_lists_cover_every_glue_file_in_the_shared_data(shared_data) -> None:
    listed = {relative for _, relative in FAST_FILES + SLOW_FILES}
    present = {str(p.relative_to(shared_data / GLUE)) for p in (shared_data / GLUE).rglob("*")
               if p.suffix in (".tsv", ".txt") and p.name not in ("readme.txt", "LICENSE.txt")}
    # dev_ids.tsv is a list of MRPC id pairs, not examples.
    assert present - listed == {"MRPC/dev_ids.tsv"}


def test_sts_b_labels_are_float32_scores(shared_data, uncased_vocab, tmp_path) -> None:
    path = shared_data / GLUE / "STS-B" / "dev.tsv"
    convert_one("STS-B", path, uncased_vocab, tmp_path)
    records = parse_with_tensorflow(tmp_path / "dev.tf_record", float_label=True)
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    expected = np.array([float(row[9]) for row in rows], dtype=np.float32)
    np.testing.assert_array_equal(np.concatenate([r["label_ids"] for r in records]), expected)
    assert json.loads((tmp_path / "label2id.json").read_text()) == {}
    assert json.loads((tmp_path / "manifest.json").read_text())["task_type"] == "regression"


def test_directory_converts_every_split_with_json_listing(shared_data, uncased_vocab,
                                                          tmp_path) -> None:
    result = runner.invoke(app, ["prep", "glue", "rte", str(shared_data / GLUE / "RTE"),
                                 "-o", str(tmp_path), "--vocab", str(uncased_vocab), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {name: counts["examples"] for name, counts in report["counts"].items()} == {
        "train": 2490, "dev": 277, "test": 3000}
    assert report["counts"]["dev"]["labels"] == {"entailment": 146, "not_entailment": 131}
    assert report["counts"]["test"]["labels"] is None
    for split in ("train", "dev", "test"):
        for suffix in (".tf_record", ".tf_record.index", ".schema.json"):
            assert str(tmp_path / f"{split}{suffix}") in report["files"]
            assert (tmp_path / f"{split}{suffix}").is_file()
    assert str(tmp_path / "label2id.json") in report["files"]
    assert json.loads((tmp_path / "label2id.json").read_text()) == {
        "entailment": 0, "not_entailment": 1}


def test_label_order_is_googles_and_glues() -> None:
    assert GLUE_TASKS["cola"].labels == ("0", "1")
    assert GLUE_TASKS["mrpc"].labels == ("0", "1")
    assert GLUE_TASKS["mnli"].labels == ("contradiction", "entailment", "neutral")
    assert GLUE_TASKS["ax"].labels == GLUE_TASKS["mnli"].labels
    assert GLUE_TASKS["qnli"].labels == ("entailment", "not_entailment")
    assert GLUE_TASKS["sts-b"].labels is None


def test_mnli_split_names_keep_matched_and_mismatched_apart() -> None:
    mnli = glue_task("mnli")
    assert output_split_for(mnli, Path("dev_matched.tsv"), None) == "dev_matched"
    assert output_split_for(mnli, Path("dev_mismatched.tsv"), None) == "dev_mismatched"
    assert output_split_for(mnli, Path("test_mismatched.tsv"), None) == "test_mismatched"
    assert output_split_for(mnli, Path("my_dev_mismatched_copy.tsv"), None) == "dev_mismatched"
    assert output_split_for(glue_task("diagnostic"), Path("diagnostic.tsv"), None) == "test"
    assert output_split_for(glue_task("SST2"), Path("x.tsv"), "dev") == "dev"


def test_quotes_are_literal_and_bom_is_dropped(uncased_vocab, tmp_path) -> None:
    path = tmp_path / "train.tsv"
    path.write_bytes("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                     '1\t1\t2\t"an open quote\tand "another" one\n'.encode("utf-8"))
    parsed = read_glue_file(GLUE_TASKS["mrpc"], path, "train")
    assert parsed.examples.texts_a == ['"an open quote']
    assert parsed.examples.texts_b == ['and "another" one']
    cola = tmp_path / "cola_train.tsv"
    cola.write_bytes("\ufeffgj04\t1\t\tFirst row is data.\n".encode("utf-8"))
    assert read_glue_file(GLUE_TASKS["cola"], cola, "train").examples.texts_a == [
        "First row is data."]


# --- bad input: one line naming the file and the line, exit 1 ----------------------------------


def run_cli(*args: str):
    return runner.invoke(app, ["prep", "glue", *args])


@pytest.mark.parametrize("task,name,content,expected", [
    ("MRPC", "train.tsv", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tonly a\n",
     "train.tsv:2: MRPC labelled rows need at least 5 tab-separated columns, this one has 4"),
    ("CoLA", "dev.tsv", "gj04\t1\t\tfine.\ngj04\tyes\t\tnot fine.\n",
     "dev.tsv:2: unknown CoLA label 'yes'; expected one of 0, 1"),
    ("STS-B", "train.tsv",
     ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
     "0\tg\tf\t2012\t0\tnone\tnone\tA.\tB.\t5.000\n1\tg\tf\t2012\t1\tnone\tnone\tA.\tB.\tfive\n"),
     "train.tsv:3: score 'five' is not a number"),
    ("RTE", "dev.tsv", "", "dev.tsv: file has no examples (it is empty)"),
    ("RTE", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n",
     "dev.tsv: file has no examples (it is empty)"),
])
def test_bad_input_is_one_line_with_the_position(task, name, content, expected, uncased_vocab,
                                                 tmp_path) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    line = one_line_error(run_cli(task, str(path), "-o", str(tmp_path / "out"),
                                  "--vocab", str(uncased_vocab)))
    assert line.endswith(expected)
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_missing_file_and_empty_directory(uncased_vocab, tmp_path) -> None:
    line = one_line_error(run_cli("MRPC", str(tmp_path / "nope.tsv"), "-o", str(tmp_path / "o"),
                                  "--vocab", str(uncased_vocab)))
    assert line.endswith("nope.tsv: file not found")
    (tmp_path / "empty").mkdir()
    line = one_line_error(run_cli("MRPC", str(tmp_path / "empty"), "-o", str(tmp_path / "o"),
                                  "--vocab", str(uncased_vocab)))
    assert "no MRPC files in this directory" in line


def test_unknown_task_and_tiny_length_are_usage_errors(shared_data, uncased_vocab,
                                                       tmp_path) -> None:
    result = run_cli("GLUEY", str(shared_data / GLUE / "RTE"), "-o", str(tmp_path),
                     "--vocab", str(uncased_vocab))
    assert result.exit_code == 2 and "unknown GLUE task 'GLUEY'" in result.output
    with pytest.raises(UsageError):
        convert_glue("RTE", [shared_data / GLUE / "RTE" / "dev.tsv"], tmp_path,
                     vocab=uncased_vocab, max_seq_length=2)
    with pytest.raises(InputError):
        convert_glue("RTE", [shared_data / GLUE / "RTE" / "dev.tsv"], tmp_path,
                     vocab=tmp_path / "no-vocab.txt")


def test_interrupted_run_leaves_no_complete_looking_file(shared_data, uncased_vocab, tmp_path,
                                                         interrupt_classification_chunk) -> None:
    out = tmp_path / "out"
    convert_glue("SST-2", [shared_data / GLUE / "SST-2" / "dev.tsv"], out, vocab=uncased_vocab)
    assert (out / "manifest.json").exists()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    interrupt_classification_chunk(chunk_size=200, nth=2)
    with pytest.raises(KeyboardInterrupt):
        convert_glue("SST-2", [shared_data / GLUE / "SST-2" / "test.tsv"], out,
                     vocab=uncased_vocab)
    # nothing was published: the previous set and its manifest are exactly as they were,
    # with no test.tf_record, staging folder or temporary file beside them
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_workers_do_not_change_the_bytes(shared_data, uncased_vocab, tmp_path,
                                         monkeypatch) -> None:
    monkeypatch.setattr(classification, "CHUNK_SIZE", 300)
    monkeypatch.setattr(classification, "MIN_EXAMPLES_FOR_PROCESSES", 0)
    path = shared_data / GLUE / "STS-B" / "dev.tsv"
    convert_glue("STS-B", [path], tmp_path / "one", vocab=uncased_vocab, workers=1)
    convert_glue("STS-B", [path], tmp_path / "two", vocab=uncased_vocab, workers=2)
    for name in ("dev.tf_record", "dev.tf_record.index", "dev.schema.json", "label2id.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_sentencepiece_model_gives_the_same_layout(shared_data, tmp_path) -> None:
    from conftest import SPM_MODEL

    from bertkit.tokenization import load_tokenizer

    path = shared_data / GLUE / "MRPC" / "dev.tsv"
    convert_glue("MRPC", [path], tmp_path, spm_model=SPM_MODEL)
    tokenizer = load_tokenizer(spm_model=SPM_MODEL)
    parsed = read_glue_file(GLUE_TASKS["mrpc"], path, "dev")
    compared = 0
    for record, a, b in zip(read_records(tmp_path / "dev.tf_record"), parsed.examples.texts_a,
                            parsed.examples.texts_b[:40]):
        ids_a = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(a))
        ids_b = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(b))
        expected = [tokenizer.cls_id, *ids_a, tokenizer.sep_id, *ids_b, tokenizer.sep_id]
        if len(expected) > 128:
            continue  # truncated: the layout itself is covered by the Google tests
        assert record["input_ids"][: len(expected)].tolist() == expected
        assert int(record["input_mask"].sum()) == len(expected)
        compared += 1
    assert compared >= 20
    assert json.loads((tmp_path / "manifest.json").read_text())["tokenizer"]["kind"] == (
        "sentencepiece")


field_text = st.text(st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(field_text.filter(bool), field_text, st.sampled_from(["0", "1"])),
                     min_size=1, max_size=12))
def test_tsv_rows_parse_back_to_the_written_fields(rows, tmp_path_factory) -> None:
    """MRPC layout with any field text, quotes and BOM-like characters included."""
    path = tmp_path_factory.mktemp("mrpc") / "train.tsv"
    lines = ["\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
    lines += [f"{label}\t{i}\t{i + 1}\t{a}\t{b}" for i, (a, b, label) in enumerate(rows)]
    path.write_text("\n".join(lines), encoding="utf-8")
    parsed = read_glue_file(GLUE_TASKS["mrpc"], path, "train")
    assert parsed.examples.texts_a == [a for a, _, _ in rows]
    assert parsed.examples.texts_b == [b for _, b, _ in rows]
    assert parsed.examples.labels.tolist() == [int(label) for *_, label in rows]


def test_summary_table_shows_examples_truncation_and_labels(shared_data, uncased_vocab,
                                                            tmp_path) -> None:
    path = shared_data / GLUE / "WNLI" / "dev.tsv"
    result = runner.invoke(app, ["prep", "glue", "WNLI", str(path), "-o", str(tmp_path),
                                 "--vocab", str(uncased_vocab), "--max-seq-length", "32"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    truncated = manifest["counts"]["dev"]["truncated_examples"]
    assert truncated > 0
    text = " ".join(result.output.split())
    assert re.search(rf"│ truncated examples │ {truncated} │", text), text
    assert re.search(r"│ examples │ 71 │", text), text
    # WNLI dev: label 0 x40, label 1 x31, each count in its label's row.
    assert manifest["counts"]["dev"]["labels"] == {"0": 40, "1": 31}
    assert re.search(r"│ 0 │ 40 │", text) and re.search(r"│ 1 │ 31 │", text), text
