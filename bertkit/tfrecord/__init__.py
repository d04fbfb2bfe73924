"""TFRecord files of `tf.train.Example` records, written and read without TensorFlow.

Public API:
- `TFRecordWriter(path, index=True, schema=True)`: context manager; `write(features)`
  takes a mapping name -> `Int64List | FloatList | BytesList` (or plain sequences/arrays of
  int, which become Int64List). On close it renames the file into place and writes
  `<path>.index` (one `offset length` line per record) and the MindSpore schema JSON.
- `read_records(path)` / `TFRecordReader(path)`: CRC-checked iteration and random access.
- `encode_example` / `decode_example`: the protobuf payload codec.
"""

from bertkit.tfrecord.example import (
    BytesList,
    FeatureValue,
    FloatList,
    Int64List,
    decode_example,
    encode_example,
)
from bertkit.tfrecord.framing import CorruptRecordError
from bertkit.tfrecord.reader import TFRecordReader, read_records
from bertkit.tfrecord.schema import index_path_for, schema_path_for
from bertkit.tfrecord.writer import TFRecordWriter

__all__ = [
    "BytesList",
    "CorruptRecordError",
    "FeatureValue",
    "FloatList",
    "Int64List",
    "TFRecordReader",
    "TFRecordWriter",
    "decode_example",
    "encode_example",
    "index_path_for",
    "read_records",
    "schema_path_for",
]
