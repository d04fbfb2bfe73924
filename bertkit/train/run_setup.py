"""Everything a run needs before its first step, checked against each other.

The network config (from --config or beside the checkpoint), whether a fine-tuned
checkpoint's head fits the data's label map, the vocab to ship with the model, seeding, the
model a run starts from and the autocast context for a precision.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from bertkit.errors import InputError
from bertkit.train.config import BertConfig
from bertkit.train.data import LABEL_MAP_NAME
from bertkit.train.tasks import build_model

if TYPE_CHECKING:
    from bertkit.train.checkpoints import LoadReport


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


def initial_model(task: str, bert_config: BertConfig, *, seed: int,
                  num_labels: int | None = None, use_crf: bool = False,
                  init_checkpoint: Path | None = None) -> tuple[nn.Module, LoadReport | None]:
    """The model a run starts from, and the report of the checkpoint loaded into it (None:
    none given). Seeded before it is built, so the fresh weights (a new head, or all of a
    random model) are the same on every rank and for every caller that starts the same run
    (demo scores this model before it trains)."""
    seed_everything(seed)
    model = build_model(task, bert_config, num_labels=num_labels, use_crf=use_crf)
    if init_checkpoint is None:
        return model, None
    from bertkit.train.checkpoints import load_init_checkpoint

    return model, load_init_checkpoint(model, init_checkpoint)


def autocast_for(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)
