"""Read TensorFlow's checkpoint bundle (``prefix.index`` + ``prefix.data-NNNNN-of-NNNNN``)
without TensorFlow.

The ``.index`` file is a LevelDB-style sorted table: data blocks of prefix-compressed
key/value entries, an index block pointing at them and a 48-byte footer pointing at the
index. Each key is a tensor name and each value a serialized ``BundleEntryProto`` giving
dtype, shape, which data shard holds the bytes, at which offset, and a masked CRC32C. The
empty key holds the ``BundleHeaderProto`` (number of shards, endianness). Tensor bytes in
the shards are raw, C-ordered and little-endian.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np

from bertkit.train.checkpoints.protowire import (
    LENGTH_DELIMITED,
    WireFormatError,
    as_signed64,
    iter_fields,
    read_varint,
)

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_LENGTH = 48
_BLOCK_TRAILER_LENGTH = 5  # one compression-type byte + a masked CRC32C of the block

# tensorflow/core/framework/types.proto DataType values we can turn into numpy arrays.
# bfloat16 (14) has no numpy dtype: it is read as uint16 and widened by the caller.
TF_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    4: np.dtype("u1"),
    5: np.dtype("<i2"),
    6: np.dtype("i1"),
    9: np.dtype("<i8"),
    10: np.dtype("?"),
    14: np.dtype("<u2"),
    17: np.dtype("<u2"),
    19: np.dtype("<f2"),
    22: np.dtype("<u4"),
    23: np.dtype("<u8"),
}
TF_BFLOAT16 = 14


class BundleFormatError(ValueError):
    """The files are not a TensorFlow bundle this reader understands."""


class BundleFeatureError(BundleFormatError):
    """A well-formed bundle using a feature this reader lacks (TensorFlow's reader has it)."""


@dataclasses.dataclass(frozen=True)
class BundleEntry:
    name: str
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None
    sliced: bool


def read_bundle_index(index_path: str | Path) -> tuple[int, dict[str, BundleEntry]]:
    """(number of data shards, entries by tensor name) from a ``.index`` file."""
    data = Path(index_path).read_bytes()
    num_shards = 1
    entries: dict[str, BundleEntry] = {}
    for key, value in _iter_table(data):
        if key == b"":
            num_shards, big_endian = _parse_header(value)
            if big_endian:
                raise BundleFeatureError("big-endian bundles are not supported")
            continue
        name = key.decode("utf-8")
        entries[name] = _parse_entry(name, value)
    return num_shards, entries


def shard_path(prefix: str | Path, shard_id: int, num_shards: int) -> Path:
    return Path(f"{prefix}.data-{shard_id:05d}-of-{num_shards:05d}")


def read_tensor(prefix: str | Path, entry: BundleEntry, num_shards: int) -> np.ndarray:
    """The tensor's bytes as a numpy array (bfloat16 comes back as its raw uint16 bits)."""
    if entry.sliced:
        raise BundleFormatError(f"{entry.name}: partitioned (sliced) variables are not supported")
    if entry.dtype not in TF_DTYPES:
        raise BundleFormatError(f"{entry.name}: unsupported TensorFlow dtype enum {entry.dtype}")
    with open(shard_path(prefix, entry.shard_id, num_shards), "rb") as shard:
        shard.seek(entry.offset)
        raw = shard.read(entry.size)
    if len(raw) != entry.size:
        raise BundleFormatError(f"{entry.name}: data shard is truncated")
    if entry.crc32c is not None:
        import crc32c

        if _mask_crc(crc32c.crc32c(raw)) != entry.crc32c:
            raise BundleFormatError(f"{entry.name}: CRC32C mismatch, the data shard is corrupt")
    return np.frombuffer(raw, dtype=TF_DTYPES[entry.dtype]).reshape(entry.shape).copy()


def _mask_crc(crc: int) -> int:
    """LevelDB/TF store CRCs 'masked' so that CRCs of CRCs stay well distributed."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _iter_table(data: bytes):
    if len(data) < _FOOTER_LENGTH:
        raise BundleFormatError("index file is shorter than a table footer")
    footer = data[-_FOOTER_LENGTH:]
    if struct.unpack_from("<Q", footer, 40)[0] != _TABLE_MAGIC:
        raise BundleFormatError("index file does not end with the table magic number")
    _, position = _read_block_handle(footer, 0)  # metaindex block: unused by bundles
    (index_offset, index_size), _ = _read_block_handle(footer, position)
    for _, handle in _iter_block(_read_block(data, index_offset, index_size)):
        (offset, size), _ = _read_block_handle(handle, 0)
        yield from _iter_block(_read_block(data, offset, size))


def _read_block_handle(buffer: bytes, position: int) -> tuple[tuple[int, int], int]:
    offset, position = read_varint(buffer, position)
    size, position = read_varint(buffer, position)
    return (offset, size), position


def _read_block(data: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if end + _BLOCK_TRAILER_LENGTH > len(data):
        raise BundleFormatError("a table block runs past the end of the index file")
    if size < 4:  # every block ends with its restart count
        raise BundleFormatError("a table block is too short to be one")
    if data[end] not in (0, 1):  # 0: none, 1: snappy; LevelDB tables know no other
        raise BundleFormatError(f"a table block has unknown compression type {data[end]}")
    if data[end] != 0:  # TF writes bundle indexes uncompressed; snappy would need a codec
        # Only a block whose checksum holds is a real (compressed) block worth handing to
        # TensorFlow; random bytes ending in a table magic number are not.
        import crc32c

        (stored,) = struct.unpack_from("<I", data, end + 1)
        if _mask_crc(crc32c.crc32c(data[offset:end + 1])) != stored:
            raise BundleFormatError("a table block's checksum does not match: the index file "
                                    "is corrupt or not a TensorFlow checkpoint index")
        raise BundleFeatureError(f"compressed table block (type {data[end]}) is not supported")
    return data[offset:end]


def _iter_block(block: bytes):
    """Entries of one block: keys share a prefix with the previous key to save space."""
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    entries_end = len(block) - 4 - 4 * num_restarts
    position = 0
    key = b""
    while position < entries_end:
        shared, position = read_varint(block, position)
        unshared, position = read_varint(block, position)
        value_length, position = read_varint(block, position)
        key = key[:shared] + block[position : position + unshared]
        position += unshared
        yield key, block[position : position + value_length]
        position += value_length


def _parse_header(value: bytes) -> tuple[int, bool]:
    num_shards, big_endian = 1, False
    for field, _, content in iter_fields(value):
        if field == 1:
            num_shards = int(content)  # type: ignore[arg-type]
        elif field == 2:
            big_endian = content == 1
    return num_shards, big_endian


def _parse_entry(name: str, value: bytes) -> BundleEntry:
    dtype = 0
    shape: tuple[int, ...] = ()
    shard_id = offset = size = 0
    crc: int | None = None
    sliced = False
    try:
        for field, wire_type, content in iter_fields(value):
            if field == 1:
                dtype = int(content)  # type: ignore[arg-type]
            elif field == 2 and wire_type == LENGTH_DELIMITED:
                shape = _parse_shape(content)  # type: ignore[arg-type]
            elif field == 3:
                shard_id = int(content)  # type: ignore[arg-type]
            elif field == 4:
                offset = int(content)  # type: ignore[arg-type]
            elif field == 5:
                size = int(content)  # type: ignore[arg-type]
            elif field == 6:
                crc = int(content)  # type: ignore[arg-type]
            elif field == 7:
                sliced = True
    except WireFormatError as error:
        raise BundleFormatError(f"{name}: malformed bundle entry ({error})") from None
    return BundleEntry(name, dtype, shape, shard_id, offset, size, crc, sliced)


def _parse_shape(payload: bytes) -> tuple[int, ...]:
    dims = []
    for field, _, content in iter_fields(payload):
        if field == 2:  # TensorShapeProto.Dim {int64 size = 1; string name = 2}
            size = 0
            for dim_field, _, dim_value in iter_fields(content):  # type: ignore[arg-type]
                if dim_field == 1:
                    size = as_signed64(int(dim_value))  # type: ignore[arg-type]
            dims.append(size)
        elif field == 3 and content:
            raise BundleFormatError("tensor of unknown rank")
    return tuple(dims)
