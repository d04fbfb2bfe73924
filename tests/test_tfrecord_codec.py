"""The protobuf and varint codec on its own (no TensorFlow): round trips, determinism,
batch encoding identical to per-record encoding, and refusals of ambiguous input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tfrecord_strategies import FLOAT32, INT64, NAMES, batch_columns

from bertkit.tfrecord import (
    BytesList,
    FloatList,
    Int64List,
    decode_example,
    encode_example,
)
from bertkit.tfrecord.batch import encode_batch
from bertkit.tfrecord.framing import frame_record, masked_crc
from bertkit.tfrecord.varint import decode_varints, encode_varints, read_varint, varint_bytes

int64_lists = st.lists(INT64, max_size=40)
float_lists = st.lists(FLOAT32, max_size=20)
bytes_lists = st.lists(st.binary(max_size=30), max_size=6)
feature_values = st.one_of(
    int64_lists.map(Int64List),
    int64_lists,  # bare int sequences are Int64List too
    float_lists.map(FloatList),
    bytes_lists.map(BytesList),
)


def reference_varint(value: int) -> bytes:
    """Protobuf's varint of an int64, written the plain way (two's complement for negatives)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def expected_values(value: object) -> object:
    """What decoding should give back for a value handed to the encoder."""
    if isinstance(value, FloatList):
        return np.asarray(value.values, dtype=np.float32)
    if isinstance(value, BytesList):
        return list(value.values)
    raw = value.values if isinstance(value, Int64List) else value
    return np.asarray(raw, dtype=np.int64).reshape(-1)


def assert_same_value(decoded: object, expected: object) -> None:
    if isinstance(expected, list):
        assert decoded == expected
        return
    assert isinstance(decoded, np.ndarray)
    assert decoded.dtype == expected.dtype  # type: ignore[union-attr]
    # Compare bit patterns so NaN payloads and -0.0 count as equal only when identical.
    assert decoded.tobytes() == expected.tobytes()  # type: ignore[union-attr]


# --- varints ----------------------------------------------------------------------------


@settings(deadline=None)
@given(st.lists(INT64, max_size=200))
def test_varints_match_protobuf_encoding_and_round_trip(values: list[int]) -> None:
    encoded = encode_varints(np.array(values, dtype=np.int64))
    assert encoded == b"".join(reference_varint(value) for value in values)
    assert decode_varints(encoded).tolist() == values
    assert decode_varints(np.frombuffer(encoded, dtype=np.uint8)).tolist() == values


@settings(deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**21 - 1), min_size=5, max_size=300))
def test_token_id_sized_varints_round_trip(values: list[int]) -> None:
    # Values of up to three bytes take a dedicated decoding path.
    encoded = encode_varints(np.array(values, dtype=np.int64))
    assert encoded == b"".join(reference_varint(value) for value in values)
    assert decode_varints(encoded).tolist() == values


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_single_varint_helpers_agree(value: int) -> None:
    encoded = varint_bytes(value)
    assert encoded == reference_varint(value)
    assert read_varint(encoded + b"\x01", 0) == (value, len(encoded))


def test_varint_edges() -> None:
    edges = [0, 1, 127, 128, 16383, 16384, 2**31 - 1, 2**32, 2**63 - 1, -1, -(2**63)]
    encoded = encode_varints(np.array(edges, dtype=np.int64))
    assert decode_varints(encoded).tolist() == edges
    assert len(reference_varint(-1)) == 10  # negatives always take ten bytes
    with pytest.raises(ValueError, match="truncated"):
        decode_varints(encoded[:-1])
    with pytest.raises(ValueError, match="longer than 10"):
        decode_varints(b"\x80" * 10 + b"\x01")


# --- Example messages -------------------------------------------------------------------


@settings(deadline=None, max_examples=150)
@given(st.dictionaries(NAMES, feature_values, max_size=6))
def test_examples_round_trip(features: dict[str, object]) -> None:
    decoded = decode_example(encode_example(features))  # type: ignore[arg-type]
    assert sorted(decoded) == sorted(features)
    for name, value in features.items():
        assert_same_value(decoded[name], expected_values(value))


@settings(deadline=None, max_examples=60)
@given(st.dictionaries(NAMES, feature_values, min_size=2, max_size=6), st.randoms())
def test_serialization_ignores_insertion_order(features: dict[str, object], rng) -> None:
    names = list(features)
    rng.shuffle(names)
    shuffled = {name: features[name] for name in names}
    assert encode_example(shuffled) == encode_example(features)  # type: ignore[arg-type]


def test_known_bytes_of_a_tiny_example() -> None:
    # Hand-assembled from the proto definitions: features{feature{key:"a" value{int64_list{1,300}}}}
    expected = bytes.fromhex("0a0e" "0a0c" "0a0161" "1207" "1a05" "0a03" "01ac02")
    assert encode_example({"a": [1, 300]}) == expected
    # An empty list still selects its oneof case, like protobuf does.
    assert encode_example({"e": FloatList([])}) == bytes.fromhex("0a09" "0a07" "0a0165" "1202" "1200")


def test_bytes_lists_keep_text_and_refuse_integers() -> None:
    decoded = decode_example(encode_example({"q": BytesList([b"\x00\xff", "名字"])}))  # type: ignore[list-item]
    assert decoded["q"] == [b"\x00\xff", "名字".encode()]
    with pytest.raises(TypeError, match="bytes or str"):
        encode_example({"q": BytesList([5])})  # type: ignore[list-item]  # bytes(5) would be 5 NULs


def test_ambiguous_int_input_is_refused() -> None:
    with pytest.raises(TypeError, match="FloatList"):
        encode_example({"x": np.array([0.5, 1.5])})
    with pytest.raises(TypeError):
        encode_example({"x": [0.5]})
    with pytest.raises(TypeError, match="BytesList"):
        encode_example({"x": b"raw"})  # type: ignore[dict-item]
    with pytest.raises(OverflowError):
        encode_example({"x": [2**63]})
    with pytest.raises(OverflowError):
        encode_example({"x": np.array([2**64 - 1], dtype=np.uint64)})


def test_decoder_accepts_unpacked_and_split_lists() -> None:
    # Other serializers may write repeated int64 unpacked (one tag per value) or in pieces.
    unpacked_list = bytes.fromhex("08" "05" "08" "ffffffffffffffffff01")  # 5, -1 unpacked
    feature = b"\x1a" + bytes([len(unpacked_list)]) + unpacked_list
    entry = b"\x0a\x01x\x12" + bytes([len(feature)]) + feature
    features = b"\x0a" + bytes([len(entry)]) + entry
    example = b"\x0a" + bytes([len(features)]) + features
    assert decode_example(example)["x"].tolist() == [5, -1]


def test_malformed_messages_raise_value_error() -> None:
    good = encode_example({"input_ids": list(range(100, 200))})
    for cut in (1, 5, len(good) // 2, len(good) - 1):
        with pytest.raises(ValueError):
            decode_example(good[:cut])


# --- framing ----------------------------------------------------------------------------


def test_masked_crc_matches_known_values() -> None:
    # CRC32C("123456789") = 0xE3069283 (the standard check value), then TensorFlow's mask.
    crc = 0xE3069283
    assert masked_crc(b"123456789") == ((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)
    framed = frame_record(b"abc")
    assert framed[:8] == (3).to_bytes(8, "little") and framed[12:15] == b"abc"
    assert len(framed) == 3 + 16


# --- batch encoding ---------------------------------------------------------------------


def row(column: object, index: int) -> object:
    if isinstance(column, FloatList):
        return FloatList(np.asarray(column.values)[index])
    return np.atleast_1d(np.asarray(column)[index])


@settings(max_examples=120, deadline=None)
@given(batch_columns())
def test_batch_encoding_is_byte_identical_to_per_record(
    drawn: tuple[int, dict[str, object]],
) -> None:
    count, columns = drawn
    expected = [frame_record(encode_example({n: row(c, i) for n, c in columns.items()}))
                for i in range(count)]  # type: ignore[misc]
    batch = encode_batch(columns)  # type: ignore[arg-type]
    assert bytes(batch.buffer) == b"".join(expected)
    assert batch.lengths.tolist() == [len(record) for record in expected]
    assert batch.offsets.tolist() == np.cumsum([0] + [len(r) for r in expected])[:-1].tolist()


def test_batch_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(ValueError, match="number of records"):
        encode_batch({"a": np.zeros((3, 2), np.int64), "b": np.zeros((4, 2), np.int64)})
    with pytest.raises(TypeError, match="FloatList"):
        encode_batch({"a": np.zeros((3, 2), np.float32)})
    with pytest.raises(TypeError, match="write\\(\\)"):
        encode_batch({"a": BytesList([b"x"])})
    with pytest.raises(ValueError, match="shape"):
        encode_batch({"a": np.zeros((3, 2, 2), np.int64)})
    assert len(encode_batch({}).buffer) == 0


def test_float_round_trip_keeps_special_values() -> None:
    values = np.array([0.0, -0.0, math.inf, -math.inf, np.nan, 1e-45, 3.4e38], dtype=np.float32)
    decoded = decode_example(encode_example({"w": FloatList(values)}))["w"]
    assert decoded.tobytes() == values.tobytes()


def test_keys_are_sorted_bytewise_like_cpp_protobuf() -> None:
    """Map entries in UTF-8 byte order, prefixes first (C++ protobuf's deterministic order)."""
    names = ["b", "ab", "abc", "", "B", "é", "z", "名"]
    encoded = encode_example({name: [1] for name in names})
    order, position = [], 2  # skip the Example's own tag and one-byte length
    while position < len(encoded):
        entry_length = encoded[position + 1]
        entry = encoded[position + 2 : position + 2 + entry_length]
        order.append(entry[2 : 2 + entry[1]].decode())
        position += 2 + entry_length
    assert order == sorted(names, key=lambda name: name.encode("utf-8"))
    assert order[:4] == ["", "B", "ab", "abc"]
