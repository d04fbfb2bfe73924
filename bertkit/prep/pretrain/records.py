"""A shard's instances on disk, and the pretraining records written from them.

An instance is spilled as a fixed-width row of offsets into the shard's token array
(`ShardTokens.ids`) and its masked positions, a few thousand rows at a time, so memory
holds the shard's tokens but never its instances. After the last pass the rows are read
back in the shuffled order (a memory map, random access) and the records are assembled
from the token array with numpy and written with the batch TFRecord writer.

Row layout (width `6 + 2 * max_predictions_per_seq`):
`a_begin, a_end, b_begin, b_end, n_masked, is_random_next | masked positions (draw order)
| the id shown at each (KEEP: the original token)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bertkit.prep.pretrain.instances import ID_BITS, KEEP
from bertkit.tfrecord import FloatList, TFRecordWriter

_FLUSH_EVERY = 4096
_WRITE_BATCH = 8192
_HEAD = 6


class InstanceSpill:
    """`InstanceSink` that streams instances to ``path`` and counts what it saw."""

    def __init__(self, path: Path, max_seq_length: int, max_predictions_per_seq: int,
                 dtype: type = np.int32):
        self.path = path
        self.seq = max_seq_length
        self.preds = max_predictions_per_seq
        self.width = _HEAD + 2 * max_predictions_per_seq
        self.dtype = dtype
        self.instances = 0
        self.masked_positions = 0
        self.random_next = 0
        # Flat lists, extended per instance (one C-level extend each, no per-instance
        # objects), turned into rows with numpy at each flush.
        self._heads: list[int] = []
        self._positions: list[int] = []
        self._replacements: list[int] = []
        self._flush_at = _FLUSH_EVERY * _HEAD
        self._handle = open(path, "wb")

    def add(self, a_begin: int, a_end: int, b_begin: int, b_end: int, positions: list[int],
            replacements: list[int], is_random_next: bool) -> None:
        heads = self._heads
        heads += (a_begin, a_end, b_begin, b_end, len(positions), is_random_next)
        self._positions += positions
        self._replacements += replacements
        if len(heads) >= self._flush_at:
            self._flush()

    def _flush(self) -> None:
        count = len(self._heads) // _HEAD
        if not count:
            return
        rows = np.zeros((count, self.width), dtype=self.dtype)
        heads = np.array(self._heads, dtype=np.int64).reshape(count, _HEAD)
        rows[:, :_HEAD] = heads
        preds = self.preds
        masked = heads[:, 4]
        # Left-align each instance's masked positions (and shown ids) in its row.
        slots = np.arange(preds) < masked[:, None]
        rows[:, _HEAD:_HEAD + preds][slots] = self._positions
        rows[:, _HEAD + preds:][slots] = self._replacements
        rows.tofile(self._handle)
        self.instances += count
        self.masked_positions += len(self._positions)
        self.random_next += int(heads[:, 5].sum())
        self._heads, self._positions, self._replacements = [], [], []

    def finish(self) -> None:
        self._flush()
        self._handle.close()

    def discard(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)

    def rows(self) -> np.ndarray:
        if self.instances == 0:
            return np.zeros((0, self.width), dtype=self.dtype)
        return np.memmap(self.path, dtype=self.dtype, mode="r",
                         shape=(self.instances, self.width))


def padded_plain_ids(ids: np.ndarray, max_seq_length: int) -> np.ndarray:
    """The shard's ids without continuation bits, between ``max_seq_length + 1`` zeros and
    ``max_seq_length`` zeros: what `pretraining_columns` reads its windows from (shard id
    x sits at x + max_seq_length + 1, so every window starts and ends inside)."""
    zeros = np.zeros(max_seq_length + 1, dtype=ids.dtype)
    return np.concatenate([zeros, ids & ID_BITS, zeros[1:]])


def pretraining_columns(rows: np.ndarray, plain_ids: np.ndarray, max_seq_length: int,
                        max_predictions_per_seq: int, cls_id: int,
                        sep_id: int) -> dict[str, object]:
    """Google's seven features for a block of spilled rows, from `padded_plain_ids`."""
    seq, preds = max_seq_length, max_predictions_per_seq
    rows = np.asarray(rows, dtype=np.intp)
    a_begin, a_end, b_begin, b_end, n_masked, label = (rows[:, k] for k in range(_HEAD))
    count = rows.shape[0]
    len_a = a_end - a_begin
    n_tokens = len_a + (b_end - b_begin) + 3
    position = np.arange(seq)
    real = position < n_tokens[:, None]
    # [CLS] A [SEP] B [SEP]: position p reads ids[a_begin - 1 + p] in A and
    # ids[b_begin - len_a - 2 + p] in B, so each side is one window of seq consecutive
    # ids (copied row by row, no per-token index); [CLS], the [SEP]s and padding are
    # set after.
    windows = sliding_window_view(plain_ids, seq)
    input_ids = np.where(position <= len_a[:, None], windows[a_begin + seq],
                         windows[b_begin - len_a + (seq - 1)])
    input_ids *= real
    record = np.arange(count)
    input_ids[:, 0] = cls_id
    input_ids[record, len_a + 1] = sep_id
    input_ids[record, n_tokens - 1] = sep_id

    # Masked positions in increasing order (Google sorts them), each with its shown id:
    # one sort of (position, shown id) pairs packed in an int64, unused slots last.
    slot = np.arange(preds) < n_masked[:, None]
    keys = np.where(slot, rows[:, _HEAD:_HEAD + preds], seq) << 32
    keys |= rows[:, _HEAD + preds:_HEAD + 2 * preds] & 0xFFFFFFFF
    keys.sort(axis=1)
    positions = (keys >> 32) * slot  # unused slots: position 0, [CLS]
    shown = (keys & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
    labels = np.take_along_axis(input_ids, positions, axis=1)
    labels *= slot
    # An unused slot writes [CLS] over position 0's [CLS]: the whole block in one put.
    np.put_along_axis(input_ids, positions,
                      np.where(slot, np.where(shown == KEEP, labels, shown), cls_id), axis=1)
    return {
        "input_ids": input_ids,
        "input_mask": real.view(np.int8),
        "segment_ids": (real & (position >= (len_a + 2)[:, None])).view(np.int8),
        "masked_lm_positions": positions,
        "masked_lm_ids": labels,
        "masked_lm_weights": FloatList(slot.astype(np.float32)),
        "next_sentence_labels": label,
    }


def write_records(spill: InstanceSpill, order: Sequence[int], path: Path, ids: np.ndarray,
                  cls_id: int, sep_id: int) -> None:
    """Write the spilled instances in ``order`` to ``path`` (atomically, with sidecars)."""
    rows = spill.rows()
    plain_ids = padded_plain_ids(ids, spill.seq)
    with TFRecordWriter(path) as writer:
        for begin in range(0, len(order), _WRITE_BATCH):
            block = rows[np.asarray(order[begin:begin + _WRITE_BATCH], dtype=np.int64)]
            writer.write_batch(pretraining_columns(block, plain_ids, spill.seq, spill.preds,
                                                   cls_id, sep_id))
