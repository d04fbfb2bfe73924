"""Everything a run needs before its first step, checked against each other.

The network config (from --config or beside the checkpoint), the label map prep wrote
next to the records, whether a fine-tuned checkpoint's head fits that label map, the
vocab to ship with the model, seeding and the autocast context for a precision.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import torch

from bertkit.errors import InputError
from bertkit.fsutil import sha256_of_file
from bertkit.train.config import BertConfig
from bertkit.train.data import TFRecordDataset

LABEL_MAP_NAME = "label2id.json"


def resolve_bert_config(config_file: Path | None, init_checkpoint: Path | None
                        ) -> tuple[BertConfig, Path]:
    """The network config and the file it came from (explicit --config wins)."""
    if config_file is not None:
        return BertConfig.from_json_file(config_file), Path(config_file)
    assert init_checkpoint is not None
    from bertkit.train.checkpoints import find_config_for_checkpoint

    found = find_config_for_checkpoint(init_checkpoint)
    if found is None:
        raise InputError(init_checkpoint,
                         "no bert_config.json or config.json next to the checkpoint; "
                         "pass --config")
    return BertConfig.from_json_file(found), Path(found)


def read_label_map(train_file: Path) -> dict[str, int]:
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


def labels_for_task(task: str, train_file: Path, dataset_probe: TFRecordDataset
                    ) -> tuple[int | None, dict[int, str] | None]:
    """(num_labels, id2label) from the data's label map; float labels mean regression."""
    if task in ("squad", "pretrain"):
        return None, None
    if np.asarray(dataset_probe.reader[0]["label_ids"]).dtype.kind == "f":
        return 1, {0: "score"}
    label2id = read_label_map(train_file)
    return len(label2id), {index: label for label, index in label2id.items()}


def check_head_matches_labels(init_checkpoint: Path | None, train_file: Path,
                              num_labels: int | None) -> None:
    """A fine-tuned checkpoint whose head was made for another label set is refused."""
    if num_labels is None or init_checkpoint is None:
        return
    path = Path(init_checkpoint)
    for name in ("config.json", "bertkit_model.json"):
        candidate = (path if path.is_dir() else path.parent) / name
        if not candidate.is_file():
            continue
        try:
            meta = json.loads(candidate.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue
        head = meta.get("num_labels") or len(meta.get("id2label") or {}) or None
        architectures = " ".join(meta.get("architectures") or [])
        fine_tuned = "Classification" in architectures or name == "bertkit_model.json"
        if fine_tuned and head is not None and int(head) != num_labels:
            raise InputError(
                candidate,
                f"the checkpoint's head has {head} labels but the data's label map "
                f"({train_file.parent / LABEL_MAP_NAME}) has {num_labels}",
            )


def find_vocab(train_file: Path, init_checkpoint: Path | None) -> Path | None:
    """The vocab to ship with the model: prep's copy first, then the checkpoint's."""
    train_file = Path(train_file)
    places = [train_file if train_file.is_dir() else train_file.parent]
    if init_checkpoint is not None:
        checkpoint = Path(init_checkpoint)
        places.append(checkpoint if checkpoint.is_dir() else checkpoint.parent)
    for place in places:
        if (place / "vocab.txt").is_file():
            return place / "vocab.txt"
    # prep pretrain copies no vocab: its manifest names the one it tokenized with.
    try:
        manifest = json.loads((places[0] / "manifest.json").read_text(encoding="utf-8"))
        named = Path(manifest["tokenizer"]["vocab"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return named if named.is_file() else None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def autocast_for(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


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
