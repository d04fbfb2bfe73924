"""The `tf.train.Example` protobuf, encoded and decoded by hand.

Wire layout (field numbers from TensorFlow's example.proto / feature.proto):
Example.features = 1 -> Features.feature = 1 (map<string, Feature>, each entry
key = 1, value = 2) -> Feature oneof bytes_list = 1 / float_list = 2 /
int64_list = 3 -> each list's repeated `value = 1` (int64 and float packed).

Encoding matches protobuf's deterministic serializer byte for byte: map entries
in sorted key order (bytewise on UTF-8, as C++ protobuf sorts), both key and value
always written, packed numeric lists, an empty list still setting its oneof case
(`1a 00`). The same input always gives the same bytes, and TensorFlow's
`SerializeToString(deterministic=True)` gives those bytes too, except that Python
protobuf's upb backend orders a key after any longer key it is a prefix of ("ab"
after "abc"); BERT feature names never form such a pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bertkit.tfrecord.varint import (
    as_unsigned,
    decode_varints,
    encode_unsigned,
    read_varint,
    varint_bytes,
)

_WIRE_VARINT, _WIRE_FIXED64, _WIRE_BYTES, _WIRE_FIXED32 = 0, 1, 2, 5
BYTES_LIST_FIELD, FLOAT_LIST_FIELD, INT64_LIST_FIELD = 1, 2, 3


@dataclass(frozen=True)
class Int64List:
    values: Sequence[int] | np.ndarray


@dataclass(frozen=True)
class FloatList:
    values: Sequence[float] | np.ndarray


@dataclass(frozen=True)
class BytesList:
    values: Sequence[bytes]


FeatureValue = Int64List | FloatList | BytesList | Sequence[int] | np.ndarray
DecodedValue = np.ndarray | list[bytes]


# One-byte tags of the length-delimited fields used here (field numbers 1, 2, 3).
_TAG = {field: bytes(((field << 3) | _WIRE_BYTES,)) for field in (1, 2, 3)}
_TAG1 = _TAG[1]


def length_delimited(field: int, payload: bytes) -> bytes:
    """Tag, length and bytes of one wire-type-2 field."""
    tag = _TAG.get(field) or varint_bytes((field << 3) | _WIRE_BYTES)
    return tag + varint_bytes(len(payload)) + payload


def _packed_list(list_field: int, packed: bytes) -> bytes:
    # An empty packed field is omitted, exactly as protobuf does.
    if not packed:
        return _TAG[list_field] + b"\x00"
    inner = _TAG1 + varint_bytes(len(packed)) + packed
    return _TAG[list_field] + varint_bytes(len(inner)) + inner


_key_prefixes: dict[str, bytes] = {}


def _key_prefix(name: str) -> bytes:
    """`0a len name 12`: a map entry's key and the value's tag; cached, names repeat."""
    prefix = _key_prefixes.get(name)
    if prefix is None:
        if not isinstance(name, str):
            raise TypeError(f"feature names must be str, got {type(name).__name__}")
        prefix = length_delimited(1, name.encode("utf-8")) + _TAG[2]
        if len(_key_prefixes) < 4096:
            _key_prefixes[name] = prefix
    return prefix


def _as_bytes(item: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(item, str):  # TensorFlow's BytesList also takes text, stored as UTF-8
        return item.encode("utf-8")
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    # `bytes(5)` would silently mean five zero bytes, so refuse anything else.
    raise TypeError(f"BytesList values must be bytes or str, got {type(item).__name__}")


_SHORT_LIST = 8  # below this, numpy's per-call overhead costs more than a Python loop
_UINT64_MASK = (1 << 64) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _packed_short_ints(values: Sequence[int]) -> bytes:
    """Packed varints of a few Python ints (scalar labels, positions, ids)."""
    out = []
    for value in values:
        if not isinstance(value, (int, np.integer)):
            raise TypeError(f"int64 feature values must be integers, got {type(value).__name__}")
        value = int(value)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError(f"int64 feature value out of range: {value}")
        out.append(varint_bytes(value & _UINT64_MASK))
    return b"".join(out)


def encode_feature_with_spec(value: FeatureValue) -> tuple[bytes, str, int]:
    """A serialized `Feature` message, its MindSpore column type and its value count."""
    values = value
    if isinstance(value, Int64List):
        values = value.values
    elif isinstance(value, FloatList):
        floats = np.ascontiguousarray(value.values, dtype="<f4").reshape(-1)
        return _packed_list(FLOAT_LIST_FIELD, floats.tobytes()), "float32", floats.size
    elif isinstance(value, BytesList):
        items = [length_delimited(1, _as_bytes(item)) for item in value.values]
        return length_delimited(BYTES_LIST_FIELD, b"".join(items)), "string", len(items)
    if isinstance(values, np.ndarray):
        if values.size < _SHORT_LIST and values.dtype.kind in "iu":
            values = values.reshape(-1).tolist()
    elif isinstance(values, (bytes, str)):
        raise TypeError("text or bytes feature values need BytesList")
    if isinstance(values, (list, tuple)) and len(values) < _SHORT_LIST:
        packed = _packed_short_ints(values)
        return _packed_list(INT64_LIST_FIELD, packed), "int64", len(values)
    try:
        unsigned = as_unsigned(values).reshape(-1)
    except TypeError as error:
        raise TypeError(f"{error}; float values need FloatList, bytes need BytesList") from None
    packed = encode_unsigned(unsigned).tobytes()
    return _packed_list(INT64_LIST_FIELD, packed), "int64", unsigned.size


def encode_feature(value: FeatureValue) -> bytes:
    """A serialized `Feature` message."""
    return encode_feature_with_spec(value)[0]


def encode_example_with_specs(
    features: Mapping[str, FeatureValue],
) -> tuple[bytes, dict[str, tuple[str, int]]]:
    """`encode_example`, plus each feature's (MindSpore type, value count) for the schema."""
    entries = []
    specs = {}
    for name in sorted(features):
        feature, kind, length = encode_feature_with_spec(features[name])
        specs[name] = (kind, length)
        entry = _key_prefix(name) + varint_bytes(len(feature)) + feature
        entries.append(_TAG1 + varint_bytes(len(entry)) + entry)
    body = b"".join(entries)
    return _TAG1 + varint_bytes(len(body)) + body, specs


def encode_example(features: Mapping[str, FeatureValue]) -> bytes:
    """Serialize one `tf.train.Example`; keys sorted for deterministic bytes."""
    return encode_example_with_specs(features)[0]


# --- decoding -------------------------------------------------------------------------------


def _next_field(data: memoryview, pos: int, end: int) -> tuple[int, int, int, int]:
    """(field number, wire type, value start or varint value, next position) at ``pos``.

    For length-delimited and fixed fields the value is the start offset of the
    payload and the payload ends at the returned next position.
    """
    byte = data[pos]
    if byte < 0x80:  # one-byte tags are the rule in Example messages
        key, pos = byte, pos + 1
    else:
        key, pos = read_varint(data, pos)
        if pos > end:
            raise ValueError("field tag runs past the end of the message")
    wire = key & 7
    if wire == _WIRE_BYTES:
        if pos < end and data[pos] < 0x80:
            length, pos = data[pos], pos + 1
        else:
            length, pos = read_varint(data, pos)
        if pos + length > end:
            raise ValueError("length-delimited field runs past the end of the message")
        return key >> 3, wire, pos, pos + length
    if wire == _WIRE_VARINT:
        number, pos = read_varint(data, pos)
        if pos > end:
            raise ValueError("varint field runs past the end of the message")
        return key >> 3, wire, number, pos
    if wire == _WIRE_FIXED32 or wire == _WIRE_FIXED64:
        width = 4 if wire == _WIRE_FIXED32 else 8
        if pos + width > end:
            raise ValueError("truncated fixed-width field")
        return key >> 3, wire, pos, pos + width
    raise ValueError(f"unsupported protobuf wire type {wire}")


def _decode_int64_list(data: memoryview, pos: int, end: int) -> np.ndarray:
    parts = []
    while pos < end:
        field, wire, value, pos = _next_field(data, pos, end)
        if field != 1:
            continue
        if wire == _WIRE_BYTES:  # packed: what every serializer writes
            parts.append(decode_varints(data[value:pos]))
        elif wire == _WIRE_VARINT:  # unpacked is still valid protobuf
            parts.append(np.array([value & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64).view(np.int64))
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _decode_float_list(data: memoryview, pos: int, end: int) -> np.ndarray:
    parts = []
    while pos < end:
        field, wire, value, pos = _next_field(data, pos, end)
        if field == 1 and wire in (_WIRE_BYTES, _WIRE_FIXED32):
            if (pos - value) % 4:
                raise ValueError("packed float list length is not a multiple of 4")
            parts.append(np.frombuffer(data[value:pos], dtype="<f4"))
    # Copy (and fix the byte order) so the result never pins the file's memory map.
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, dtype=np.float32)


def _decode_bytes_list(data: memoryview, pos: int, end: int) -> list[bytes]:
    items = []
    while pos < end:
        field, wire, value, pos = _next_field(data, pos, end)
        if field == 1 and wire == _WIRE_BYTES:
            items.append(bytes(data[value:pos]))
    return items


def decode_feature(data: memoryview, pos: int = 0, end: int | None = None) -> DecodedValue:
    """One serialized `Feature` -> int64 array, float32 array or list of bytes."""
    end = len(data) if end is None else end
    kind: DecodedValue | None = None
    while pos < end:
        field, wire, value, pos = _next_field(data, pos, end)
        if wire != _WIRE_BYTES:
            continue
        if field == INT64_LIST_FIELD:
            kind = _decode_int64_list(data, value, pos)
        elif field == FLOAT_LIST_FIELD:
            kind = _decode_float_list(data, value, pos)
        elif field == BYTES_LIST_FIELD:
            kind = _decode_bytes_list(data, value, pos)
    if kind is None:  # a Feature with no list set: TensorFlow treats it as empty
        return np.zeros(0, dtype=np.int64)
    return kind


def _decode_map_entry(data: memoryview, pos: int, end: int) -> tuple[str, DecodedValue]:
    name = ""
    value: DecodedValue | None = None
    while pos < end:
        field, wire, start, pos = _next_field(data, pos, end)
        if wire != _WIRE_BYTES:
            continue
        if field == 1:
            name = bytes(data[start:pos]).decode("utf-8")
        elif field == 2:
            value = decode_feature(data, start, pos)
    if value is None:  # an entry without a value: an empty Feature
        value = np.zeros(0, dtype=np.int64)
    return name, value


def decode_example(payload: bytes | memoryview) -> dict[str, DecodedValue]:
    """Parse a serialized `tf.train.Example` into name -> int64/float32 array or bytes list.

    Raises ValueError on malformed protobuf.
    """
    data = payload if isinstance(payload, memoryview) else memoryview(payload)
    features: dict[str, DecodedValue] = {}
    pos, end = 0, len(data)
    while pos < end:
        field, wire, start, pos = _next_field(data, pos, end)
        if field != 1 or wire != _WIRE_BYTES:
            continue
        inner = start
        while inner < pos:  # the entries of one Features message (repeats merge)
            entry_field, entry_wire, entry_start, inner = _next_field(data, inner, pos)
            if entry_field == 1 and entry_wire == _WIRE_BYTES:
                name, value = _decode_map_entry(data, entry_start, inner)
                features[name] = value
    return features
