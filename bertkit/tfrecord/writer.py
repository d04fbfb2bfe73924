"""Writing TFRecord files atomically, with their index and schema sidecars."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from bertkit.fsutil import temporary_sibling, write_json_atomic, write_text_atomic
from bertkit.tfrecord.example import FeatureValue, encode_example
from bertkit.tfrecord.framing import frame_record
from bertkit.tfrecord.schema import (
    ColumnTracker,
    format_index,
    index_path_for,
    mindspore_type_of,
    schema_path_for,
)


class TFRecordWriter:
    """Context manager writing `tf.train.Example` records to ``path``.

    The records go to a hidden temporary file that is renamed into place only when
    the block exits cleanly; on an exception (Ctrl-C included) it is deleted, so no
    file that looks complete is ever left behind. The index and schema are written
    after the rename.
    """

    def __init__(self, path: str | Path, *, index: bool = True, schema: bool = True):
        self.path = Path(path)
        self.write_index = index
        self.write_schema = schema
        self.num_records = 0
        self._offsets: list[tuple[int, int]] = []
        self._position = 0
        self._columns = ColumnTracker()
        self._tmp = temporary_sibling(self.path)
        self._handle = None

    def __enter__(self) -> TFRecordWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self._tmp, "wb")  # noqa: SIM115 - closed in __exit__
        return self

    def write(self, features: Mapping[str, FeatureValue]) -> None:
        """Append one record built from name -> feature value."""
        for name, value in features.items():
            self._columns.observe(name, *mindspore_type_of(value))
        self.write_serialized(encode_example(features))

    def write_serialized(self, payload: bytes) -> None:
        """Append one already-serialized Example payload (for batch encoders)."""
        assert self._handle is not None, "use TFRecordWriter as a context manager"
        framed = frame_record(payload)
        self._handle.write(framed)
        self._offsets.append((self._position, len(framed)))
        self._position += len(framed)
        self.num_records += 1

    def observe_columns(self, columns: Mapping[str, tuple[str, int]]) -> None:
        """Declare column types/lengths when records are written pre-serialized."""
        for name, (kind, length) in columns.items():
            self._columns.observe(name, kind, length)

    @property
    def sidecar_paths(self) -> list[Path]:
        paths = []
        if self.write_index:
            paths.append(index_path_for(self.path))
        if self.write_schema:
            paths.append(schema_path_for(self.path))
        return paths

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._handle is not None
        self._handle.close()
        if exc_type is not None:
            self._tmp.unlink(missing_ok=True)
            return
        os.replace(self._tmp, self.path)
        if self.write_index:
            write_text_atomic(index_path_for(self.path), format_index(self._offsets))
        if self.write_schema:
            write_json_atomic(schema_path_for(self.path), self._columns.schema(self.num_records))


def load_schema(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
