"""Reading TFRecord files: CRC-checked iteration and random access through the index."""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from pathlib import Path

from bertkit.tfrecord.example import DecodedValue, decode_example
from bertkit.tfrecord.framing import CorruptRecordError, masked_crc
from bertkit.tfrecord.schema import index_path_for

_HEADER = 12  # uint64 length + uint32 masked CRC of it
_FOOTER = 4


class TFRecordReader:
    """Random access over the records of one file.

    Offsets come from the `.index` sidecar when it exists and matches the file,
    otherwise from one scan of the framing. Opening is cheap, so each DataLoader
    worker can open its own reader (the mmap is created lazily per process).
    """

    def __init__(self, path: str | Path, *, verify_crc: bool = True, use_index: bool = True):
        self.path = Path(path)
        self.verify_crc = verify_crc
        self._map: mmap.mmap | None = None
        self._file_size = self.path.stat().st_size
        self.offsets = self._load_offsets(use_index)

    def _data(self) -> mmap.mmap | bytes:
        if self._map is None:
            if self._file_size == 0:
                return b""
            with open(self.path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return self._map

    def _load_offsets(self, use_index: bool) -> list[tuple[int, int]]:
        index = index_path_for(self.path)
        if use_index and index.exists():
            offsets = []
            for line in index.read_text().splitlines():
                offset, length = line.split()
                offsets.append((int(offset), int(length)))
            if offsets and sum(length for _, length in offsets) == self._file_size:
                return offsets
            if not offsets and self._file_size == 0:
                return offsets
        return list(scan_offsets(self.path, self._data(), verify_crc=self.verify_crc))

    def __len__(self) -> int:
        return len(self.offsets)

    def raw(self, number: int) -> memoryview:
        """The payload bytes of record ``number`` (CRC-checked unless disabled)."""
        offset, length = self.offsets[number]
        data = self._data()
        return _payload_at(self.path, data, number, offset, self.verify_crc, length)

    def __getitem__(self, number: int) -> dict[str, DecodedValue]:
        return decode_example(self.raw(number))

    def __iter__(self) -> Iterator[dict[str, DecodedValue]]:
        for number in range(len(self)):
            yield self[number]

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    def __getstate__(self) -> dict:  # picklable for DataLoader workers: reopen lazily
        state = self.__dict__.copy()
        state["_map"] = None
        return state


def _payload_at(
    path: Path, data: mmap.mmap | bytes, number: int, offset: int, verify: bool,
    expected_length: int | None = None,
) -> memoryview:
    view = memoryview(data)
    if offset + _HEADER > len(view):
        raise CorruptRecordError(str(path), number, offset, "truncated record header")
    header = view[offset : offset + 8]
    (length,) = struct.unpack("<Q", header)
    (header_crc,) = struct.unpack("<I", view[offset + 8 : offset + 12])
    if verify and masked_crc(header) != header_crc:
        raise CorruptRecordError(str(path), number, offset, "length CRC mismatch")
    end = offset + _HEADER + length + _FOOTER
    if end > len(view):
        raise CorruptRecordError(str(path), number, offset, "truncated record payload")
    if expected_length is not None and expected_length != _HEADER + length + _FOOTER:
        raise CorruptRecordError(str(path), number, offset, "index does not match the record")
    payload = view[offset + _HEADER : offset + _HEADER + length]
    if verify:
        (payload_crc,) = struct.unpack("<I", view[end - _FOOTER : end])
        if masked_crc(payload) != payload_crc:
            raise CorruptRecordError(str(path), number, offset, "data CRC mismatch")
    return payload


def scan_offsets(
    path: str | Path, data: mmap.mmap | bytes, *, verify_crc: bool = True
) -> Iterator[tuple[int, int]]:
    """(offset, framed length) of every record, checking the framing as it goes."""
    position = 0
    number = 0
    size = len(data)
    while position < size:
        payload = _payload_at(Path(path), data, number, position, verify_crc)
        framed = _HEADER + len(payload) + _FOOTER
        yield position, framed
        position += framed
        number += 1


def read_records(path: str | Path, *, verify_crc: bool = True) -> Iterator[dict[str, DecodedValue]]:
    """Every record of ``path`` in order, decoded."""
    reader = TFRecordReader(path, verify_crc=verify_crc, use_index=False)
    try:
        yield from reader
    finally:
        reader.close()
