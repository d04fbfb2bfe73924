"""TFRecord files of `tf.train.Example` records, written and read without TensorFlow.

Public API:
- `TFRecordWriter(path, index=True, schema=True)`: context manager; `write(features)`
  takes a mapping name -> `Int64List | FloatList | BytesList` (or plain sequences/arrays of
  int, which become Int64List); `write_batch(columns)` takes name -> `[N, L]` int array
  (or `FloatList([N, L])`) and writes N records, byte-identical to N `write` calls but
  vectorised. On close it renames the file into place and writes `<path>.index` (one
  `offset length` line per record) and the MindSpore schema JSON.
- `read_records(path)` / `TFRecordReader(path)`: CRC-checked iteration and random access;
  `count_records(path)` checks the framing and CRCs of a whole file;
  `read_columns(path)` / `reader.read_columns()` decode many records at once into
  `[N, L]` arrays (vectorised when the records share one layout).
- `encode_example` / `decode_example`: the protobuf payload codec.
- Damage (bad CRC, truncation, malformed protobuf) raises `CorruptRecordError`, an
  `InputError` naming the file, the record number and its byte offset.
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
from bertkit.tfrecord.reader import TFRecordReader, count_records, read_columns, read_records
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
    "count_records",
    "decode_example",
    "encode_example",
    "index_path_for",
    "read_columns",
    "read_records",
    "schema_path_for",
]
