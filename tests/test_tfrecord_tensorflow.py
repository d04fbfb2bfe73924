"""Interoperability with TensorFlow itself, the reference for the TFRecord format.

Records are built from real SQuAD v1.1 dev questions and contexts, tokenized by
Google's `FullTokenizer` into the SQuAD feature layout of `run_squad.py` (five int64
lists: ids, mask, segments of 384 plus scalar ids and positions). TensorFlow must
parse what we write to identical values, we must read what TensorFlow writes, and
our Example bytes must equal TensorFlow's deterministic serialization.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf  # an oracle: conftest stops the run when it is missing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bertkit.tfrecord import (
    BytesList,
    FloatList,
    Int64List,
    TFRecordReader,
    TFRecordWriter,
    decode_example,
    encode_example,
    read_records,
)


SEQ_LEN = 384
SQUAD_ORDER = ["unique_ids", "input_ids", "input_mask", "segment_ids",
               "start_positions", "end_positions", "is_impossible"]  # Google's insertion order


def build_squad_rows(shared_data: Path, vocab: Path, articles: int | None,
                     paragraphs: int | None, questions: int | None) -> list[dict[str, list[int]]]:
    """SQuAD-shaped features from the real dev set, tokenized by Google's `FullTokenizer`."""
    from google_oracle import google_tokenization

    tokenizer = google_tokenization().FullTokenizer(str(vocab), do_lower_case=True)
    data = json.loads((shared_data / "squad_v1.1" / "dev-v1.1.json").read_text())["data"]
    rows = []
    for article in data[:articles]:
        for paragraph in article["paragraphs"][:paragraphs]:
            context = tokenizer.tokenize(paragraph["context"])
            for qa in paragraph["qas"][:questions]:
                question = tokenizer.tokenize(qa["question"])[:64]
                tokens = ["[CLS]", *question, "[SEP]"]
                segments = [0] * len(tokens)
                body = context[: SEQ_LEN - len(tokens) - 1] + ["[SEP]"]
                tokens += body
                segments += [1] * len(body)
                ids = tokenizer.convert_tokens_to_ids(tokens)
                pad = SEQ_LEN - len(ids)
                answer = qa["answers"][0]["answer_start"]
                rows.append({
                    "unique_ids": [1000000000 + len(rows)],
                    "input_ids": ids + [0] * pad,
                    "input_mask": [1] * len(ids) + [0] * pad,
                    "segment_ids": segments + [0] * pad,
                    "start_positions": [min(answer, SEQ_LEN - 1)],
                    "end_positions": [min(answer + 3, SEQ_LEN - 1)],
                    "is_impossible": [0],
                })
    return rows


@pytest.fixture(scope="module")
def squad_rows(shared_data: Path, uncased_vocab: Path) -> list[dict[str, list[int]]]:
    """About 120 features: a fast slice of the dev set, always run."""
    rows = build_squad_rows(shared_data, uncased_vocab, articles=4, paragraphs=8, questions=5)
    assert len(rows) >= 100
    return rows


def tf_example(features: dict[str, object]) -> tf.train.Example:
    """The same features as a `tf.train.Example`, built the way Google's writers do."""
    feature = {}
    for name, value in features.items():
        if isinstance(value, FloatList):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=list(value.values)))
        elif isinstance(value, BytesList):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=list(value.values)))
        else:
            raw = value.values if isinstance(value, Int64List) else value
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=list(raw)))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def parse_with_tensorflow(path: Path, spec: dict[str, object]) -> list[dict[str, np.ndarray]]:
    """tf.data.TFRecordDataset + tf.io.parse_single_example, as training scripts read files."""
    dataset = tf.data.TFRecordDataset(str(path)).map(
        lambda record: tf.io.parse_single_example(record, spec)
    )
    return [{name: tensor.numpy() for name, tensor in parsed.items()} for parsed in dataset]


SQUAD_SPEC = {
    name: tf.io.FixedLenFeature([SEQ_LEN if name in ("input_ids", "input_mask", "segment_ids")
                                 else 1], tf.int64)
    for name in SQUAD_ORDER
}


def test_tensorflow_parses_our_records_to_identical_values(
    squad_rows: list[dict[str, list[int]]], tmp_path: Path
) -> None:
    path = tmp_path / "train.tf_record"
    with TFRecordWriter(path) as writer:
        for row in squad_rows:
            writer.write(row)
    parsed = parse_with_tensorflow(path, SQUAD_SPEC)
    assert len(parsed) == len(squad_rows)
    for ours, theirs in zip(squad_rows, parsed):
        for name in SQUAD_ORDER:
            assert theirs[name].tolist() == ours[name], name


def test_batch_written_file_equals_per_record_file_and_parses_in_tensorflow(
    squad_rows: list[dict[str, list[int]]], tmp_path: Path
) -> None:
    per_record, batched = tmp_path / "a.tf_record", tmp_path / "b.tf_record"
    with TFRecordWriter(per_record) as writer:
        for row in squad_rows:
            writer.write(row)
    columns = {name: np.array([row[name] for row in squad_rows]) for name in SQUAD_ORDER}
    with TFRecordWriter(batched) as writer:
        assert writer.write_batch(columns) == len(squad_rows)
    assert batched.read_bytes() == per_record.read_bytes()
    assert (tmp_path / "b.tf_record.index").read_text().splitlines() == (
        tmp_path / "a.tf_record.index").read_text().splitlines()
    parsed = parse_with_tensorflow(batched, SQUAD_SPEC)
    for name in SQUAD_ORDER:
        assert np.array_equal(np.stack([p[name] for p in parsed]).reshape(len(parsed), -1),
                              columns[name].reshape(len(parsed), -1))


def test_our_reader_reads_files_tensorflow_wrote(
    squad_rows: list[dict[str, list[int]]], tmp_path: Path
) -> None:
    path = tmp_path / "google.tf_record"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in squad_rows:
            writer.write(tf_example(row).SerializeToString())  # Google's order, not sorted
    streamed = list(read_records(path))
    reader = TFRecordReader(path)  # no index beside a TF-written file: a scan finds records
    assert not reader.index_used and len(reader) == len(squad_rows)
    for number in reversed(range(len(squad_rows))):  # random access, any order
        assert {n: v.tolist() for n, v in reader[number].items()} == squad_rows[number]
        assert {n: v.tolist() for n, v in streamed[number].items()} == squad_rows[number]
    columns = reader.read_columns()  # Google's (unsorted) key order, decoded in lockstep
    for name in SQUAD_ORDER:
        assert columns[name].tolist() == [row[name] for row in squad_rows]


@pytest.mark.oracle
def test_whole_squad_dev_set_round_trips_through_tensorflow(
    shared_data: Path, uncased_vocab: Path, tmp_path: Path
) -> None:
    """Every dev question (10,570 features): batch-written, parsed by TF, read back by us."""
    rows = build_squad_rows(shared_data, uncased_vocab, None, None, None)
    assert len(rows) == 10570
    columns = {name: np.array([row[name] for row in rows]) for name in SQUAD_ORDER}
    path = tmp_path / "dev.tf_record"
    with TFRecordWriter(path) as writer:
        writer.write_batch(columns)
    parsed = parse_with_tensorflow(path, SQUAD_SPEC)
    for name in SQUAD_ORDER:
        assert np.array_equal(np.stack([p[name] for p in parsed]), columns[name]), name
    reader = TFRecordReader(path)
    assert reader.index_used and len(reader) == len(rows)
    for number in np.random.default_rng(0).choice(len(rows), 500, replace=False):
        assert {n: v.tolist() for n, v in reader[int(number)].items()} == rows[int(number)]
    for number, payload in enumerate(rows[:2000]):
        assert encode_example(payload) == tf_example(payload).SerializeToString(
            deterministic=True)


def test_example_bytes_equal_tensorflow_deterministic_serialization(
    squad_rows: list[dict[str, list[int]]],
) -> None:
    for row in squad_rows[:40]:
        assert encode_example(row) == tf_example(row).SerializeToString(deterministic=True)


def test_framing_equals_tensorflow_writer(squad_rows: list[dict[str, list[int]]],
                                          tmp_path: Path) -> None:
    """Same payloads through TF's writer and ours give the same file: CRCs and all."""
    ours, theirs = tmp_path / "ours.tf_record", tmp_path / "theirs.tf_record"
    payloads = [encode_example(row) for row in squad_rows[:30]]
    with TFRecordWriter(ours, index=False, schema=False) as writer:
        for payload in payloads:
            writer.write_serialized(payload)
    with tf.io.TFRecordWriter(str(theirs)) as writer:
        for payload in payloads:
            writer.write(payload)
    assert ours.read_bytes() == theirs.read_bytes()


def test_mixed_feature_types_and_text_survive_tensorflow(shared_data: Path,
                                                         tmp_path: Path) -> None:
    """Bytes lists of real Unicode text (Chinese NER sentences), floats and ragged ints."""
    lines = (shared_data / "cluener2020" / "dev.json").read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines[:50]):
        record = json.loads(line)
        text = record["text"]
        rows.append({
            "text": BytesList([text.encode("utf-8")]),
            "labels": BytesList([label.encode() for label in sorted(record.get("label", {}))]),
            "codepoints": [ord(char) for char in text],
            "weights": FloatList([len(text) / 7.0, -number * 0.1]),
            "名": [number],
        })
    path = tmp_path / "mixed.tf_record"
    with TFRecordWriter(path) as writer:
        for row in rows:
            writer.write(row)
    spec = {
        "text": tf.io.FixedLenFeature([], tf.string),
        "labels": tf.io.VarLenFeature(tf.string),
        "codepoints": tf.io.VarLenFeature(tf.int64),
        "weights": tf.io.FixedLenFeature([2], tf.float32),
        "名": tf.io.FixedLenFeature([1], tf.int64),
    }
    dataset = tf.data.TFRecordDataset(str(path)).map(lambda r: tf.io.parse_single_example(r, spec))
    for row, parsed in zip(rows, dataset, strict=True):
        assert parsed["text"].numpy() == row["text"].values[0]
        assert parsed["labels"].values.numpy().tolist() == list(row["labels"].values)
        assert parsed["codepoints"].values.numpy().tolist() == row["codepoints"]
        assert parsed["weights"].numpy().tobytes() == np.float32(row["weights"].values).tobytes()
        assert parsed["名"].numpy().tolist() == row["名"]
    schema = json.loads((tmp_path / "mixed.schema.json").read_text())
    assert schema["columns"]["text"] == {"type": "string", "rank": 1, "shape": [1]}
    assert schema["columns"]["codepoints"]["shape"] == [-1]  # ragged: MindSpore's unknown dim
    assert schema["columns"]["weights"] == {"type": "float32", "rank": 1, "shape": [2]}


_tf_features = st.dictionaries(
    st.text(max_size=8),
    st.one_of(
        st.lists(st.integers(-(2**63), 2**63 - 1), max_size=12).map(Int64List),
        st.lists(st.floats(width=32, allow_nan=False), max_size=8).map(FloatList),
        st.lists(st.binary(max_size=12), max_size=4).map(BytesList),
    ),
    max_size=5,
).filter(lambda names: not any(a != b and b.startswith(a) for a in names for b in names))
# Why the filter: we sort keys bytewise (Python's str order is UTF-8 byte order), as C++
# protobuf's deterministic serializer does. The upb backend of Python protobuf puts a key
# *after* any longer key it is a prefix of ("ab" after "abc", "" last), so only key sets
# without prefix pairs have one deterministic byte string. BERT's feature names never
# include such a pair.


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tf_features)
def test_any_example_serializes_like_tensorflow(features: dict[str, object]) -> None:
    expected = tf_example(features).SerializeToString(deterministic=True)
    ours = encode_example(features)  # type: ignore[arg-type]
    assert ours == expected
    assert tf.train.Example.FromString(ours) == tf_example(features)
    decoded = decode_example(expected)
    assert sorted(decoded) == sorted(features)
