"""TFRecord framing: length, masked CRC32C of the length, payload, masked CRC32C of it.

Every record on disk is `uint64 length | uint32 masked_crc(length bytes) | payload |
uint32 masked_crc(payload)`, all little-endian. The mask (rotate right 15, add a
constant) is TensorFlow's guard against CRCs of data that itself contains CRCs.
"""

from __future__ import annotations

import struct

import numpy as np

from bertkit.errors import BertkitError, InputError

try:
    from crc32c import crc32c as _crc32c
except ImportError:  # pragma: no cover - the dependency is declared; this keeps reads possible
    _crc32c = None

HEADER_SIZE = 12  # uint64 length + uint32 masked CRC of it
FOOTER_SIZE = 4  # uint32 masked CRC of the payload
FRAME_OVERHEAD = HEADER_SIZE + FOOTER_SIZE

_MASK_DELTA = 0xA282EAD8
_POLY = 0x82F63B78  # Castagnoli, reflected
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


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


def mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc(data: bytes | memoryview) -> int:
    return mask(crc32c(data))


def mask_array(crcs: np.ndarray) -> np.ndarray:
    """`mask` applied to many CRCs at once (uint32 in, uint32 out)."""
    wide = crcs.astype(np.uint64)
    rotated = ((wide >> np.uint64(15)) | (wide << np.uint64(17))) & np.uint64(0xFFFFFFFF)
    return ((rotated + np.uint64(_MASK_DELTA)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def frame_record(payload: bytes) -> bytes:
    header = _LENGTH.pack(len(payload))
    return b"".join(
        (header, _CRC.pack(masked_crc(header)), payload, _CRC.pack(masked_crc(payload)))
    )


class CorruptRecordError(InputError):
    """A record whose framing, checksums or protobuf are wrong; names the record and offset.

    An `InputError` (exit 1, one line) whose position is the record number; the
    byte offset goes into the message so a hex editor can jump to it.
    """

    def __init__(self, path: str, record_number: int, offset: int, problem: str):
        self.path = str(path)
        self.position = record_number
        self.record_number = record_number
        self.offset = offset
        self.problem = problem
        BertkitError.__init__(self, f"{path}: record {record_number} at byte {offset}: {problem}")
