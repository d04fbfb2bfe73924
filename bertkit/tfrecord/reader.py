"""Reading TFRecord files: CRC-checked iteration and random access through the index."""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from bertkit.tfrecord.columns import ColumnValue, decode_columns
from bertkit.tfrecord.example import DecodedValue, decode_example
from bertkit.tfrecord.framing import (FOOTER_SIZE, FRAME_OVERHEAD, HEADER_SIZE,
                                      CorruptRecordError, masked_crc)
from bertkit.tfrecord.schema import index_path_for

_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_GZIP_MAGIC = b"\x1f\x8b"  # TFRecordOptions(compression_type="GZIP") output starts so


class TFRecordReader:
    """Random access over the records of one file.

    Offsets come from the `.index` sidecar when it exists and matches the file
    (contiguous, covering every byte, each length equal to the record's own length
    field), otherwise from one scan of the framing. Opening is cheap, so each
    DataLoader worker can open its own reader (the mmap is created lazily per
    process and is not pickled).
    """

    def __init__(self, path: str | Path, *, verify_crc: bool = True, use_index: bool = True):
        self.path = Path(path)
        self.verify_crc = verify_crc
        self._map: mmap.mmap | None = None
        self._file_size = self.path.stat().st_size
        self.index_used = False
        self.offsets = self._load_offsets(use_index)

    # -- file access ---------------------------------------------------------------------

    def _data(self) -> mmap.mmap | bytes:
        if self._map is None:
            if self._file_size == 0:  # mmap refuses empty files
                return b""
            self._map = open_map(self.path)  # type: ignore[assignment]
        return self._map

    def _load_offsets(self, use_index: bool) -> list[tuple[int, int]]:
        if use_index:
            offsets = offsets_from_index(index_path_for(self.path), self._data(), self._file_size)
            if offsets is not None:
                self.index_used = True
                return offsets
        return list(scan_offsets(self.path, self._data(), verify_crc=self.verify_crc))

    # -- records -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.offsets)

    def _checked_number(self, number: int) -> int:
        count = len(self.offsets)
        if not -count <= number < count:
            raise IndexError(f"record {number} out of range: {self.path} has {count} records")
        return number % count if count else number

    def raw(self, number: int) -> memoryview:
        """The payload bytes of record ``number`` (CRC-checked unless disabled).

        The view points into the file's memory map: copy it (``bytes(...)``) to keep it
        after `close`.
        """
        number = self._checked_number(number)
        offset, length = self.offsets[number]
        return payload_at(self.path, self._data(), number, offset, self.verify_crc, length)

    def __getitem__(self, number: int) -> dict[str, DecodedValue]:
        number = self._checked_number(number)
        return decode_record(self.path, number, self.offsets[number][0], self.raw(number))

    def __iter__(self) -> Iterator[dict[str, DecodedValue]]:
        for number in range(len(self)):
            yield self[number]

    def read_columns(
        self, names: Sequence[str] | None = None, start: int = 0, stop: int | None = None
    ) -> dict[str, ColumnValue]:
        """Records ``start:stop`` as columns: name -> ``[N, L]`` array when every record
        has L values (int64 or float32), else a list with one value per record.

        Far faster than indexing record by record when the records share one layout
        (every converter's output does); CRCs are checked as usual.
        """
        numbers = range(len(self.offsets))[start:stop]
        if numbers.step != 1:
            raise ValueError("read_columns takes a contiguous range of records")
        selected = self.offsets[numbers.start : numbers.stop]
        data = self._data()
        for number, (offset, length) in zip(numbers, selected):
            payload_at(self.path, data, number, offset, self.verify_crc, length).release()
        return decode_columns(
            data, selected, names, lambda index: self[numbers.start + index]
        )

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        if self._map is not None:
            close_map(self._map)
            self._map = None

    def __enter__(self) -> TFRecordReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __getstate__(self) -> dict:  # picklable for DataLoader workers: reopen lazily
        state = self.__dict__.copy()
        state["_map"] = None
        return state


def offsets_from_index(
    index: Path, data: mmap.mmap | bytes, file_size: int
) -> list[tuple[int, int]] | None:
    """The index's (offset, length) pairs, or None when it is missing or does not fit."""
    try:
        numbers = [int(field) for field in index.read_text(encoding="ascii").split()]
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if len(numbers) % 2:
        return None
    offsets = list(zip(numbers[0::2], numbers[1::2]))
    position = 0
    for offset, length in offsets:
        # Each record must start where the last ended and its own length field must agree;
        # anything else means the index belongs to an older version of the file.
        if offset != position or length < FRAME_OVERHEAD or offset + length > file_size:
            return None
        if _LENGTH.unpack_from(data, offset)[0] + FRAME_OVERHEAD != length:
            return None
        position += length
    return offsets if position == file_size else None


def payload_at(
    path: Path,
    data: mmap.mmap | bytes,
    number: int,
    offset: int,
    verify: bool,
    expected_length: int | None = None,
) -> memoryview:
    """The payload of the record framed at ``offset``, its framing and CRCs checked.

    No view of ``data`` outlives a failed check, so the error's traceback never
    keeps the memory map from closing.
    """
    size = len(data)
    if offset + HEADER_SIZE > size:
        raise CorruptRecordError(
            str(path), number, offset,
            f"truncated record header ({size - offset} of {HEADER_SIZE} bytes)",
        )
    length = _LENGTH.unpack_from(data, offset)[0]
    if verify and masked_crc(data[offset : offset + 8]) != _CRC.unpack_from(data, offset + 8)[0]:
        problem = "length CRC mismatch"
        if offset == 0 and data[:2] == _GZIP_MAGIC:
            problem += " (the file looks gzip-compressed: decompress it first)"
        raise CorruptRecordError(str(path), number, offset, problem)
    end = offset + HEADER_SIZE + length + FOOTER_SIZE
    if end > size:
        raise CorruptRecordError(
            str(path), number, offset,
            f"truncated record: needs {length + FRAME_OVERHEAD} bytes, file has {size - offset}",
        )
    if expected_length is not None and expected_length != length + FRAME_OVERHEAD:
        raise CorruptRecordError(str(path), number, offset, "index does not match the record")
    payload = memoryview(data)[offset + HEADER_SIZE : end - FOOTER_SIZE]
    if verify and masked_crc(payload) != _CRC.unpack_from(data, end - FOOTER_SIZE)[0]:
        payload.release()
        raise CorruptRecordError(str(path), number, offset, "data CRC mismatch")
    return payload


def decode_record(
    path: Path, number: int, offset: int, payload: memoryview
) -> dict[str, DecodedValue]:
    """`decode_example`, with malformed protobuf reported as a CorruptRecordError."""
    problem = None
    try:
        return decode_example(payload)
    except (ValueError, UnicodeDecodeError, IndexError) as error:
        problem = f"malformed tf.train.Example: {error}"
    # Raised outside the except block, with the view released, so that nothing in the
    # traceback keeps the memory map from closing.
    payload.release()
    raise CorruptRecordError(str(path), number, offset, problem)


def scan_offsets(
    path: str | Path, data: mmap.mmap | bytes, *, verify_crc: bool = True
) -> Iterator[tuple[int, int]]:
    """(offset, framed length) of every record, checking the framing as it goes."""
    path = Path(path)
    position = 0
    number = 0
    size = len(data)
    while position < size:
        payload = payload_at(path, data, number, position, verify_crc)
        framed = len(payload) + FRAME_OVERHEAD
        payload.release()  # no view may outlive the scan step
        yield position, framed
        position += framed
        number += 1


def open_map(path: Path) -> mmap.mmap | bytes:
    if path.stat().st_size == 0:  # mmap refuses empty files
        return b""
    with open(path, "rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def close_map(data: mmap.mmap | bytes) -> None:
    if isinstance(data, mmap.mmap):
        try:
            data.close()
        except BufferError:  # a view is still referenced somewhere; the GC will unmap
            pass


def read_records(
    path: str | Path, *, verify_crc: bool = True
) -> Iterator[dict[str, DecodedValue]]:
    """Every record of ``path`` in order, decoded; streams without reading the index.

    A corrupt record raises CorruptRecordError when the iteration reaches it.
    """
    path = Path(path)
    data = open_map(path)
    try:
        for number, (offset, framed) in enumerate(scan_offsets(path, data, verify_crc=verify_crc)):
            payload = memoryview(data)[offset + HEADER_SIZE : offset + framed - FOOTER_SIZE]
            record = decode_record(path, number, offset, payload)
            payload.release()
            yield record
    finally:
        close_map(data)


def read_columns(
    path: str | Path, names: Sequence[str] | None = None, *, verify_crc: bool = True
) -> dict[str, ColumnValue]:
    """Every record of ``path`` as columns (see `TFRecordReader.read_columns`)."""
    with TFRecordReader(path, verify_crc=verify_crc) as reader:
        return reader.read_columns(names)


def count_records(path: str | Path, *, verify_crc: bool = True) -> int:
    """Number of records, checking the framing (and both CRCs) of the whole file."""
    path = Path(path)
    data = open_map(path)
    try:
        return sum(1 for _ in scan_offsets(path, data, verify_crc=verify_crc))
    finally:
        close_map(data)
