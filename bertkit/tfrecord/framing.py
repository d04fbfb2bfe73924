"""TFRecord framing: length, masked CRC32C of the length, payload, masked CRC32C of it."""

from __future__ import annotations

import struct

from bertkit.errors import BertkitError

try:
    from crc32c import crc32c as _crc32c
except ImportError:  # pragma: no cover - the dependency is declared; this keeps reads possible
    _crc32c = None

_MASK_DELTA = 0xA282EAD8
_POLY = 0x82F63B78  # Castagnoli, reflected


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def _crc32c_python(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c(data: bytes | memoryview) -> int:
    return _crc32c(data) if _crc32c is not None else _crc32c_python(bytes(data))


def masked_crc(data: bytes | memoryview) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return (
        header
        + struct.pack("<I", masked_crc(header))
        + payload
        + struct.pack("<I", masked_crc(payload))
    )


class CorruptRecordError(BertkitError):
    """A record whose framing or checksums are wrong; names the record and byte offset."""

    def __init__(self, path: str, record_number: int, offset: int, problem: str):
        self.path = path
        self.record_number = record_number
        self.offset = offset
        super().__init__(f"{path}: record {record_number} at byte {offset}: {problem}")
