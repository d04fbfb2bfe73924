"""Read MindSpore ``.ckpt`` files without MindSpore.

A ``.ckpt`` is a stream of serialized ``Checkpoint`` messages (``checkpoint.proto``), one per
parameter or per 512 MiB slice of one; since repeated fields merge when protobuf messages are
concatenated, the stream parses as one ``Checkpoint`` whose ``value`` list is in save order:

    Checkpoint { repeated Value value = 1; }
    Value      { string tag = 1; TensorProto tensor = 2; MapTensorProto maptensor = 3; }
    TensorProto{ repeated int64 dims = 1; string tensor_type = 2; bytes tensor_content = 3; }

MindSpore 2.x may append a 17-byte trailer, ``b"crc_num"`` + the CRC32 of everything before
it as a 10-byte big-endian integer; we strip and verify it. Encrypted files (``enc_key``) are
ciphertext with no readable structure: we refuse them with a message saying so.
"""

from __future__ import annotations

import binascii
import math
from pathlib import Path

import numpy as np
import torch

from bertkit.errors import InputError
from bertkit.train.checkpoints.protowire import (
    LENGTH_DELIMITED,
    VARINT,
    WireFormatError,
    as_signed64,
    iter_fields,
    packed_varints,
)

CRC_MARKER = b"crc_num"
CRC_TRAILER_LENGTH = len(CRC_MARKER) + 10

# tensor_type strings of serialization.py; BFloat16 is widened through torch.
MINDSPORE_DTYPES: dict[str, np.dtype] = {
    "Int8": np.dtype("i1"),
    "UInt8": np.dtype("u1"),
    "Int16": np.dtype("<i2"),
    "UInt16": np.dtype("<u2"),
    "Int32": np.dtype("<i4"),
    "UInt32": np.dtype("<u4"),
    "Int64": np.dtype("<i8"),
    "UInt64": np.dtype("<u8"),
    "Float16": np.dtype("<f2"),
    "Float32": np.dtype("<f4"),
    "Float64": np.dtype("<f8"),
    "Bool": np.dtype("?"),
    "BFloat16": np.dtype("<u2"),
}

_ENCRYPTED_HINT = (
    "it may be encrypted (saved with enc_key): bertkit cannot read encrypted checkpoints; "
    "decrypt it with MindSpore first (load_checkpoint(path, dec_key=...), then save_checkpoint "
    "without enc_key)"
)


def read_mindspore_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor parameter by name, in save order. ``append_dict`` strings are skipped."""
    path = Path(path)
    data = strip_crc_trailer(path, path.read_bytes())
    if not data or data[0] != 0x0A:  # field 1, length-delimited: every Value starts so
        raise InputError(path, f"not a MindSpore checkpoint; {_ENCRYPTED_HINT}")
    chunks: dict[str, list[bytes]] = {}
    meta: dict[str, tuple[str, tuple[int, ...]]] = {}
    try:
        for field, wire_type, payload in iter_fields(data):
            if field != 1 or wire_type != LENGTH_DELIMITED:
                raise WireFormatError(f"unexpected top-level field {field}")
            tag, tensor_type, dims, content = _parse_value(payload)  # type: ignore[arg-type]
            if tensor_type == "str" or tensor_type is None:
                continue  # append_dict strings and map tensors: not model weights
            if tensor_type not in MINDSPORE_DTYPES:
                raise WireFormatError(f"unknown tensor_type {tensor_type!r} for {tag!r}")
            # Parameters over 512 MiB are written as consecutive slices with the same tag.
            chunks.setdefault(tag, []).append(content)
            meta[tag] = (tensor_type, dims)
    except (WireFormatError, UnicodeDecodeError) as error:
        raise InputError(path, f"cannot parse as a MindSpore checkpoint ({error}); {_ENCRYPTED_HINT}") from None
    if not chunks:
        raise InputError(path, f"the MindSpore checkpoint holds no tensors; {_ENCRYPTED_HINT}")
    return {tag: _to_tensor(path, tag, *meta[tag], b"".join(parts)) for tag, parts in chunks.items()}


def strip_crc_trailer(path: Path, data: bytes) -> bytes:
    if len(data) < CRC_TRAILER_LENGTH or data[-CRC_TRAILER_LENGTH:-10] != CRC_MARKER:
        return data
    body = data[:-CRC_TRAILER_LENGTH]
    stored = int.from_bytes(data[-10:], "big")
    if binascii.crc32(body) != stored:
        raise InputError(path, "CRC check failed: the MindSpore checkpoint is corrupt or truncated")
    return body


def _parse_value(payload: bytes) -> tuple[str, str | None, tuple[int, ...], bytes]:
    tag = ""
    tensor_type: str | None = None
    dims: list[int] = []
    content = b""
    for field, wire_type, value in iter_fields(payload):
        if field == 1 and wire_type == LENGTH_DELIMITED:
            tag = value.decode("utf-8")  # type: ignore[union-attr]
        elif field == 2 and wire_type == LENGTH_DELIMITED:
            for tensor_field, tensor_wire, tensor_value in iter_fields(value):  # type: ignore[arg-type]
                if tensor_field == 1 and tensor_wire == VARINT:
                    dims.append(as_signed64(int(tensor_value)))  # type: ignore[arg-type]
                elif tensor_field == 1 and tensor_wire == LENGTH_DELIMITED:  # packed, if ever
                    dims.extend(as_signed64(d) for d in packed_varints(tensor_value))  # type: ignore[arg-type]
                elif tensor_field == 2:
                    tensor_type = tensor_value.decode("utf-8")  # type: ignore[union-attr]
                elif tensor_field == 3:
                    content = tensor_value  # type: ignore[assignment]
        elif field == 3:
            tensor_type = None  # MapTensorProto (hash-map parameters): no BERT weight uses it
        else:
            raise WireFormatError(f"unexpected field {field} in a checkpoint value")
    if not tag:
        raise WireFormatError("a checkpoint value without a tag")
    return tag, tensor_type, tuple(dims), content


def _to_tensor(path: Path, tag: str, tensor_type: str, dims: tuple[int, ...], content: bytes) -> torch.Tensor:
    # MindSpore writes a 0-d scalar as dims [0].
    shape = () if dims in ((), (0,)) else dims
    dtype = MINDSPORE_DTYPES[tensor_type]
    if len(content) % dtype.itemsize:
        raise InputError(path, f"tensor {tag!r}: {len(content)} bytes are not a whole number of "
                               f"{tensor_type} values ({dtype.itemsize} bytes each)")
    if any(dim < 0 for dim in shape):
        raise InputError(path, f"tensor {tag!r}: shape {list(shape)} has a negative dimension")
    array = np.frombuffer(content, dtype=dtype)
    # math.prod on Python ints: numpy's int64 product wraps ([2**32, 2**32] gives 0).
    if array.size != math.prod(shape):
        raise InputError(path, f"tensor {tag!r}: {array.size} values do not fill shape {shape}")
    tensor = torch.from_numpy(array.reshape(shape).copy())
    if tensor_type == "BFloat16":
        tensor = tensor.view(torch.bfloat16)
    return tensor
