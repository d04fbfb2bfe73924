"""Protobuf base-128 varints, vectorised with numpy.

Python-level loops over 384-long id lists would dominate conversion time, so
whole arrays are encoded and decoded in a handful of numpy operations.
"""

from __future__ import annotations

import numpy as np

_SHIFTS = np.arange(0, 70, 7, dtype=np.uint64)  # 10 groups of 7 bits cover 64 bits
_THRESHOLDS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)
_GROUP_INDEX = np.arange(10)


def encode_varints(values: np.ndarray) -> bytes:
    """Packed varint bytes of int64 values (negatives take 10 bytes, as protobuf does)."""
    unsigned = np.ascontiguousarray(values, dtype=np.int64).view(np.uint64)
    if unsigned.size == 0:
        return b""
    if int(unsigned.max()) < 0x80:
        return unsigned.astype(np.uint8).tobytes()
    lengths = 1 + (unsigned[:, None] >= _THRESHOLDS[None, :]).sum(axis=1)
    groups = ((unsigned[:, None] >> _SHIFTS[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    continuation = _GROUP_INDEX[None, :] < (lengths - 1)[:, None]
    groups |= continuation.astype(np.uint8) << 7
    return groups[_GROUP_INDEX[None, :] < lengths[:, None]].tobytes()


def varint_bytes(value: int) -> bytes:
    """One varint, for tags and lengths (always non-negative there)."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varints(data: bytes | memoryview) -> np.ndarray:
    """All varints in ``data`` (a packed field) as int64. Raises ValueError if truncated."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    if raw[-1] & 0x80:
        raise ValueError("truncated varint")
    if int(raw.max()) < 0x80:
        return raw.astype(np.int64)
    is_last = raw < 0x80
    ends = np.flatnonzero(is_last)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    position = np.arange(raw.size) - np.repeat(starts, ends - starts + 1)
    if int(position.max()) > 9:
        raise ValueError("varint longer than 10 bytes")
    shifted = (raw & 0x7F).astype(np.uint64) << (position.astype(np.uint64) * np.uint64(7))
    return np.bitwise_or.reduceat(shifted, starts).view(np.int64)


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """One varint at ``pos``; returns (value, next position)."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint longer than 10 bytes")
