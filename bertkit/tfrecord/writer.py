"""Writing TFRecord files atomically, with their index and schema sidecars."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import numpy as np

from bertkit.fsutil import temporary_sibling, write_json_atomic, write_text_atomic
from bertkit.tfrecord.batch import BatchColumn, EncodedBatch, column_specs, encode_batch
from bertkit.tfrecord.example import FeatureValue, FloatList, Int64List, encode_example_with_specs
from bertkit.tfrecord.framing import frame_record
from bertkit.tfrecord.schema import (
    ColumnTracker,
    format_index,
    index_path_for,
    schema_path_for,
)

_BUFFER_SIZE = 1 << 20
_BATCH_CHUNK = 2048  # records encoded per numpy pass: keeps the temporaries to a few MB


class TFRecordWriter:
    """Context manager writing `tf.train.Example` records to ``path``.

    The records go to a hidden temporary file that is renamed into place only when
    the block exits cleanly; on an exception (Ctrl-C, a full disk included) it is
    deleted, so no file that looks complete is ever left behind. A failed write raises
    an OSError whose filename is the record file (or the sidecar) being written. The
    index and schema are written after the rename; a reader that finds no index, or a
    stale one, scans instead.

    `write` takes one record; `write_batch` takes ``[N, L]`` arrays and encodes N
    records in a few numpy passes (same bytes); `write_serialized` takes a payload
    from `encode_example` (declare its columns with `observe_columns`).
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
        self._handle = open(self._tmp, "wb", buffering=_BUFFER_SIZE)
        return self

    def write(self, features: Mapping[str, FeatureValue]) -> None:
        """Append one record built from name -> feature value."""
        payload, specs = encode_example_with_specs(features)
        for name, (kind, length) in specs.items():
            self._columns.observe(name, kind, length)
        self.write_serialized(payload)

    def write_serialized(self, payload: bytes) -> None:
        """Append one already-serialized Example payload (for batch encoders)."""
        assert self._handle is not None, "use TFRecordWriter as a context manager"
        framed = frame_record(payload)
        self._write_bytes(framed)
        self._offsets.append((self._position, len(framed)))
        self._position += len(framed)
        self.num_records += 1

    def write_batch(self, columns: Mapping[str, BatchColumn]) -> int:
        """Append one record per row of ``columns``; returns how many were written.

        Each column is an ``[N, L]`` (or ``[N]``, one value per record) integer array,
        or ``FloatList([N, L] array)``. The bytes are identical to calling `write` on
        each row, but the encoding is vectorised, which is what converters want.
        """
        specs = column_specs(columns)
        self.observe_columns({name: (spec.kind, spec.length) for name, spec in specs.items()})
        total = _batch_size(columns)
        for begin in range(0, total, _BATCH_CHUNK):
            chunk = {name: _rows(column, begin, begin + _BATCH_CHUNK)
                     for name, column in columns.items()}
            self._write_encoded(encode_batch(chunk))
        return total

    def _write_encoded(self, batch: EncodedBatch) -> None:
        self._write_bytes(batch.buffer)
        start = self._position
        self._offsets.extend(
            (start + offset, length)
            for offset, length in zip(batch.offsets.tolist(), batch.lengths.tolist())
        )
        self._position += len(batch.buffer)
        self.num_records += int(batch.offsets.size)

    def _write_bytes(self, data: bytes | memoryview) -> None:
        assert self._handle is not None, "use TFRecordWriter as a context manager"
        try:
            self._handle.write(data)
        except OSError as error:
            raise _naming(error, self.path) from error

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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        handle, self._handle = self._handle, None
        assert handle is not None
        try:
            handle.close()  # flushes the buffer: a full disk can surface only here
        except OSError as error:
            self._tmp.unlink(missing_ok=True)
            if exc_type is None:
                raise _naming(error, self.path) from error
            return  # the exception already on its way says what went wrong first
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        if exc_type is not None:
            self._tmp.unlink(missing_ok=True)
            return
        os.replace(self._tmp, self.path)
        # A sidecar left from an earlier run would describe other bytes: replace or remove it.
        index_path, schema_path = index_path_for(self.path), schema_path_for(self.path)
        try:
            if self.write_index:
                write_text_atomic(index_path, format_index(self._offsets))
            else:
                index_path.unlink(missing_ok=True)
        except OSError as error:
            raise _naming(error, index_path) from error
        try:
            if self.write_schema:
                write_json_atomic(schema_path, self._columns.schema(self.num_records))
            else:
                schema_path.unlink(missing_ok=True)
        except OSError as error:
            raise _naming(error, schema_path) from error


def _naming(error: OSError, path: Path) -> OSError:
    """The same failure, with the file being written as its filename (for the message)."""
    if error.filename is not None:
        return error
    return type(error)(error.errno, error.strerror or str(error), str(path))


def _batch_size(columns: Mapping[str, BatchColumn]) -> int:
    sizes = {len(_values(column)) for column in columns.values()}  # type: ignore[arg-type]
    if len(sizes) > 1:
        raise ValueError(f"batch columns disagree on the number of records: {sorted(sizes)}")
    return sizes.pop() if sizes else 0


def _values(column: BatchColumn) -> object:
    return column.values if isinstance(column, (Int64List, FloatList)) else column


def _rows(column: BatchColumn, begin: int, end: int) -> BatchColumn:
    if isinstance(column, FloatList):
        return FloatList(np.asarray(column.values)[begin:end])
    return np.asarray(_values(column))[begin:end]
