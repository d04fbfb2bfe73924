"""Resume checkpoints: everything needed to continue a run exactly where it stopped.

`RUN_DIR/checkpoint-<step>/training_state.pt` holds the model, optimizer, scheduler and
grad-scaler states, every rank's RNG states, the step, and the resolved run config.
The data order needs no state of its own: it is a pure function of (seed, epoch), so
the step number says which batch comes next. A checkpoint directory is written under a
hidden name and renamed when complete, so a crash never leaves a half checkpoint that
`--resume` would pick up.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bertkit.errors import InputError

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "training_state.pt"
_CHECKPOINT_NAME = re.compile(rf"^{CHECKPOINT_PREFIX}(\d+)$")


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / f"{CHECKPOINT_PREFIX}{step}"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, directory) of the complete checkpoints in ``run_dir``, oldest first."""
    if not run_dir.is_dir():
        return []
    found = []
    for child in run_dir.iterdir():
        match = _CHECKPOINT_NAME.match(child.name)
        if match and (child / STATE_FILE).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1][1] if checkpoints else None


def capture_rng() -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any]) -> Path:
    """Write ``state`` as checkpoint ``step`` of ``run_dir``, atomically; returns its directory."""
    final = checkpoint_dir(run_dir, step)
    tmp = run_dir / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        torch.save(state, tmp / STATE_FILE)
        if final.exists():  # the same step saved again after a resume
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_checkpoint(directory: Path) -> dict[str, Any]:
    path = directory / STATE_FILE
    try:
        # Our own file: it holds numpy RNG state and plain dicts, not only tensors.
        return torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as error:
        raise InputError(path, f"cannot read the training checkpoint: {error}") from None
