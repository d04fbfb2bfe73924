"""Sidecars written beside every record file: the offset index and the MindSpore schema.

Index: one `offset length` line per record, the format of the `tfrecord` package's
`create_index` and of NVIDIA DALI's `tfrecord2idx` (length counts the whole framed
record). Schema: the JSON that MindSpore's `TFRecordDataset(schema_file_path=...)`
reads: `datasetType`, `numRows` and `columns` with type, rank and shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def index_path_for(record_path: str | Path) -> Path:
    record_path = Path(record_path)
    return record_path.with_name(record_path.name + ".index")


def schema_path_for(record_path: str | Path) -> Path:
    """`train.tf_record` -> `train.schema.json`, next to it.

    Only the last suffix is dropped, so shards such as `train.1.tf_record` and
    `train.2.tf_record` get a schema each instead of sharing one.
    """
    record_path = Path(record_path)
    return record_path.with_name(f"{record_path.stem}.schema.json")


class ColumnTracker:
    """Learns each feature's dtype and length from the records as they are written."""

    def __init__(self) -> None:
        self.columns: dict[str, dict[str, Any]] = {}

    def observe(self, name: str, mindspore_type: str, length: int) -> None:
        column = self.columns.get(name)
        if column is None:
            self.columns[name] = {"type": mindspore_type, "rank": 1, "shape": [length]}
            return
        if column["type"] != mindspore_type and length > 0:
            if column["shape"] != [0]:
                raise TypeError(
                    f"feature {name!r} changes type from {column['type']} to {mindspore_type}"
                )
            column["type"] = mindspore_type  # only empty lists were seen before: untyped
        if column["shape"] != [length]:
            column["shape"] = [-1]  # variable length: MindSpore's marker for an unknown dim

    def schema(self, num_rows: int) -> dict[str, Any]:
        return {
            "datasetType": "TF",
            "numRows": num_rows,
            "columns": {name: self.columns[name] for name in sorted(self.columns)},
        }


def format_index(entries: Mapping[int, int] | list[tuple[int, int]]) -> str:
    items = entries.items() if isinstance(entries, Mapping) else entries
    return "".join(f"{offset} {length}\n" for offset, length in items)
