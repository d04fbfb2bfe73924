"""A shard's instances on disk, and the pretraining records written from them.

Instances are appended as fixed-width int32 rows to a hidden spill file beside the
output, a few thousand at a time, so memory holds the shard's documents but never its
instances. After the last pass the rows are read back in the shuffled order (a memory
map, random access) and written as records with the batch TFRecord writer.

Row layout (width `max_seq_length + 2 * max_predictions_per_seq + 4`):
`input_ids (0-padded) | masked_lm_positions | masked_lm_ids | n_tokens, len_a, n_masked,
next_sentence_label`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from pathlib import Path

import numpy as np

from bertkit.tfrecord import FloatList, TFRecordWriter

_FLUSH_EVERY = 4096
_WRITE_BATCH = 8192


class InstanceSpill:
    """`InstanceSink` that streams instances to ``path`` and counts what it saw."""

    def __init__(self, path: Path, max_seq_length: int, max_predictions_per_seq: int):
        self.path = path
        self.seq = max_seq_length
        self.preds = max_predictions_per_seq
        self.width = max_seq_length + 2 * max_predictions_per_seq + 4
        self.instances = 0
        self.masked_positions = 0
        self.random_next = 0
        self._ids: list[list[int]] = []
        self._positions: list[list[int]] = []
        self._labels: list[list[int]] = []
        self._tail: list[tuple[int, int, int, int]] = []
        self._handle = open(path, "wb")

    def add(self, ids: list[int], len_a: int, positions: list[int], labels: list[int],
            is_random_next: bool) -> None:
        self._ids.append(ids)
        self._positions.append(positions)
        self._labels.append(labels)
        self._tail.append((len(ids), len_a, len(positions), int(is_random_next)))
        if len(self._tail) >= _FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        count = len(self._tail)
        if not count:
            return
        rows = np.zeros((count, self.width), dtype=np.int32)
        tail = np.asarray(self._tail, dtype=np.int32)
        rows[:, -4:] = tail
        seq, preds = self.seq, self.preds
        _fill_ragged(rows[:, :seq], self._ids, tail[:, 0])
        _fill_ragged(rows[:, seq:seq + preds], self._positions, tail[:, 2])
        _fill_ragged(rows[:, seq + preds:seq + 2 * preds], self._labels, tail[:, 2])
        rows.tofile(self._handle)
        self.instances += count
        self.masked_positions += int(tail[:, 2].sum())
        self.random_next += int(tail[:, 3].sum())
        self._ids, self._positions, self._labels, self._tail = [], [], [], []

    def finish(self) -> None:
        self._flush()
        self._handle.close()

    def discard(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)

    def rows(self) -> np.ndarray:
        if self.instances == 0:
            return np.zeros((0, self.width), dtype=np.int32)
        return np.memmap(self.path, dtype=np.int32, mode="r", shape=(self.instances, self.width))


def _fill_ragged(target: np.ndarray, lists: Sequence[list[int]], lengths: np.ndarray) -> None:
    """Left-align each list in its row of ``target`` (the rest stays 0)."""
    flat = np.fromiter(chain.from_iterable(lists), dtype=np.int32, count=int(lengths.sum()))
    target[np.arange(target.shape[1])[None, :] < lengths[:, None]] = flat


def pretraining_columns(rows: np.ndarray, max_seq_length: int,
                        max_predictions_per_seq: int) -> dict[str, object]:
    """Google's seven features for a block of spilled rows."""
    seq, preds = max_seq_length, max_predictions_per_seq
    n_tokens, len_a, n_masked, label = (rows[:, seq + 2 * preds + k] for k in range(4))
    position = np.arange(seq)[None, :]
    real = position < n_tokens[:, None]
    return {
        "input_ids": rows[:, :seq],
        "input_mask": real.astype(np.int32),
        "segment_ids": (real & (position >= len_a[:, None] + 2)).astype(np.int32),
        "masked_lm_positions": rows[:, seq:seq + preds],
        "masked_lm_ids": rows[:, seq + preds:seq + 2 * preds],
        "masked_lm_weights": FloatList(
            (np.arange(preds)[None, :] < n_masked[:, None]).astype(np.float32)),
        "next_sentence_labels": label,
    }


def write_records(spill: InstanceSpill, order: Sequence[int], path: Path) -> None:
    """Write the spilled instances in ``order`` to ``path`` (atomically, with sidecars)."""
    rows = spill.rows()
    with TFRecordWriter(path) as writer:
        for begin in range(0, len(order), _WRITE_BATCH):
            block = rows[np.asarray(order[begin:begin + _WRITE_BATCH], dtype=np.int64)]
            writer.write_batch(pretraining_columns(block, spill.seq, spill.preds))
