"""What `bertkit inspect` reports about one record file, computed in one CRC-checked pass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bertkit.errors import InputError
from bertkit.tfrecord.columns import ColumnValue
from bertkit.tfrecord.example import DecodedValue
from bertkit.tfrecord.reader import TFRecordReader, close_map, offsets_from_index, open_map
from bertkit.tfrecord.schema import index_path_for, schema_path_for


@dataclass
class FeatureStats:
    """One feature across the file: its list type(s) and the lengths seen."""

    kinds: set[str]  # "int64" | "float32" | "bytes"; more than one means a mixed column
    min_length: int
    max_length: int
    records: int = 0  # how many records carry it

    @property
    def dtype(self) -> str:
        return "|".join(sorted(self.kinds))

    def to_json(self) -> dict[str, Any]:
        length: int | list[int] = (
            self.min_length if self.min_length == self.max_length
            else [self.min_length, self.max_length]
        )
        return {"dtype": self.dtype, "length": length, "records": self.records}


@dataclass
class FileSummary:
    path: Path
    records: int
    size_bytes: int
    features: dict[str, FeatureStats]
    first_records: list[dict[str, DecodedValue]]
    index_status: str  # "ok" | "missing" | "stale"
    schema_status: str  # "ok" | "missing" | "mismatch: ..."
    crc_ok: bool = True  # a damaged file raises instead, so a summary always checked out

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "records": self.records,
            "size_bytes": self.size_bytes,
            "crc_ok": self.crc_ok,
            "features": {name: self.features[name].to_json() for name in sorted(self.features)},
            "index": self.index_status,
            "schema": self.schema_status,
            "first_records": [record_to_json(record) for record in self.first_records],
        }


def dtype_of(value: DecodedValue) -> str:
    if isinstance(value, list):
        return "bytes"
    return "float32" if value.dtype == np.float32 else "int64"


def record_to_json(record: dict[str, DecodedValue]) -> dict[str, Any]:
    """Plain JSON values: numbers as lists, bytes as text when they are UTF-8."""
    out: dict[str, Any] = {}
    for name in sorted(record):
        value = record[name]
        if isinstance(value, list):
            out[name] = [_bytes_to_text(item) for item in value]
        else:
            out[name] = value.tolist()
    return out


def _bytes_to_text(item: bytes) -> str:
    try:
        return item.decode("utf-8")
    except UnicodeDecodeError:
        return item.hex()


_CHUNK = 4096  # records decoded per vectorised step: bounds memory on large files


def summarize_file(path: str | Path, num_records: int = 3) -> FileSummary:
    """Read every record (checking both CRCs of each) and describe the file.

    Records are decoded a chunk at a time into columns, which is several times faster
    than one by one for converter output; files whose records differ in layout are
    read record by record. Raises InputError for a missing file and
    CorruptRecordError for damage.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such record file")
    features: dict[str, FeatureStats] = {}
    # Without a usable index the reader scans the whole file (both CRCs) right here.
    with TFRecordReader(path) as reader:
        count = len(reader)
        for start in range(0, count, _CHUNK):
            stop = min(start + _CHUNK, count)
            try:
                columns = reader.read_columns(None, start, stop)
            except KeyError:  # some records lack a feature: count them one by one
                for number in range(start, stop):
                    for name, value in reader[number].items():
                        _observe(features, name, [value])
                continue
            for name, column in columns.items():
                _observe(features, name, column)
        first = [reader[number] for number in range(min(num_records, count))]
    return FileSummary(
        path=path,
        records=count,
        size_bytes=path.stat().st_size,
        features=features,
        first_records=first,
        index_status=_index_status(path),
        schema_status=_schema_status(path, count, features),
    )


def _observe(features: dict[str, FeatureStats], name: str, column: ColumnValue) -> None:
    """Fold one column (a ``[n, L]`` array, or a list of per-record values) into the stats."""
    if not len(column):
        return
    if isinstance(column, np.ndarray):
        kinds, lengths = {dtype_of(column)}, [column.shape[1]]
    else:
        kinds, lengths = {dtype_of(value) for value in column}, [len(v) for v in column]
    stats = features.get(name)
    if stats is None:
        stats = features[name] = FeatureStats(set(), min(lengths), max(lengths))
    stats.kinds |= kinds
    stats.records += len(column)
    stats.min_length = min(stats.min_length, *lengths)
    stats.max_length = max(stats.max_length, *lengths)


def _index_status(path: Path) -> str:
    index = index_path_for(path)
    if not index.exists():
        return "missing"
    data = open_map(path)
    try:
        fits = offsets_from_index(index, data, path.stat().st_size) is not None
    finally:
        close_map(data)
    return "ok" if fits else "stale"


_SCHEMA_TYPES = {"int64": "int64", "float32": "float32", "bytes": "string"}


def _schema_status(path: Path, count: int, features: dict[str, FeatureStats]) -> str:
    """Does the MindSpore schema beside the file describe what the file holds?"""
    schema_path = schema_path_for(path)
    if not schema_path.exists():
        return "missing"
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        columns = schema["columns"]
        rows = schema["numRows"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"unreadable: {error}"
    if rows != count:
        return f"mismatch: numRows {rows}, file has {count} records"
    if sorted(columns) != sorted(features):
        return f"mismatch: columns {sorted(columns)} vs features {sorted(features)}"
    for name, stats in features.items():
        column = columns[name]
        expected_shape = [stats.max_length] if stats.min_length == stats.max_length else [-1]
        if column.get("type") != _SCHEMA_TYPES.get(stats.dtype) or column.get(
            "shape"
        ) != expected_shape:
            return f"mismatch: column {name} is {column}, records hold {stats.to_json()}"
    return "ok"
