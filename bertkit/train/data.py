"""Training and prediction batches from prep's TFRecord files, without TensorFlow.

A map-style dataset over the record index gives random access, so the epoch order
comes from a `DistributedSampler` (seeded, `set_epoch` per epoch): the same `--seed`
gives the same order on any number of ranks, and a resumed run can skip straight to
the batch where it stopped. Record names are Google's (`input_mask`, `segment_ids`,
`label_ids`); batches use the model's argument names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from bertkit.errors import InputError
from bertkit.tfrecord import TFRecordReader

# Record feature name -> model argument name.
MODEL_ARGUMENT = {
    "input_ids": "input_ids",
    "input_mask": "attention_mask",
    "segment_ids": "token_type_ids",
    "start_positions": "start_positions",
    "end_positions": "end_positions",
    "label_ids": "labels",
    "unique_ids": "unique_ids",
}

_INPUTS = ("input_ids", "input_mask", "segment_ids")


@dataclass(frozen=True)
class RecordLayout:
    """Which features a task reads, and which of them are one number per record."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    scalars: tuple[str, ...] = ()


def layout_for(task: str, training: bool) -> RecordLayout:
    """The features `task` needs for training (labels) or prediction (ids to join on)."""
    if task == "squad":
        if training:
            return RecordLayout(_INPUTS + ("start_positions", "end_positions"),
                                scalars=("start_positions", "end_positions"))
        return RecordLayout(("unique_ids",) + _INPUTS, scalars=("unique_ids",))
    if task == "classification":
        labels = ("label_ids",)
        return RecordLayout(_INPUTS + labels if training else _INPUTS,
                            optional=() if training else labels, scalars=labels)
    if task == "ner":
        labels = ("label_ids",)
        return RecordLayout(_INPUTS + labels if training else _INPUTS,
                            optional=() if training else labels)
    raise ValueError(f"unknown task {task!r}")


TRAIN_FILE_NAME = "train.tf_record"


# Records checked for out-of-range ids before the first step; every later record is checked
# as it is read (a full scan of a large file would cost a pass over it).
IDS_CHECKED_UPFRONT = 1000


def id_limits_for(config: Any) -> dict[str, tuple[int, str]]:
    """The embedding-table sizes a BERT config gives the records' id features."""
    return {"input_ids": (int(config.vocab_size), "vocab_size"),
            "segment_ids": (int(getattr(config, "type_vocab_size", 2)), "type_vocab_size")}


def resolve_train_file(path: str | Path) -> Path:
    """The training TFRecord that ``path`` names: the file, or prep's folder holding it."""
    path = Path(path)
    if path.is_dir():
        if (path / TRAIN_FILE_NAME).is_file():
            return path / TRAIN_FILE_NAME
        raise InputError(path, f"no {TRAIN_FILE_NAME} in this directory")
    return path


class TFRecordDataset(Dataset):
    """Record ``i`` of a TFRecord file as a dict of numpy arrays under model argument names.

    Picklable (the reader reopens its mmap lazily), so DataLoader workers can use it.
    """

    def __init__(self, path: str | Path, layout: RecordLayout, *, task: str,
                 num_labels: int | None = None,
                 id_limits: Mapping[str, tuple[int, str]] | None = None):
        self.path = Path(path)
        self.layout = layout
        self.task = task
        # feature -> (size, what): an id past an embedding table is an IndexError deep in
        # torch otherwise; here the record number and the sizes can be named.
        self.id_limits = dict(id_limits or {})
        # Label ids are checked against the head's size here, where the record number is known.
        self.num_labels = num_labels
        if not self.path.is_file():
            raise InputError(self.path, "TFRecord file not found")
        self.reader = TFRecordReader(self.path)  # a CorruptRecordError names path and record
        if len(self.reader) == 0:
            raise InputError(self.path, "the file holds no records")
        first = self._read(0)
        present = [name for name in layout.optional if name in first]
        self.features = layout.required + tuple(present)
        self.seq_length = int(first["input_ids"].shape[0])

    def _read(self, index: int) -> Mapping[str, np.ndarray]:
        record = self.reader[index]  # a CorruptRecordError already names path and record
        for name in self.layout.required:
            if name not in record:
                raise InputError(
                    self.path,
                    f"feature {name!r} needed by task {self.task} is missing "
                    f"(the record has: {', '.join(sorted(record)) or 'nothing'})",
                    f"record {index}",
                )
        return record  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        record = self._read(index)
        item: dict[str, np.ndarray] = {}
        for name in self.features:
            value = np.asarray(record[name])
            if name in self.layout.scalars:
                value = value.reshape(())
            item[MODEL_ARGUMENT[name]] = value
        if self.num_labels is not None and "labels" in item:
            self._check_labels(item["labels"], item.get("attention_mask"), index)
        self._check_ids(record, index)
        return item

    def check_ids(self, limit: int | None = None) -> None:
        """Check the first ``limit`` records' ids (all with None) before the first step."""
        for index in range(len(self) if limit is None else min(limit, len(self))):
            self._check_ids(self._read(index), index)

    def _check_ids(self, record: Mapping[str, np.ndarray], index: int) -> None:
        for name, (size, what) in self.id_limits.items():
            if name not in record:
                continue
            ids = np.asarray(record[name])
            if ids.size and (ids.max() >= size or ids.min() < 0):
                bad = int(ids.max() if ids.max() >= size else ids.min())
                raise InputError(self.path, f"{name} holds id {bad}, outside the model's {what} "
                                            f"of {size} (records and config disagree: another "
                                            "vocabulary?)", f"record {index}")

    def check_all_labels(self) -> None:
        """Scan every record's labels once, so a bad id fails before training starts."""
        if self.num_labels is None or "label_ids" not in self.features:
            return
        for index in range(len(self)):
            record = self._read(index)
            mask = record.get("input_mask")
            self._check_labels(np.asarray(record["label_ids"]),
                               None if mask is None else np.asarray(mask), index)

    def _check_labels(self, labels: np.ndarray, mask: np.ndarray | None, index: int) -> None:
        if self.num_labels == 1 or labels.dtype.kind == "f":  # regression target
            return
        valid = labels if mask is None or labels.shape != mask.shape else labels[mask > 0]
        if valid.size and (valid.max() >= self.num_labels or valid.min() < 0):
            bad = int(valid.max() if valid.max() >= self.num_labels else valid.min())
            raise InputError(
                self.path,
                f"label id {bad} is outside the {self.num_labels} labels of the model's head "
                "(label map and data disagree)",
                f"record {index}",
            )


def collate(items: Sequence[Mapping[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack per-record arrays into batch tensors (int64 stays int64, float32 stays float32)."""
    return {name: torch.from_numpy(np.stack([item[name] for item in items]))
            for name in items[0]}


def epoch_batches(dataset: Dataset, *, batch_size: int, seed: int, epoch: int, rank: int,
                  world_size: int) -> list[list[int]]:
    """This rank's micro-batches of record indices for one epoch, in training order.

    Rank r takes every world_size-th index of one seeded permutation (shared by all
    ranks), so at each step the ranks together see the same records as one process
    with the global batch. Partial batches are dropped: every step has the same size.
    """
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    indices = list(sampler)
    return [indices[start:start + batch_size]
            for start in range(0, len(indices) - batch_size + 1, batch_size)]


def batches_per_epoch(num_records: int, *, batch_size: int, world_size: int) -> int:
    return (num_records // world_size) // batch_size


def training_loader(dataset: Dataset, batches: list[list[int]], *, num_workers: int,
                    pin_memory: bool, seed: int) -> DataLoader:
    # An own generator: creating the iterator draws a worker base seed from it, and drawing
    # from the global RNG would shift the dropout masks of a run resumed mid-epoch.
    return DataLoader(dataset, batch_sampler=batches, collate_fn=collate,
                      num_workers=num_workers, pin_memory=pin_memory,
                      persistent_workers=False, generator=torch.Generator().manual_seed(seed))


def prediction_loader(dataset: Dataset, *, batch_size: int, num_workers: int = 0,
                      pin_memory: bool = False) -> DataLoader:
    """Every record once, in file order (predictions are joined back by unique_ids)."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate,
                      num_workers=num_workers, pin_memory=pin_memory)
