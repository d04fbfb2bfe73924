"""Many fixed-shape records encoded and framed at once, with numpy instead of a Python loop.

A converter holds its features as `[N, L]` arrays (ids, masks, labels); encoding
them record by record costs a dozen small numpy calls per feature. Here every
piece of the protobuf (tags, nested lengths, packed values) is computed for all N
records in one vectorised step, as a "block": an `[N, w]` byte matrix whose row r
holds record r's bytes of that piece, padded to the widest record, plus a mask of
which of those bytes exist (a varint of 1..g bytes fills 1..g of its g columns).
Putting the blocks side by side gives every record as one padded row, so a single
boolean selection (row-major, so record after record) yields the framed records
back to back: no per-record Python loop, no per-record slicing. Only the payload
CRCs are computed per record (the CRC library takes one buffer at a time).

The bytes are identical to `frame_record(encode_example(row))` for each row: same
sorted key order, same nested lengths, same packing. Layout of one framed record:

    uint64 len | crc | 0a varint(features_len) | entry(name_1) ... entry(name_k) | crc
    entry = 0a varint(entry_len) 0a varint(len(name)) name 12 varint(feature_len)
            <list tag> varint(list_len) [0a varint(packed_len) packed values]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bertkit.tfrecord.example import (
    FLOAT_LIST_FIELD,
    INT64_LIST_FIELD,
    BytesList,
    FloatList,
    Int64List,
    length_delimited,
)
from bertkit.tfrecord.framing import HEADER_SIZE, crc32c, mask_array
from bertkit.tfrecord.varint import (
    SMALL_VALUE_LIMIT,
    as_unsigned,
    groups_needed,
    small_value_table,
    varint_lengths,
)

BatchColumn = np.ndarray | Int64List | FloatList

# Row n: which of a value's g byte columns exist when its varint is n bytes long.
_PREFIX_MASKS = np.arange(10)[None, :] < np.arange(11)[:, None]


@dataclass
class _Block:
    """One piece of every record: `[N, w]` bytes, and which exist (None: all of them)."""

    data: np.ndarray  # uint8 [N, w]
    present: np.ndarray | None  # bool [N, w]


@dataclass(frozen=True)
class EncodedBatch:
    """Framed records back to back, and where each starts and how long it is."""

    buffer: bytearray  # ready to write to the file
    offsets: np.ndarray  # int64, start of each framed record within ``buffer``
    lengths: np.ndarray  # int64, framed length of each record


@dataclass(frozen=True)
class ColumnSpec:
    """What `write_batch` learned about one column: MindSpore type and values per record."""

    kind: str  # "int64" or "float32"
    length: int


def _constant(chunk: bytes, count: int) -> _Block:
    return _Block(np.broadcast_to(np.frombuffer(chunk, dtype=np.uint8), (count, len(chunk))),
                  None)


@lru_cache(maxsize=1)
def _small_value_present() -> np.ndarray:
    """[value, group]: does the varint of a value below `SMALL_VALUE_LIMIT` have that byte."""
    _groups, lengths = small_value_table()
    return _PREFIX_MASKS[:, :_groups.shape[1]][lengths]


def _varint_block(unsigned: np.ndarray) -> tuple[_Block, np.ndarray]:
    """Varints of an `[N, L]` uint64 matrix, row by row, and each row's byte count."""
    count, width = unsigned.shape
    if unsigned.size == 0:
        return _Block(np.zeros((count, 0), np.uint8), None), np.zeros(count, np.intp)
    largest = int(unsigned.max())
    needed = groups_needed(largest)
    if needed == 1:  # masks, segment ids, small labels and lengths: one byte per value
        return _Block(unsigned.astype(np.uint8), None), np.full(count, width, np.intp)
    if largest < SMALL_VALUE_LIMIT:
        # Vocabulary ids, positions, labels, lengths: three row gathers from tables
        # instead of a shift, mask and compare per 7-bit group.
        groups, lengths = small_value_table()
        index = unsigned.view(np.int64)  # below 2**17: the same numbers
        columns = width * groups.shape[1]
        return (_Block(np.take(groups, index, axis=0).reshape(count, columns),
                       np.take(_small_value_present(), index, axis=0).reshape(count, columns)),
                np.take(lengths, index).sum(axis=1, dtype=np.intp))

    narrow = unsigned.astype(np.uint32) if largest <= 0xFFFFFFFF else unsigned
    lengths = varint_lengths(narrow, needed, np.uint8)
    groups = np.empty((count, width, needed), dtype=np.uint8)
    for k in range(needed):
        group = (narrow >> (7 * k)).astype(np.uint8) & 0x7F
        if k < needed - 1:  # continuation bit on every group but a value's last
            group |= (lengths > k + 1).view(np.uint8) << 7
        groups[:, :, k] = group
    present = np.take(_PREFIX_MASKS[:, :needed], lengths, axis=0)
    return (_Block(groups.reshape(count, width * needed), present.reshape(count, -1)),
            lengths.sum(axis=1, dtype=np.intp))


def _varints(values: np.ndarray) -> tuple[_Block, np.ndarray]:
    """One varint per record (nested lengths), and its byte count per record."""
    return _varint_block(values.astype(np.uint64)[:, None])


def _as_matrix(name: str, column: BatchColumn) -> tuple[str, np.ndarray]:
    """(MindSpore kind, [N, L] array) of one batch column; 1-D means one value per record."""
    if isinstance(column, BytesList):
        raise TypeError(f"column {name!r}: write_batch takes int64 or float columns; "
                        "write bytes features record by record with write()")
    if isinstance(column, FloatList):
        matrix = np.asarray(column.values, dtype=np.float32)
        kind = "float32"
    else:
        values = column.values if isinstance(column, Int64List) else column
        matrix = np.asarray(values)
        if matrix.size and matrix.dtype.kind not in "iub":
            raise TypeError(f"column {name!r}: dtype {matrix.dtype} is not an integer; "
                            "wrap float columns in FloatList")
        kind = "int64"
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2:
        raise ValueError(f"column {name!r}: expected shape [N] or [N, L], got {matrix.shape}")
    return kind, matrix


def column_specs(columns: Mapping[str, BatchColumn]) -> dict[str, ColumnSpec]:
    return {
        name: ColumnSpec(kind, matrix.shape[1])
        for name, (kind, matrix) in ((n, _as_matrix(n, c)) for n, c in columns.items())
    }


def _column_blocks(name: str, kind: str, matrix: np.ndarray) -> tuple[list[_Block], np.ndarray]:
    """One map entry for every record, as blocks, and the entry's full size per record."""
    count = matrix.shape[0]
    if kind == "float32":
        packed = _Block(
            np.ascontiguousarray(matrix, dtype="<f4").view(np.uint8).reshape(count, -1), None)
        packed_len = np.full(count, 4 * matrix.shape[1], dtype=np.intp)
        list_tag = FLOAT_LIST_FIELD
    else:
        packed, packed_len = _varint_block(as_unsigned(matrix))
        list_tag = INT64_LIST_FIELD

    # `0a varint(packed_len)` only for records with values: protobuf leaves an empty
    # packed field out entirely.
    has_values = packed_len > 0
    packed_len_varint, packed_len_size = _varints(packed_len)
    packed_tag = _constant(b"\x0a", count)
    if not has_values.all():
        keep = has_values[:, None]
        packed_tag.present = np.broadcast_to(keep, (count, 1))
        base = packed_len_varint.present
        packed_len_varint.present = keep if base is None else base & keep
    packed_header_size = np.where(has_values, 1 + packed_len_size, 0)

    list_len = packed_header_size + packed_len
    list_len_varint, list_len_size = _varints(list_len)
    feature_len = 1 + list_len_size + list_len
    feature_len_varint, feature_len_size = _varints(feature_len)
    key_and_value_tag = length_delimited(1, name.encode("utf-8")) + b"\x12"
    entry_len = len(key_and_value_tag) + feature_len_size + feature_len
    entry_len_varint, entry_len_size = _varints(entry_len)
    blocks = [
        _constant(b"\x0a", count),
        entry_len_varint,
        _constant(key_and_value_tag, count),
        feature_len_varint,
        _constant(bytes((list_tag << 3 | 2,)), count),
        list_len_varint,
        packed_tag,
        packed_len_varint,
        packed,
    ]
    return blocks, 1 + entry_len_size + entry_len


def _length_crcs(payload_len: np.ndarray) -> np.ndarray:
    """Masked CRC of each record's 8-byte length field; few distinct lengths, so once each."""
    distinct, which = np.unique(payload_len.astype("<u8"), return_inverse=True)
    crcs = np.fromiter((crc32c(value.tobytes()) for value in distinct), dtype=np.uint32,
                       count=distinct.size)
    return mask_array(crcs)[which.reshape(-1)]


def encode_batch(columns: Mapping[str, BatchColumn]) -> EncodedBatch:
    """Frame N records whose features are the rows of ``columns`` (all with the same N)."""
    matrices = {name: _as_matrix(name, column) for name, column in columns.items()}
    counts = {matrix.shape[0] for _kind, matrix in matrices.values()}
    if len(counts) > 1:
        raise ValueError(f"batch columns disagree on the number of records: {sorted(counts)}")
    count = counts.pop() if counts else 0
    empty = np.zeros(0, dtype=np.int64)
    if count == 0:
        return EncodedBatch(bytearray(), empty, empty)

    entries: list[_Block] = []
    features_len = np.zeros(count, dtype=np.intp)
    for name in sorted(matrices):
        kind, matrix = matrices[name]
        blocks, entry_size = _column_blocks(name, kind, matrix)
        entries += blocks
        features_len += entry_size
    features_len_varint, features_len_size = _varints(features_len)
    payload_len = 1 + features_len_size + features_len
    length_crc = _length_crcs(payload_len)
    blocks = [
        _Block(payload_len.astype("<u8")[:, None].view(np.uint8), None),
        _Block(length_crc.astype("<u4")[:, None].view(np.uint8), None),
        _constant(b"\x0a", count),
        features_len_varint,
        *entries,
        _constant(bytes(4), count),  # the payload CRC, patched in below
    ]
    blocks = [block for block in blocks if block.data.shape[1]]
    padded = np.concatenate([block.data for block in blocks], axis=1)
    present = np.ones(padded.shape, dtype=bool)
    column = 0
    for block in blocks:
        width = block.data.shape[1]
        if block.present is not None:
            present[:, column:column + width] = block.present
        column += width
    framed = padded[present]  # row-major: record 0's bytes, then record 1's, ...
    buffer = bytearray(memoryview(framed))
    framed_len = payload_len + HEADER_SIZE + 4
    starts = np.cumsum(framed_len) - framed_len
    _fill_payload_crcs(buffer, starts, payload_len)
    return EncodedBatch(buffer, starts.astype(np.int64), framed_len.astype(np.int64))


def _fill_payload_crcs(buffer: bytearray, starts: np.ndarray, payload_len: np.ndarray) -> None:
    """Write each record's masked payload CRC into the 4 bytes left after its payload."""
    view = memoryview(buffer)
    payload_starts = starts + HEADER_SIZE
    payload_ends = payload_starts + payload_len
    crcs = np.fromiter(
        (crc32c(view[begin:end])
         for begin, end in zip(payload_starts.tolist(), payload_ends.tolist())),
        dtype=np.uint32, count=starts.size)
    view.release()
    footer = payload_ends[:, None] + np.arange(4)
    np.frombuffer(buffer, dtype=np.uint8)[footer] = (
        mask_array(crcs).astype("<u4")[:, None].view(np.uint8))
