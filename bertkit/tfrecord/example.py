"""The `tf.train.Example` protobuf, encoded and decoded by hand.

Wire layout (field numbers from TensorFlow's example.proto / feature.proto):
Example.features = 1 -> Features.feature = 1 (map<string, Feature>, each entry
key = 1, value = 2) -> Feature oneof bytes_list = 1 / float_list = 2 /
int64_list = 3 -> each list's repeated `value = 1` (int64 and float packed).

Features are emitted in sorted key order so equal inputs give equal bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from bertkit.tfrecord.varint import decode_varints, encode_varints, read_varint, varint_bytes

_WIRE_VARINT, _WIRE_FIXED64, _WIRE_BYTES, _WIRE_FIXED32 = 0, 1, 2, 5
_BYTES_LIST, _FLOAT_LIST, _INT64_LIST = 1, 2, 3


@dataclass(frozen=True)
class Int64List:
    values: Sequence[int] | np.ndarray


@dataclass(frozen=True)
class FloatList:
    values: Sequence[float] | np.ndarray


@dataclass(frozen=True)
class BytesList:
    values: Sequence[bytes]


FeatureValue = Union[Int64List, FloatList, BytesList, Sequence[int], np.ndarray]
DecodedValue = Union[np.ndarray, list[bytes]]


def _length_delimited(field: int, payload: bytes) -> bytes:
    return varint_bytes((field << 3) | _WIRE_BYTES) + varint_bytes(len(payload)) + payload


def encode_feature(value: FeatureValue) -> bytes:
    """A serialized `Feature` message."""
    if isinstance(value, FloatList):
        floats = np.ascontiguousarray(value.values, dtype="<f4").tobytes()
        inner = _length_delimited(1, floats) if floats else b""
        return _length_delimited(_FLOAT_LIST, inner)
    if isinstance(value, BytesList):
        inner = b"".join(_length_delimited(1, bytes(item)) for item in value.values)
        return _length_delimited(_BYTES_LIST, inner)
    values = value.values if isinstance(value, Int64List) else value
    array = np.asarray(values)
    if array.size and array.dtype.kind == "f":
        raise TypeError("float values need FloatList; bare sequences are taken as int64")
    packed = encode_varints(array.astype(np.int64, copy=False).reshape(-1))
    inner = _length_delimited(1, packed) if packed else b""
    return _length_delimited(_INT64_LIST, inner)


def encode_example(features: Mapping[str, FeatureValue]) -> bytes:
    """Serialize one `tf.train.Example`; keys sorted for deterministic bytes."""
    entries = []
    for name in sorted(features):
        entry = _length_delimited(1, name.encode("utf-8")) + _length_delimited(
            2, encode_feature(features[name])
        )
        entries.append(_length_delimited(1, entry))
    return _length_delimited(1, b"".join(entries))


def _fields(data: memoryview) -> list[tuple[int, int, memoryview | int]]:
    """Top-level (field number, wire type, payload) of one message."""
    out: list[tuple[int, int, memoryview | int]] = []
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == _WIRE_VARINT:
            number, pos = read_varint(data, pos)
            out.append((field, wire, number))
        elif wire == _WIRE_BYTES:
            length, pos = read_varint(data, pos)
            if pos + length > end:
                raise ValueError("length-delimited field runs past the end of the message")
            out.append((field, wire, data[pos : pos + length]))
            pos += length
        elif wire == _WIRE_FIXED32:
            if pos + 4 > end:
                raise ValueError("truncated fixed32")
            out.append((field, wire, data[pos : pos + 4]))
            pos += 4
        elif wire == _WIRE_FIXED64:
            if pos + 8 > end:
                raise ValueError("truncated fixed64")
            out.append((field, wire, data[pos : pos + 8]))
            pos += 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _decode_int64_list(data: memoryview) -> np.ndarray:
    parts = []
    for field, wire, payload in _fields(data):
        if field != 1:
            continue
        if wire == _WIRE_BYTES:  # packed (what TensorFlow writes)
            parts.append(decode_varints(payload))  # type: ignore[arg-type]
        elif wire == _WIRE_VARINT:  # unpacked, still valid protobuf
            parts.append(np.array([payload], dtype=np.uint64).view(np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _decode_float_list(data: memoryview) -> np.ndarray:
    parts = []
    for field, wire, payload in _fields(data):
        if field == 1 and wire in (_WIRE_BYTES, _WIRE_FIXED32):
            if len(payload) % 4:  # type: ignore[arg-type]
                raise ValueError("packed float list length is not a multiple of 4")
            parts.append(np.frombuffer(payload, dtype="<f4"))  # type: ignore[arg-type]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, dtype=np.float32)


def decode_feature(data: memoryview) -> DecodedValue:
    kind: DecodedValue | None = None
    for field, _wire, payload in _fields(data):
        if field == _INT64_LIST:
            kind = _decode_int64_list(payload)  # type: ignore[arg-type]
        elif field == _FLOAT_LIST:
            kind = _decode_float_list(payload)  # type: ignore[arg-type]
        elif field == _BYTES_LIST:
            kind = [bytes(p) for f, _w, p in _fields(payload) if f == 1]  # type: ignore[arg-type, misc]
    if kind is None:  # a Feature with no list set: TensorFlow treats it as empty
        return np.zeros(0, dtype=np.int64)
    return kind


def decode_example(payload: bytes | memoryview) -> dict[str, DecodedValue]:
    """Parse a serialized `tf.train.Example` into name -> int64/float32 array or bytes list."""
    features: dict[str, DecodedValue] = {}
    for field, _wire, features_message in _fields(memoryview(payload)):
        if field != 1:
            continue
        for entry_field, _w, entry in _fields(features_message):  # type: ignore[arg-type]
            if entry_field != 1:
                continue
            name = ""
            value: DecodedValue = np.zeros(0, dtype=np.int64)
            for part_field, _pw, part in _fields(entry):  # type: ignore[arg-type]
                if part_field == 1:
                    name = bytes(part).decode("utf-8")  # type: ignore[arg-type]
                elif part_field == 2:
                    value = decode_feature(part)  # type: ignore[arg-type]
            features[name] = value
    return features
