"""Training and prediction batches from prep's TFRecord files, without TensorFlow.

A map-style dataset over the record index gives random access, so the epoch order
comes from a `DistributedSampler` (seeded, `set_epoch` per epoch): the same `--seed`
gives the same order on any number of ranks, and a resumed run can skip straight to
the batch where it stopped. Record names are Google's (`input_mask`, `segment_ids`,
`label_ids`); batches use the model's argument names.

Records are padded to prep's `--max-seq-length`, but the model only needs each batch's
longest real sequence: `trim_batch` cuts the padded tail columns, which changes no result
(padded keys get an attention bias of the dtype's minimum, i.e. weight exactly 0, and the
classification and token losses ignore padded positions). `length_grouped_batches` is
`train --group-by-length`: batches of similar lengths, so trimming saves more.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from bertkit.errors import InputError
from bertkit.fsutil import sha256_of_file
from bertkit.tfrecord import TFRecordReader

# Record feature name -> model argument name, where they differ; every other feature
# (start_positions, unique_ids, a task's own columns) keeps its name.
MODEL_ARGUMENT = {
    "input_mask": "attention_mask",
    "segment_ids": "token_type_ids",
    "label_ids": "labels",
}

# The encoder's inputs, which every task's records hold.
INPUT_FEATURES = ("input_ids", "input_mask", "segment_ids")


@dataclass(frozen=True)
class RecordLayout:
    """Which features a task reads, and which of them are one number per record.

    Each task declares its layouts (``bertkit.train.tasks``): for training, the inputs and
    the labels its loss needs; for prediction, the inputs and the ids to join outputs on.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    scalars: tuple[str, ...] = ()


TRAIN_FILE_NAME = "train.tf_record"
LABEL_MAP_NAME = "label2id.json"


# Records checked for out-of-range ids before the first step; every later record is checked
# as it is read (a full scan of a large file would cost a pass over it).
IDS_CHECKED_UPFRONT = 1000


def id_limits_for(config: Any) -> dict[str, tuple[int, str]]:
    """The embedding-table sizes a BERT config gives the records' id features."""
    return {"input_ids": (int(config.vocab_size), "vocab_size"),
            "segment_ids": (int(getattr(config, "type_vocab_size", 2)), "type_vocab_size")}


def file_in_prep_dir(path: str | Path, names: Sequence[str]) -> Path:
    """``path`` itself, or the first of ``names`` in it when it is a prep folder.

    A folder (or a file's folder) whose last prep run was cut off is refused: its files may
    be half the new set and half the old.
    """
    from bertkit.prep.staging import check_no_interrupted_commit

    path = Path(path)
    check_no_interrupted_commit(path if path.is_dir() else path.parent)
    if path.is_dir():
        for name in names:
            if (path / name).is_file():
                return path / name
        raise InputError(path, f"no {' or '.join(names)} in this directory")
    return path


def resolve_train_file(path: str | Path) -> Path:
    """The training TFRecord that ``path`` names: the file, or prep's folder holding it."""
    return file_in_prep_dir(path, (TRAIN_FILE_NAME,))


# Files up to this size are hashed whole; larger ones by FINGERPRINT_SAMPLES evenly spread blocks.
FINGERPRINT_FULL_LIMIT = 256 << 20
FINGERPRINT_SAMPLES = 64
FINGERPRINT_BLOCK = 1 << 20


def file_fingerprint(path: Path) -> dict[str, object]:
    """Size and sha256 of a training file, so `--resume` notices it changed under its name.

    A large file is hashed over 64 blocks of 1 MiB spread from its start to its end (plus the
    size): resume stays quick with gigabyte inputs, and a re-prep changes sizes or blocks.
    """
    size = path.stat().st_size
    if size <= FINGERPRINT_FULL_LIMIT:
        return {"size": size, "sha256": sha256_of_file(path)}
    digest = hashlib.sha256(str(size).encode())
    stride = (size - FINGERPRINT_BLOCK) // (FINGERPRINT_SAMPLES - 1)
    with open(path, "rb") as handle:
        for block in range(FINGERPRINT_SAMPLES):
            handle.seek(block * stride)
            digest.update(handle.read(FINGERPRINT_BLOCK))
    return {"size": size, "sampled_sha256": digest.hexdigest()}


def read_label_map(train_file: Path) -> dict[str, int]:
    """The label map prep wrote next to the records: label -> id, ids 0..n-1."""
    path = train_file.parent / LABEL_MAP_NAME
    if not path.is_file():
        raise InputError(path, "label map not found (prep writes it next to the TFRecords)")
    try:
        label2id = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(path, f"not JSON: {error}") from None
    if not isinstance(label2id, dict) or not label2id:
        raise InputError(path, "expected a non-empty JSON object label -> id")
    ids = sorted(label2id.values())
    if ids != list(range(len(ids))):
        raise InputError(path, f"label ids must be 0..{len(ids) - 1} without gaps")
    return label2id


def labels_from_data(train_file: Path, dataset_probe: TFRecordDataset
                     ) -> tuple[int | None, dict[int, str] | None]:
    """(num_labels, id2label) from the data's label map; float labels mean regression.

    The label resolution of the tasks whose head is sized by prep's label map.
    """
    if np.asarray(dataset_probe.reader[0]["label_ids"]).dtype.kind == "f":
        return 1, {0: "score"}
    label2id = read_label_map(train_file)
    return len(label2id), {index: label for label, index in label2id.items()}


# Per-position features: the ones `trim_batch` cuts to the batch's real length.
_SEQUENCE_ARGUMENTS = ("input_ids", "attention_mask", "token_type_ids", "labels", "label_mask")


def real_length(attention_mask: torch.Tensor) -> int:
    """One past the last column any row attends to (at least 1)."""
    used = attention_mask.reshape(-1, attention_mask.shape[-1]).ne(0).any(dim=0)
    columns = used.nonzero()
    return int(columns[-1]) + 1 if len(columns) else 1


def trim_batch(batch: Mapping[str, torch.Tensor], *, multiple_of: int = 1
               ) -> dict[str, torch.Tensor]:
    """``batch`` without the padded columns past its longest real sequence.

    ``multiple_of`` rounds the kept length up (e.g. 8 for tensor-core friendly shapes on a
    GPU), never past the records' own length. Scalars (class labels, span positions,
    unique_ids) pass through.
    """
    full = batch["attention_mask"].shape[1]
    length = real_length(batch["attention_mask"])
    if multiple_of > 1:
        length = min(full, -(-length // multiple_of) * multiple_of)
    if length == full:
        return dict(batch)
    return {name: tensor[:, :length] if name in _SEQUENCE_ARGUMENTS and tensor.dim() >= 2
            and tensor.shape[1] == full else tensor for name, tensor in batch.items()}


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
        self._lengths: np.ndarray | None = None

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
            item[MODEL_ARGUMENT.get(name, name)] = value
        if self.num_labels is not None and "labels" in item:
            self._check_labels(item["labels"], item.get("attention_mask"), index)
        self._check_ids(record, index)
        return item

    def lengths(self) -> np.ndarray:
        """Every record's real length (one past its last attended position), read once."""
        if self._lengths is None:
            lengths = np.ones(len(self), dtype=np.int64)
            for index in range(len(self)):
                used = np.flatnonzero(np.asarray(self._read(index)["input_mask"]))
                if used.size:
                    lengths[index] = used[-1] + 1
            self._lengths = lengths
        return self._lengths

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


def collate_trimmed(items: Sequence[Mapping[str, np.ndarray]], multiple_of: int = 1
                    ) -> dict[str, torch.Tensor]:
    """`collate`, then `trim_batch` (done in the loader, before any copy to a device)."""
    return trim_batch(collate(items), multiple_of=multiple_of)


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


def length_grouped_batches(lengths: Sequence[int] | np.ndarray, *, batch_size: int, seed: int,
                           epoch: int, rank: int, world_size: int,
                           mega_batches: int = 50) -> list[list[int]]:
    """`train --group-by-length`: this rank's micro-batches, of similar lengths, for one epoch.

    Hugging Face's LengthGroupedSampler idea, made rank-aware: one seeded permutation (the
    same on every rank) is cut into windows of ``mega_batches`` global batches; each window
    is sorted by length and cut into global batches (``batch_size x world_size`` records);
    the global batches are shuffled again, so the epoch stays random and only neighbours in
    length share a step. Rank r takes every world_size-th record of each global batch, so
    the ranks' batches are alike in length, every rank has exactly the same number of
    batches (the tail that does not fill a global batch is dropped, as in `epoch_batches`),
    and N processes see the same records per step as one process with the global batch.
    """
    lengths = np.asarray(lengths)
    generator = torch.Generator().manual_seed(seed + epoch)
    order = torch.randperm(len(lengths), generator=generator).numpy()
    global_size = batch_size * world_size
    usable = len(order) - len(order) % global_size
    order = order[:usable]
    window = global_size * mega_batches
    global_batches: list[np.ndarray] = []
    for start in range(0, usable, window):
        chunk = order[start:start + window]
        # Stable sort, longest first, so equal lengths keep their random order.
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        global_batches.extend(chunk[i:i + global_size] for i in range(0, len(chunk),
                                                                      global_size))
    shuffled = torch.randperm(len(global_batches), generator=generator).tolist()
    return [[int(i) for i in global_batches[b][rank::world_size]] for b in shuffled]


def batches_per_epoch(num_records: int, *, batch_size: int, world_size: int) -> int:
    return (num_records // world_size) // batch_size


def training_loader(dataset: Dataset, batches: list[list[int]], *, num_workers: int,
                    pin_memory: bool, seed: int, trim_multiple_of: int | None = None
                    ) -> DataLoader:
    """Batches in the given order; ``trim_multiple_of`` (None: no trimming) trims each one."""
    collate_fn = collate if trim_multiple_of is None else partial(
        collate_trimmed, multiple_of=trim_multiple_of)
    # An own generator: creating the iterator draws a worker base seed from it, and drawing
    # from the global RNG would shift the dropout masks of a run resumed mid-epoch.
    return DataLoader(dataset, batch_sampler=batches, collate_fn=collate_fn,
                      num_workers=num_workers, pin_memory=pin_memory,
                      persistent_workers=False, generator=torch.Generator().manual_seed(seed))


def prediction_order(dataset: TFRecordDataset, *, by_length: bool) -> list[int]:
    """The order predict runs records in: longest first when ``by_length`` (so each batch
    holds similar lengths and trimming drops most padding), else file order. Stable, so
    records of equal length keep their file order."""
    if not by_length:
        return list(range(len(dataset)))
    return [int(i) for i in np.argsort(-dataset.lengths(), kind="stable")]


def prediction_loader(dataset: Dataset, *, batch_size: int, num_workers: int = 0,
                      pin_memory: bool = False, order: Sequence[int] | None = None
                      ) -> DataLoader:
    """Every record once, in ``order`` (default: file order), in batches of ``batch_size``."""
    indices = list(order) if order is not None else list(range(len(dataset)))
    batches = [indices[start:start + batch_size] for start in range(0, len(indices),
                                                                     batch_size)]
    return DataLoader(dataset, batch_sampler=batches, collate_fn=collate,
                      num_workers=num_workers, pin_memory=pin_memory)
