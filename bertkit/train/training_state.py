"""Resume checkpoints: everything needed to continue a run exactly where it stopped.

`RUN_DIR/checkpoint-<step>/` holds the model, optimizer, scheduler and grad-scaler states,
every rank's RNG states, the step, and the resolved run config, as two files that load
without running code: `training_state.safetensors` (every tensor) and
`training_state.json` (the structure around them, each tensor replaced by its key).
A pickle (`torch.load(weights_only=False)`) could execute whatever a crafted run folder
holds, so older `training_state.pt` files are refused, never opened.

The data order needs no state of its own: it is a pure function of (seed, epoch), so
the step number says which batch comes next. A checkpoint directory is written under a
hidden name and renamed when complete, so a crash never leaves a half checkpoint that
`--resume` would pick up; the temporaries a killed process leaves behind are removed by
the next run in the folder (`remove_stale_temporaries`).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bertkit.errors import InputError, OutputWriteError, first_line

CHECKPOINT_PREFIX = "checkpoint-"
STATE_JSON = "training_state.json"
STATE_TENSORS = "training_state.safetensors"
PICKLED_STATE = "training_state.pt"  # the old format: recognised, never loaded
STATE_FORMAT = "bertkit-training-state"
STATE_VERSION = 1
REQUIRED_KEYS = ("step", "model", "optimizer", "scheduler", "scaler", "rng", "config")
_CHECKPOINT_NAME = re.compile(rf"^{CHECKPOINT_PREFIX}(\d+)$")
# `.checkpoint-N.tmp-PID` (save_checkpoint) and `.NAME.tmp-PID` (fsutil.atomic_path).
_TEMPORARY_NAME = re.compile(r"^\..+\.tmp-(\d+)$")


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / f"{CHECKPOINT_PREFIX}{step}"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, directory) of the complete checkpoints in ``run_dir``, oldest first.

    An old-format (pickled) checkpoint is listed too, so that `--resume` names it and
    refuses it instead of silently resuming from an older one.
    """
    if not run_dir.is_dir():
        return []
    found = []
    for child in run_dir.iterdir():
        match = _CHECKPOINT_NAME.match(child.name)
        if match and ((child / STATE_JSON).is_file() or (child / PICKLED_STATE).is_file()):
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


# --------------------------------------------------------------------------------------------
# Encoding: nested dicts/lists/tuples of tensors, numpy arrays and JSON scalars
# --------------------------------------------------------------------------------------------


class _Encoder:
    """Splits a state into JSON (the structure) and a flat {key: tensor} for safetensors."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self._storages: set[int] = set()

    def encode(self, obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            tensor = obj.detach().to("cpu").contiguous()
            storage = tensor.untyped_storage().data_ptr() if tensor.numel() else None
            if storage is not None and storage in self._storages:
                tensor = tensor.clone()  # safetensors refuses tensors that share memory
            elif storage is not None:
                self._storages.add(storage)
            key = f"t{len(self.tensors)}"
            self.tensors[key] = tensor
            return {"__tensor__": key}
        if isinstance(obj, np.ndarray):
            return {"__ndarray__": obj.dtype.str, "shape": list(obj.shape),
                    "data": obj.ravel().tolist()}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(item) for item in obj]}
        if isinstance(obj, list):
            return [self.encode(item) for item in obj]
        if isinstance(obj, dict):
            if all(isinstance(key, str) and not key.startswith("__") for key in obj):
                return {key: self.encode(value) for key, value in obj.items()}
            return {"__items__": [[self.encode(key), self.encode(value)]
                                  for key, value in obj.items()]}
        if isinstance(obj, np.generic):
            return obj.item()
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        raise TypeError(f"cannot store a {type(obj).__name__} in a training checkpoint")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(item, tensors) for item in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return np.asarray(obj["data"], dtype=np.dtype(obj["__ndarray__"])).reshape(obj["shape"])
    if "__tuple__" in obj:
        return tuple(_decode(item, tensors) for item in obj["__tuple__"])
    if "__items__" in obj:
        return {_decode(key, tensors): _decode(value, tensors) for key, value in obj["__items__"]}
    return {key: _decode(value, tensors) for key, value in obj.items()}


# --------------------------------------------------------------------------------------------
# Saving and loading
# --------------------------------------------------------------------------------------------


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any]) -> Path:
    """Write ``state`` as checkpoint ``step`` of ``run_dir``, atomically; returns its directory."""
    from bertkit.train.checkpoints.hf import write_safetensors

    final = checkpoint_dir(run_dir, step)
    tmp = run_dir / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        encoder = _Encoder()
        structure = encoder.encode(state)
        try:
            write_safetensors(encoder.tensors, tmp / STATE_TENSORS)
        except OutputWriteError as error:  # it names the temporary: name the checkpoint
            raise OutputWriteError(final / STATE_TENSORS, error.reason) from None
        document = {"format": STATE_FORMAT, "version": STATE_VERSION, "state": structure}
        try:
            (tmp / STATE_JSON).write_text(json.dumps(document) + "\n", encoding="utf-8")
        except OSError as error:
            raise OutputWriteError(final / STATE_JSON, error.strerror or str(error)) from None
        if final.exists():  # the same step saved again after a resume
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_checkpoint(directory: Path) -> dict[str, Any]:
    """The state ``save_checkpoint`` wrote; no code in the folder can run while reading it."""
    json_path, tensors_path = directory / STATE_JSON, directory / STATE_TENSORS
    if not json_path.is_file() and (directory / PICKLED_STATE).is_file():
        raise InputError(
            directory / PICKLED_STATE,
            "a pickled training state from an older bertkit; it is not loaded, because "
            "unpickling can run code: start the run afresh in a new -o")
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(json_path, f"cannot read the training state: {error}") from None
    except RecursionError:
        raise InputError(json_path, "cannot read the training state: nested too deeply "
                                    "to be one bertkit wrote") from None
    if not (isinstance(document, dict) and document.get("format") == STATE_FORMAT):
        raise InputError(json_path, f"not a bertkit training state (no \"format\": "
                                    f"\"{STATE_FORMAT}\")")
    if document.get("version") != STATE_VERSION:
        raise InputError(json_path, f"training state version {document.get('version')!r}; "
                                    f"this bertkit reads version {STATE_VERSION}")
    try:
        from safetensors.torch import load_file

        tensors = load_file(str(tensors_path))
    except Exception as error:  # noqa: BLE001 -- missing, truncated or foreign: one line
        raise InputError(tensors_path, "cannot read the training state's tensors: "
                                       f"{first_line(error)}") from None
    try:
        state = _decode(document["state"], tensors)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(json_path, f"malformed training state ({type(error).__name__}: "
                                    f"{error})") from None
    except RecursionError:
        raise InputError(json_path, "malformed training state: nested too deeply") from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise InputError(json_path, f"the training state lacks {', '.join(missing)}")
    _check_fields(state, directory, json_path)
    return state


def _check_fields(state: dict[str, Any], directory: Path, json_path: Path) -> None:
    """The fields a resume trusts: the step the folder is named after, the right kinds."""
    match = _CHECKPOINT_NAME.match(directory.name)
    step = state["step"]
    if type(step) is not int or step < 1 or (match and step != int(match.group(1))):
        named = f" (the folder is {directory.name})" if match else ""
        raise InputError(json_path, f'"step" is {step!r}; expected the positive whole '
                                    f"number of the step it was saved at{named}")
    for key in ("model", "optimizer", "scheduler", "scaler", "config"):
        if not isinstance(state[key], dict):
            raise InputError(json_path, f'"{key}" is a {type(state[key]).__name__}, '
                                        "expected an object")
    if not isinstance(state["rng"], list) or not state["rng"]:
        raise InputError(json_path, '"rng" is not a non-empty list of RNG states')
    bad = [name for name, value in state["model"].items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise InputError(json_path, f'"model" entry {bad[0]!r} is not a tensor')


def state_is_finite(state: dict[str, torch.Tensor]) -> bool:
    """Whether every floating-point tensor of a model state holds only finite values."""
    return all(bool(torch.isfinite(tensor).all()) for tensor in state.values()
               if tensor.is_floating_point())


# --------------------------------------------------------------------------------------------
# Leftovers of killed runs
# --------------------------------------------------------------------------------------------


# Linux caps PIDs at 2**22; a larger number in a name was written by no process of ours.
_PID_LIMIT = 1 << 22


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` (0 to _PID_LIMIT: the caller skips larger ones) is running."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(run_dir: Path) -> list[tuple[Path, int]]:
    """Delete hidden ``.NAME.tmp-PID`` files and folders whose writer is no longer running.

    A SIGKILL during a checkpoint write leaves ``.checkpoint-N.tmp-PID/`` (gigabytes with a
    real model); nothing else would ever remove it. Returns (path, pid) of what was removed.
    """
    removed: list[tuple[Path, int]] = []
    if not run_dir.is_dir():
        return removed
    places = [run_dir] + [child for child in (run_dir / "model", run_dir / "eval")
                          if child.is_dir()]
    for place in places:
        for child in sorted(place.iterdir()):
            match = _TEMPORARY_NAME.match(child.name)
            # An impossible PID is not a temporary of ours: left alone, never a crash.
            if (match is None or int(match.group(1)) > _PID_LIMIT
                    or _process_alive(int(match.group(1)))):
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
            removed.append((child, int(match.group(1))))
    return removed


# --------------------------------------------------------------------------------------------
# Divergence: which checkpoint predates it
# --------------------------------------------------------------------------------------------

# A loss more than this many times the lowest loss before it counts as diverging.
DIVERGENCE_FACTOR = 2.0


def divergence_start(losses_by_step: dict[int, float], stop_step: int) -> int:
    """The first step of the loss's final climb before the non-finite value at ``stop_step``.

    Walking back from the stop, every step whose loss is above DIVERGENCE_FACTOR times the
    lowest loss seen before it belongs to the climb (a non-finite loss always does). With a
    sudden NaN after normal losses the climb is the stop step alone.
    """
    steps = sorted(step for step in losses_by_step if step < stop_step)
    lowest_before: list[float] = []  # lowest finite loss before steps[i]
    lowest = math.inf
    for step in steps:
        lowest_before.append(lowest)
        if math.isfinite(losses_by_step[step]):
            lowest = min(lowest, losses_by_step[step])
    start = stop_step
    for position in range(len(steps) - 1, 0, -1):
        loss, floor = losses_by_step[steps[position]], lowest_before[position]
        if math.isfinite(floor) and (not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * floor):
            start = steps[position]
        else:
            break
    return start
