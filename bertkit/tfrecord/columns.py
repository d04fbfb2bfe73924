"""Many records decoded at once into `[N, L]` arrays: the fast way to load a whole file.

Records written by one converter share one layout: the same feature names in the
same order, each the same list type; only lengths (and so varint widths) differ.
Such a file is parsed in lockstep: every step reads the same protobuf field of all
N records with a few numpy gathers, so the Python work per file is proportional to
the number of features, not of records. Then each column's packed values are decoded
in one vectorised call. A file whose records do not share a layout (or hold bytes
lists) is decoded record by record instead, with the same result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bertkit.tfrecord.example import FLOAT_LIST_FIELD, INT64_LIST_FIELD, DecodedValue
from bertkit.tfrecord.framing import HEADER_SIZE
from bertkit.tfrecord.varint import decode_varints

ColumnValue = np.ndarray | list  # [N, L] array, or one array (or bytes list) per record

_TAG_INT64 = (INT64_LIST_FIELD << 3) | 2
_TAG_FLOAT = (FLOAT_LIST_FIELD << 3) | 2


class _NotUniform(Exception):
    """The records do not share one layout; decode them one by one."""


def _varints_at(buf: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, byte length) of the varint starting at each position."""
    last = buf.size - 1
    value = np.zeros(positions.size, dtype=np.uint64)
    length = np.zeros(positions.size, dtype=np.int64)
    active = np.ones(positions.size, dtype=bool)
    for k in range(10):
        byte = buf[np.minimum(positions + k, last)]
        value |= np.where(active, byte & 0x7F, 0).astype(np.uint64) << np.uint64(7 * k)
        length += active
        active &= byte >= 0x80
        if not active.any():
            return value.astype(np.int64), length
    raise _NotUniform("varint longer than 10 bytes")


def _expect(condition: np.ndarray | bool) -> None:
    if not np.all(condition):
        raise _NotUniform()


def _field_header(buf: np.ndarray, at: np.ndarray, tag: int) -> tuple[np.ndarray, np.ndarray]:
    """Check the one-byte ``tag`` at each position; return (payload start, payload length)."""
    _expect(buf[at] == tag)
    length, width = _varints_at(buf, at + 1)
    return at + 1 + width, length


def _layout(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[tuple]:
    """[(name, list tag, value starts, value lengths)] for records sharing one layout."""
    body, body_len = _field_header(buf, starts, 0x0A)  # Example.features
    _expect(body + body_len == ends)
    position = body
    features = []
    while True:
        done = position == ends
        if done.all():
            return features
        _expect(~done)
        entry, entry_len = _field_header(buf, position, 0x0A)  # one map entry
        entry_end = entry + entry_len
        key, key_len = _field_header(buf, entry, 0x0A)
        _expect(key_len == key_len[0])
        width = int(key_len[0])
        name_bytes = buf[int(key[0]) : int(key[0]) + width]
        if width:
            _expect(buf[key[:, None] + np.arange(width)] == name_bytes[None, :])
        value, value_len = _field_header(buf, key + width, 0x12)
        _expect(value + value_len == entry_end)
        tag = int(buf[int(value[0])])
        if tag not in (_TAG_INT64, _TAG_FLOAT):
            raise _NotUniform("bytes lists are decoded record by record")
        items, items_len = _field_header(buf, value, tag)
        _expect(items + items_len == entry_end)
        if items_len.any():
            _expect(items_len > 0)
            packed, packed_len = _field_header(buf, items, 0x0A)
            _expect(packed + packed_len == entry_end)
        else:
            packed, packed_len = items, items_len
        features.append((bytes(name_bytes).decode("utf-8"), tag, packed, packed_len))
        position = entry_end


def _gather(view: memoryview, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The byte ranges [start, start + length) of all records, back to back.

    One memoryview slice per record and a single join: memcpy speed, where a byte-level
    index array would cost several passes over the data.
    """
    ends = (starts + lengths).tolist()
    joined = b"".join([view[start:end] for start, end in zip(starts.tolist(), ends)])
    return np.frombuffer(joined, dtype=np.uint8)


def _shape(values: np.ndarray, counts: np.ndarray) -> ColumnValue:
    if counts.size and (counts == counts[0]).all():
        return values.reshape(counts.size, int(counts[0]))
    return np.split(values, np.cumsum(counts)[:-1])


def _decode_column(view: memoryview, tag: int, starts: np.ndarray,
                   lengths: np.ndarray) -> ColumnValue:
    raw = _gather(view, starts, lengths)
    if tag == _TAG_FLOAT:
        _expect(lengths % 4 == 0)
        return _shape(raw.view("<f4").astype(np.float32), lengths // 4)
    if raw.size == 0 or int(raw.max()) < 0x80:  # one byte per value: masks, segments, labels
        return _shape(raw.astype(np.int64), lengths)
    try:
        values = decode_varints(raw)
    except ValueError:
        raise _NotUniform() from None
    # A record's value count = how many varints end inside its byte range.
    value_ends = np.flatnonzero(raw < 0x80)
    before = np.searchsorted(value_ends, np.cumsum(lengths), side="left")
    return _shape(values, np.diff(before, prepend=0))


def decode_columns(
    data: object,
    offsets: Sequence[tuple[int, int]],
    names: Sequence[str] | None,
    decode_one,
) -> dict[str, ColumnValue]:
    """Columns of the records framed at ``offsets`` (already CRC-checked by the caller).

    ``decode_one(i)`` decodes record i on its own; it is the fallback, and its errors
    (CorruptRecordError for malformed records) are what the caller sees.
    """
    if not offsets:
        return {}
    frame = np.asarray(offsets, dtype=np.int64)
    starts = frame[:, 0] + HEADER_SIZE
    ends = frame[:, 0] + frame[:, 1] - 4
    buf = np.frombuffer(data, dtype=np.uint8)  # type: ignore[call-overload]
    view = memoryview(data)  # type: ignore[arg-type]
    try:
        layout = _layout(buf, starts, ends)
        wanted = set(names) if names is not None else None
        columns = {
            name: _decode_column(view, tag, value_starts, value_lengths)
            for name, tag, value_starts, value_lengths in layout
            if wanted is None or name in wanted
        }
        if wanted is not None and wanted - set(columns):
            raise _NotUniform()  # let the per-record path name what is missing
        return columns
    except (_NotUniform, IndexError):  # IndexError: a length pointing past the file
        pass
    finally:
        # Everything returned is a copy; no view of the file's memory map may outlive this.
        del buf
        view.release()
    return _stack([decode_one(number) for number in range(len(offsets))], names)


def _stack(records: list[dict[str, DecodedValue]], names: Sequence[str] | None
           ) -> dict[str, ColumnValue]:
    wanted = names if names is not None else sorted({n for r in records for n in r})
    columns: dict[str, ColumnValue] = {}
    for name in wanted:
        missing = [number for number, record in enumerate(records) if name not in record]
        if missing:
            raise KeyError(f"feature {name!r} is missing from record {missing[0]}")
        values = [record[name] for record in records]
        if all(isinstance(v, np.ndarray) for v in values) and len(
            {(v.shape, v.dtype) for v in values}
        ) == 1:
            columns[name] = np.stack(values)  # type: ignore[arg-type]
        else:
            columns[name] = values
    return columns
