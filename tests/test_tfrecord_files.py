"""Record files as a whole: sidecars (index, MindSpore schema), random access, damage
detection with the record number and byte offset, and atomic writes."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tfrecord_strategies import batch_columns

from bertkit.errors import InputError
from bertkit.tfrecord import (
    BytesList,
    CorruptRecordError,
    FloatList,
    TFRecordReader,
    TFRecordWriter,
    count_records,
    encode_example,
    index_path_for,
    read_columns,
    read_records,
    schema_path_for,
)
from bertkit.tfrecord.framing import frame_record

SEQ_LEN = 384
COUNT = 40


def squad_columns(count: int = COUNT, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, SEQ_LEN, count)
    mask = (np.arange(SEQ_LEN)[None, :] < lengths[:, None]).astype(np.int64)
    return {
        "unique_ids": 1000000000 + np.arange(count),
        "input_ids": rng.integers(0, 30522, (count, SEQ_LEN)) * mask,
        "input_mask": mask,
        "segment_ids": rng.integers(0, 2, (count, SEQ_LEN)) * mask,
        "start_positions": rng.integers(0, SEQ_LEN, count),
        "end_positions": rng.integers(0, SEQ_LEN, count),
        "is_impossible": rng.integers(0, 2, count),
    }


@pytest.fixture()
def squad_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.tf_record"
    with TFRecordWriter(path) as writer:
        writer.write_batch(squad_columns())
    return path


def row(columns: dict[str, np.ndarray], number: int) -> dict[str, list[int]]:
    return {name: np.atleast_1d(values[number]).tolist() for name, values in columns.items()}


def as_lists(record: dict) -> dict[str, list]:
    return {name: value if isinstance(value, list) else value.tolist()
            for name, value in record.items()}


# --- sidecars ---------------------------------------------------------------------------


def test_sidecar_names() -> None:
    assert index_path_for("out/train.tf_record") == Path("out/train.tf_record.index")
    assert schema_path_for("out/train.tf_record") == Path("out/train.schema.json")
    assert schema_path_for("out/eval.1.tf_record") == Path("out/eval.1.schema.json")


def test_index_lists_offset_and_length_of_every_record(squad_file: Path) -> None:
    lines = index_path_for(squad_file).read_text().splitlines()
    assert len(lines) == COUNT
    data = squad_file.read_bytes()
    position = 0
    for line in lines:
        offset, length = (int(field) for field in line.split(" "))
        assert offset == position
        payload_length = int.from_bytes(data[offset : offset + 8], "little")
        assert length == payload_length + 16  # the whole framed record, as DALI/tfrecord count
        position += length
    assert position == len(data)


def test_mindspore_schema_describes_the_columns(squad_file: Path) -> None:
    schema = json.loads(schema_path_for(squad_file).read_text())
    expected_columns = {
        name: {"type": "int64", "rank": 1,
               "shape": [SEQ_LEN] if name in ("input_ids", "input_mask", "segment_ids") else [1]}
        for name in squad_columns(1)
    }
    assert schema == {"datasetType": "TF", "numRows": COUNT, "columns": expected_columns}


def test_schema_types_and_variable_lengths(tmp_path: Path) -> None:
    path = tmp_path / "mixed.tf_record"
    with TFRecordWriter(path) as writer:
        writer.write({"w": FloatList([0.5, 1.0]), "t": BytesList([b"a"]), "ids": [1, 2, 3]})
        writer.write({"w": FloatList([2.5, 3.0]), "t": BytesList([b"b"]), "ids": [4]})
    columns = json.loads(schema_path_for(path).read_text())["columns"]
    assert columns == {
        "ids": {"type": "int64", "rank": 1, "shape": [-1]},
        "t": {"type": "string", "rank": 1, "shape": [1]},
        "w": {"type": "float32", "rank": 1, "shape": [2]},
    }
    for column in columns.values():  # MindSpore rejects any other column attribute
        assert set(column) == {"type", "rank", "shape"}


def test_changing_a_feature_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="changes type"), TFRecordWriter(
        tmp_path / "x.tf_record"
    ) as writer:
        writer.write({"a": [1]})
        writer.write({"a": FloatList([1.0])})
    assert not (tmp_path / "x.tf_record").exists()


def test_sidecars_can_be_turned_off_and_stale_ones_go(squad_file: Path) -> None:
    with TFRecordWriter(squad_file, index=False, schema=False) as writer:
        writer.write(row(squad_columns(), 0))
    assert not index_path_for(squad_file).exists()
    assert not schema_path_for(squad_file).exists()
    assert len(TFRecordReader(squad_file)) == 1


# --- reading ----------------------------------------------------------------------------


def test_random_access_through_the_index(squad_file: Path) -> None:
    columns = squad_columns()
    reader = TFRecordReader(squad_file)
    assert reader.index_used and len(reader) == COUNT
    order = np.random.default_rng(1).permutation(COUNT)
    for number in order:
        assert as_lists(reader[int(number)]) == row(columns, int(number))
    assert as_lists(reader[-1]) == row(columns, COUNT - 1)
    with pytest.raises(IndexError):
        reader[COUNT]
    assert [as_lists(r) for r in read_records(squad_file)] == [
        row(columns, n) for n in range(COUNT)]
    assert count_records(squad_file) == COUNT


def test_reader_pickles_for_dataloader_workers(squad_file: Path) -> None:
    reader = TFRecordReader(squad_file)
    first = as_lists(reader[3])
    clone = pickle.loads(pickle.dumps(reader))
    assert as_lists(clone[3]) == first
    reader.close()
    clone.close()


def record_offsets_from(path: Path) -> list[tuple[int, int]]:
    offsets, position = [], 0
    data = path.read_bytes()
    while position < len(data):
        length = int.from_bytes(data[position : position + 8], "little") + 16
        offsets.append((position, length))
        position += length
    return offsets


def test_missing_or_stale_index_falls_back_to_a_scan(squad_file: Path) -> None:
    index = index_path_for(squad_file)
    index.unlink()
    assert not TFRecordReader(squad_file).index_used
    # Contiguous and covering the file exactly, but with the wrong split between two
    # records, as an index of another file of the same size would be.
    lines = [(offset, length) for offset, length in record_offsets_from(squad_file)]
    (o0, l0), (o1, l1) = lines[0], lines[1]
    lines[0], lines[1] = (o0, l0 + 1), (o1 + 1, l1 - 1)
    index.write_text("".join(f"{o} {l}\n" for o, l in lines))
    reader = TFRecordReader(squad_file)
    assert not reader.index_used
    assert as_lists(reader[5]) == row(squad_columns(), 5)
    index.write_text("garbage\n")
    assert not TFRecordReader(squad_file).index_used


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.tf_record"
    with TFRecordWriter(path):
        pass
    assert path.read_bytes() == b"" and index_path_for(path).read_text() == ""
    assert len(TFRecordReader(path)) == 0 and list(read_records(path)) == []


# --- damage -----------------------------------------------------------------------------


def record_offsets(path: Path) -> list[tuple[int, int]]:
    return [tuple(int(x) for x in line.split())  # type: ignore[misc]
            for line in index_path_for(path).read_text().splitlines()]


def damage(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (lambda offset, length: offset + 2, "length CRC mismatch"),  # the length field
        (lambda offset, length: offset + 9, "length CRC mismatch"),  # the length's CRC
        (lambda offset, length: offset + 12 + 100, "data CRC mismatch"),  # the payload
        (lambda offset, length: offset + length - 2, "data CRC mismatch"),  # the payload's CRC
    ],
    ids=["length", "length-crc", "payload", "payload-crc"],
)
def test_a_flipped_byte_names_the_record_and_offset(squad_file: Path, where, problem) -> None:
    number = 17
    offset, length = record_offsets(squad_file)[number]
    damage(squad_file, where(offset, length))
    expected = f"record {number} at byte {offset}: {problem}"
    with pytest.raises(CorruptRecordError, match=expected) as caught:
        list(read_records(squad_file))
    assert str(squad_file) in str(caught.value) and isinstance(caught.value, InputError)
    assert (caught.value.record_number, caught.value.offset) == (number, offset)
    with pytest.raises(CorruptRecordError, match=expected):
        count_records(squad_file)
    # Random access: other records still read; the damaged one fails when touched.
    # (A damaged length field makes the index disagree with the file, so the reader scans
    # and meets the damage at open time; that is the same error.)
    try:
        reader = TFRecordReader(squad_file)
    except CorruptRecordError as error:
        assert expected in str(error)
        return
    assert as_lists(reader[number + 1]) == row(squad_columns(), number + 1)
    with pytest.raises(CorruptRecordError, match=expected):
        reader[number]


def test_crc_checks_can_be_skipped(squad_file: Path) -> None:
    offset, _length = record_offsets(squad_file)[3]
    damage(squad_file, offset + 12 + 200)
    values = list(read_records(squad_file, verify_crc=False))
    assert len(values) == COUNT


@pytest.mark.parametrize("keep", [5, 12 + 30, -3])
def test_truncation_names_the_last_record(squad_file: Path, keep: int) -> None:
    offset, _length = record_offsets(squad_file)[-1]
    data = squad_file.read_bytes()
    cut = offset + keep if keep > 0 else len(data) + keep
    squad_file.write_bytes(data[:cut])
    expected = f"record {COUNT - 1} at byte {offset}: truncated"
    with pytest.raises(CorruptRecordError, match=expected):
        list(read_records(squad_file))
    with pytest.raises(CorruptRecordError, match=expected):
        TFRecordReader(squad_file)  # the index no longer fits, so the reader scans


def test_a_valid_frame_around_garbage_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "garbage.tf_record"
    good = frame_record(encode_example({"a": [1]}))
    path.write_bytes(good + frame_record(b"\x0a\x05\x0a\x03\x0a"))  # lengths run past the end
    with pytest.raises(CorruptRecordError, match=f"record 1 at byte {len(good)}: malformed"):
        list(read_records(path))


# --- atomic writes ----------------------------------------------------------------------


@pytest.mark.parametrize("interrupt", [RuntimeError, KeyboardInterrupt])
def test_an_exception_in_the_block_leaves_no_file(tmp_path: Path, interrupt: type) -> None:
    path = tmp_path / "out" / "train.tf_record"
    with pytest.raises(interrupt), TFRecordWriter(path) as writer:
        writer.write_batch(squad_columns())
        raise interrupt()
    assert list(path.parent.iterdir()) == []  # no record file, no temp file, no sidecars


def test_a_failed_rewrite_keeps_the_previous_complete_file(squad_file: Path) -> None:
    before = squad_file.read_bytes()
    with pytest.raises(RuntimeError), TFRecordWriter(squad_file) as writer:
        writer.write(row(squad_columns(), 0))
        raise RuntimeError("converter failed")
    assert squad_file.read_bytes() == before
    assert len(TFRecordReader(squad_file)) == COUNT


# --- columnar reading -------------------------------------------------------------------


def test_read_columns_gives_the_written_matrices(squad_file: Path, monkeypatch) -> None:
    import bertkit.tfrecord.columns as columns_module

    def no_fallback(*args: object) -> None:
        raise AssertionError("converter output must take the vectorised path")

    monkeypatch.setattr(columns_module, "_stack", no_fallback)
    columns = squad_columns()
    read = read_columns(squad_file)
    assert sorted(read) == sorted(columns)
    for name, values in columns.items():
        assert np.array_equal(read[name], values.reshape(COUNT, -1)), name
    part = TFRecordReader(squad_file).read_columns(["input_ids", "unique_ids"], 5, 9)
    assert sorted(part) == ["input_ids", "unique_ids"]
    assert np.array_equal(part["input_ids"], columns["input_ids"][5:9])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_read_columns_matches_record_by_record(tmp_path: Path, data: st.DataObject) -> None:
    _count, columns = data.draw(batch_columns())
    path = tmp_path / "any.tf_record"
    with TFRecordWriter(path) as writer:
        writer.write_batch(columns)  # type: ignore[arg-type]
    read = read_columns(path)
    records = list(read_records(path))
    for name in columns:
        expected = np.stack([record[name] for record in records])
        assert read[name].dtype == expected.dtype
        assert read[name].tobytes() == expected.tobytes(), name  # NaN-safe comparison


def test_read_columns_handles_ragged_and_bytes_features(tmp_path: Path) -> None:
    path = tmp_path / "ragged.tf_record"
    with TFRecordWriter(path) as writer:
        writer.write({"ids": [1, 2, 3], "t": BytesList([b"a"])})
        writer.write({"ids": [4], "t": BytesList([b"b", b"c"])})
    read = read_columns(path)
    assert [v.tolist() for v in read["ids"]] == [[1, 2, 3], [4]]
    assert read["t"] == [[b"a"], [b"b", b"c"]]
    ids_only = path.with_name("ids.tf_record")
    with TFRecordWriter(ids_only) as writer:
        writer.write_batch({"ids": np.array([[300, 1], [5, 70000]])})
        writer.write({"ids": [2**40]})
    assert [v.tolist() for v in read_columns(ids_only)["ids"]] == [[300, 1], [5, 70000], [2**40]]
    with pytest.raises(KeyError, match="nope"):
        read_columns(ids_only, ["nope"])


def test_read_columns_reports_damage(squad_file: Path) -> None:
    offset, _length = record_offsets(squad_file)[9]
    damage(squad_file, offset + 40)
    with pytest.raises(CorruptRecordError, match=f"record 9 at byte {offset}: data CRC"):
        read_columns(squad_file)


def test_batch_and_serialized_writes_fill_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "cls.tf_record"
    labels = np.array([[0.5], [1.5]], dtype=np.float32)
    with TFRecordWriter(path) as writer:
        writer.write_batch({"input_ids": np.ones((2, 8), np.int64), "label": FloatList(labels)})
        writer.observe_columns({"input_ids": ("int64", 8), "label": ("float32", 1)})
        writer.write_serialized(encode_example({"input_ids": [1] * 8, "label": FloatList([2.5])}))
        assert writer.num_records == 3
        assert writer.sidecar_paths == [index_path_for(path), schema_path_for(path)]
    schema = json.loads(schema_path_for(path).read_text())
    assert schema["numRows"] == 3
    assert schema["columns"] == {"input_ids": {"type": "int64", "rank": 1, "shape": [8]},
                                 "label": {"type": "float32", "rank": 1, "shape": [1]}}
    assert read_columns(path)["label"].ravel().tolist() == [0.5, 1.5, 2.5]


def test_the_codec_never_imports_tensorflow_or_torch() -> None:
    import subprocess
    import sys

    script = ("import sys, bertkit.tfrecord, bertkit.tfrecord.summary; "
              "print(sorted(m for m in ('tensorflow', 'torch') if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=120, check=True)
    assert completed.stdout.strip() == "[]"


def test_a_gzip_compressed_file_gets_a_hint(squad_file: Path) -> None:
    import gzip

    squad_file.write_bytes(gzip.compress(squad_file.read_bytes()))
    with pytest.raises(CorruptRecordError, match="record 0 at byte 0: .*gzip-compressed"):
        list(read_records(squad_file))
