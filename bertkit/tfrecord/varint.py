"""Protobuf base-128 varints, vectorised with numpy.

Python-level loops over 384-long id lists would dominate conversion time, so
whole arrays are encoded and decoded in a handful of numpy operations. Only as
many 7-bit groups as the largest value needs are computed: BERT ids (< 2**15)
take three, masks and segment ids one.
"""

from __future__ import annotations

import numpy as np

_MAX_GROUPS = 10  # ceil(64 / 7): a negative int64 always takes all ten
# Row n: which of a value's groups exist when its varint is n bytes long.
_PREFIX_MASKS = np.arange(_MAX_GROUPS)[None, :] < np.arange(_MAX_GROUPS + 1)[:, None]


def groups_needed(largest: int) -> int:
    """How many 7-bit groups the varint of ``largest`` (as unsigned 64-bit) takes."""
    return max(1, -(-int(largest).bit_length() // 7))


def as_unsigned(values: np.ndarray | list[int]) -> np.ndarray:
    """int64 values reinterpreted as uint64, the way protobuf encodes negative int64."""
    array = np.asarray(values)
    if array.dtype == np.uint64:
        if array.size and int(array.max()) > np.iinfo(np.int64).max:
            raise OverflowError("int64 feature value out of range")
        return np.ascontiguousarray(array)
    if array.size and array.dtype.kind not in "iub":
        raise TypeError(f"int64 feature values must be integers, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.int64).view(np.uint64)


def varint_lengths(
    unsigned: np.ndarray, needed: int | None = None, dtype: type = np.intp
) -> np.ndarray:
    """Byte length (1..10) of the varint of every uint64 value (intp unless ``dtype``).

    ``needed`` is the group count of the largest value, if the caller knows it.
    """
    lengths = np.ones(unsigned.shape, dtype=dtype)
    if unsigned.size == 0:
        return lengths
    if needed is None:
        needed = groups_needed(int(unsigned.max()))
    for k in range(1, needed):
        lengths += unsigned >= (1 << (7 * k))
    return lengths


# Varints of every value below 2**17 (any BERT vocabulary id, position or label) as a
# lookup table: one gather replaces a shift, mask and compare per 7-bit group.
SMALL_VALUE_LIMIT = 1 << 17
_TABLE_WIDTH = 3
_table: tuple[np.ndarray, np.ndarray] | None = None


def small_value_table() -> tuple[np.ndarray, np.ndarray]:
    """([2**17, 3] varint bytes, [2**17] byte counts), built on first use."""
    global _table
    if _table is None:
        values = np.arange(SMALL_VALUE_LIMIT, dtype=np.uint32)
        lengths = varint_lengths(values, _TABLE_WIDTH, np.uint8)
        groups = np.empty((SMALL_VALUE_LIMIT, _TABLE_WIDTH), dtype=np.uint8)
        for k in range(_TABLE_WIDTH):
            group = (values >> (7 * k)).astype(np.uint8) & 0x7F
            group |= (lengths > k + 1).view(np.uint8) << 7
            groups[:, k] = group
        _table = groups, lengths
    return _table


def encode_unsigned(unsigned: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Concatenated varints of a flat uint64 array, as a uint8 array.

    ``lengths`` (from `varint_lengths`) may be passed when the caller has it already.
    Small values go through a lookup table; larger ones are split one 7-bit group at a
    time, which is several times faster than a [values, 10] uint64 matrix.
    """
    if unsigned.size == 0:
        return np.zeros(0, dtype=np.uint8)
    largest = int(unsigned.max())
    needed = groups_needed(largest)
    if needed == 1:
        return unsigned.astype(np.uint8)
    if largest < SMALL_VALUE_LIMIT:
        table_bytes, table_lengths = small_value_table()
        index = unsigned.astype(np.intp)
        if lengths is None:
            lengths = np.take(table_lengths, index)
        groups = np.take(table_bytes, index, axis=0)
        needed = _TABLE_WIDTH  # the mask below drops the unused groups
    else:
        narrow = unsigned.astype(np.uint32) if largest <= 0xFFFFFFFF else unsigned
        if lengths is None:
            lengths = varint_lengths(narrow, needed, np.uint8)
        groups = np.empty((narrow.size, needed), dtype=np.uint8)
        for k in range(needed):
            group = (narrow >> (7 * k)).astype(np.uint8) & 0x7F
            if k < needed - 1:  # continuation bit on every group but a value's last
                group |= (lengths > k + 1).view(np.uint8) << 7
            groups[:, k] = group
    # Boolean indexing walks row-major, so each value's groups come out in wire order.
    keep = np.take(_PREFIX_MASKS[:, :needed], lengths, axis=0)
    return groups[keep]


def encode_varints(values: np.ndarray | list[int]) -> bytes:
    """Packed varint bytes of int64 values (negatives take 10 bytes, as protobuf does)."""
    return encode_unsigned(as_unsigned(values).reshape(-1)).tobytes()


def _varint_bytes_uncached(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Tags and message lengths are small and repeat on every record: look them up.
_SMALL_VARINTS = [_varint_bytes_uncached(value) for value in range(1 << 12)]


def varint_bytes(value: int) -> bytes:
    """One varint, for tags and lengths (always non-negative there)."""
    if 0 <= value < 4096:
        return _SMALL_VARINTS[value]
    return _varint_bytes_uncached(value)


_SHORT_PACKED = 12
_INT64_SIGN = 1 << 63
_UINT64_RANGE = 1 << 64


def _decode_short(data: bytes | memoryview) -> np.ndarray:
    values = []
    pos, end = 0, len(data)
    while pos < end:
        value, pos = read_varint(data, pos)
        value &= _UINT64_RANGE - 1  # protobuf keeps the low 64 bits of an overlong varint
        values.append(value - _UINT64_RANGE if value >= _INT64_SIGN else value)
    return np.array(values, dtype=np.int64)


def decode_varints(data: bytes | memoryview | np.ndarray) -> np.ndarray:
    """All varints in ``data`` (a packed field) as int64. Raises ValueError if malformed."""
    if isinstance(data, np.ndarray):
        raw = data.astype(np.uint8, copy=False).reshape(-1)
    elif len(data) <= _SHORT_PACKED:  # scalars: a Python loop beats numpy's call overhead
        return _decode_short(data)
    else:
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
    widths = ends - starts + 1
    if int(widths.max()) <= 3:  # every value < 2**21 (token ids): three gathers, no reduceat
        low = np.zeros(raw.size + 2, dtype=np.int64)
        low[: raw.size] = raw & 0x7F
        values = low[starts]
        values |= (low[starts + 1] << 7) * (widths >= 2)
        values |= (low[starts + 2] << 14) * (widths >= 3)
        return values
    position = np.arange(raw.size) - np.repeat(starts, widths)
    if int(position.max()) >= _MAX_GROUPS:
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
