"""SQuAD feature rows -> Google's record order and columns, and the record file.

Google numbers features from 1000000000 in output order; training examples are shuffled
first (`random.Random(12345)`, as `run_squad.main` does), and each example's windows stay
together in window order.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from bertkit.prep.squad.encode import ChunkFeatures
from bertkit.tfrecord import TFRecordWriter

FIRST_UNIQUE_ID = 1000000000


def question_order(num_questions: int, shuffle_seed: int | None) -> list[int]:
    """Question indices in output order: file order, or shuffled with ``shuffle_seed``."""
    order = list(range(num_questions))
    if shuffle_seed is not None:
        # shuffle() draws depend only on the list length, so permuting indices gives the
        # same order Google's rng.shuffle(train_examples) gives the examples.
        random.Random(shuffle_seed).shuffle(order)
    return order


def feature_order(windows_per_question: np.ndarray, question_order: list[int]) -> np.ndarray:
    """Feature rows (in file order) listed in the output order of their questions."""
    first = np.concatenate([[0], np.cumsum(windows_per_question)[:-1]]).astype(np.int64)
    order = np.asarray(question_order, dtype=np.int64)
    counts = windows_per_question[order]
    if counts.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(first[order], counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return starts + within


def record_columns(
    features: ChunkFeatures, order: np.ndarray, max_seq_length: int, is_training: bool
) -> dict[str, np.ndarray]:
    """Google's FeatureWriter columns, in its insertion order, as [N, width] arrays.

    Every value is written as int64 whatever the array dtype, so ids stay int32 here."""
    count = len(order)
    positions = np.arange(max_seq_length)[None, :]
    num_tokens = features.num_tokens[order][:, None]
    query_end = features.query_length[order][:, None] + 2
    columns = {
        "unique_ids": (FIRST_UNIQUE_ID + np.arange(count, dtype=np.int64))[:, None],
        "input_ids": features.input_ids[order],
        "input_mask": (positions < num_tokens).astype(np.uint8),
        "segment_ids": ((positions >= query_end) & (positions < num_tokens)).astype(np.uint8),
    }
    if is_training:
        columns["start_positions"] = features.start_positions[order][:, None]
        columns["end_positions"] = features.end_positions[order][:, None]
        columns["is_impossible"] = features.is_impossible[order][:, None]
    return columns


def write_records(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    with TFRecordWriter(path) as writer:
        writer.write_batch(columns)
