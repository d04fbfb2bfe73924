"""Just enough of the protobuf wire format to read two fixed schemas without generated code.

Both foreign checkpoint formats store their metadata as protobuf messages (TensorFlow's
``BundleEntryProto`` in the bundle index, MindSpore's ``Checkpoint``). Their schemas are small
and frozen, so walking the fields by number is simpler than carrying .proto files around.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from bertkit.tfrecord import varint as tfrecord_varint

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


class WireFormatError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(buffer: bytes | memoryview, position: int) -> tuple[int, int]:
    """Decode one base-128 varint at ``position``; returns (value, next position).

    The TFRecord codec's decoder, with its errors re-raised as this module's error type so the
    checkpoint readers catch one kind of failure.
    """
    try:
        return tfrecord_varint.read_varint(buffer, position)
    except ValueError as error:
        raise WireFormatError(str(error)) from None


def iter_fields(buffer: bytes | memoryview) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value): an int for varint/fixed fields, the raw bytes
    for length-delimited ones. Groups (wire types 3/4) never occur in our schemas."""
    view = memoryview(buffer)
    position = 0
    end = len(view)
    while position < end:
        key, position = read_varint(view, position)
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise WireFormatError("field number 0")
        if wire_type == VARINT:
            value, position = read_varint(view, position)
            yield field, wire_type, value
        elif wire_type == LENGTH_DELIMITED:
            length, position = read_varint(view, position)
            if position + length > end:
                raise WireFormatError("length-delimited field runs past the end")
            yield field, wire_type, bytes(view[position : position + length])
            position += length
        elif wire_type == FIXED32:
            if position + 4 > end:
                raise WireFormatError("truncated fixed32")
            yield field, wire_type, struct.unpack_from("<I", view, position)[0]
            position += 4
        elif wire_type == FIXED64:
            if position + 8 > end:
                raise WireFormatError("truncated fixed64")
            yield field, wire_type, struct.unpack_from("<Q", view, position)[0]
            position += 8
        else:
            raise WireFormatError(f"unsupported wire type {wire_type}")


def packed_varints(payload: bytes) -> list[int]:
    values = []
    position = 0
    while position < len(payload):
        value, position = read_varint(payload, position)
        values.append(value)
    return values


def as_signed64(value: int) -> int:
    """int64 fields are written as two's-complement varints."""
    return value - (1 << 64) if value >= 1 << 63 else value
