"""Hugging Face checkpoints: reading ``model.safetensors`` / ``pytorch_model.bin`` (with or
without the ``bert.`` prefix), and the run-dir model format shared by train, predict and
export (an HF-loadable directory plus a ``bertkit`` block in config.json)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bertkit.errors import BertkitError, InputError, OutputWriteError, first_line
from bertkit.fsutil import atomic_path, write_json_atomic
from bertkit.train import tasks
from bertkit.train.checkpoints.mapping import ENCODER_PREFIX, MappedWeights
from bertkit.train.checkpoints.name_maps import HF_ENCODER_ROOTS, HF_IGNORED, HF_LEGACY_SUFFIXES
from bertkit.train.config import BertConfig, read_config_values
from bertkit.train.tasks import (
    build_model,
    find_task,
    get_task,
    hf_head_prefixes,
    task_of_architecture,
)

HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
SHARD_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


def hf_weights_file(path: Path) -> Path | None:
    """The weights file (or shard index) that an HF directory or file path names."""
    if path.is_file() and path.suffix in (".safetensors", ".bin", ".pt", ".pth", ".json"):
        return path
    if path.is_dir():
        for name in (*HF_WEIGHT_FILES, *SHARD_INDEXES):
            if (path / name).is_file():
                return path / name
    return None


def read_hf_state(weights_file: Path) -> dict[str, torch.Tensor]:
    if weights_file.name.endswith(".index.json"):
        weight_map = json.loads(weights_file.read_text(encoding="utf-8"))["weight_map"]
        state: dict[str, torch.Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            state.update(read_hf_state(weights_file.parent / shard))
        return state
    try:
        if weights_file.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(weights_file))
        loaded = torch.load(weights_file, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- corrupt or foreign file: one line, not a traceback
        reason = first_line(error)
        if reason.startswith("Weights only load failed"):
            # torch's advice that follows (weights_only=False) would run the file's code.
            reason = "not a file of plain tensors (bertkit never unpickles other objects)"
        raise InputError(weights_file, f"cannot read HF weights: {reason}") from None
    if isinstance(loaded, dict) and "state_dict" in loaded:
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise InputError(weights_file, "a PyTorch weights file must hold a state dict")
    return loaded


def map_hf_state(state: dict[str, torch.Tensor]) -> MappedWeights:
    """HF names are our names; only the optional `bert.` prefix, old gamma/beta and the
    heads' prefixes (each task's ``hf_heads``) may differ."""
    heads = hf_head_prefixes()
    mapped = MappedWeights()
    for name, tensor in state.items():
        canonical = name
        for old, new in HF_LEGACY_SUFFIXES:
            if canonical.endswith(old):
                canonical = canonical[: -len(old)] + new
        bare = canonical.removeprefix(ENCODER_PREFIX)
        head = max((prefix for prefix in heads if canonical.startswith(prefix)), key=len,
                   default=None)
        if HF_IGNORED.match(bare):
            mapped.ignored.append(name)
        elif bare.startswith(HF_ENCODER_ROOTS):
            mapped.tensors[ENCODER_PREFIX + bare] = tensor
            mapped.source_names[ENCODER_PREFIX + bare] = name
        elif head is not None:
            ours = heads[head] + canonical[len(head):]
            mapped.tensors[ours] = tensor
            mapped.source_names[ours] = name
        else:
            mapped.unexpected.append(name)
    return mapped


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_safetensors(state: dict[str, torch.Tensor], path: str | Path,
                      metadata: dict[str, str] | None = None) -> Path:
    """Write tensors atomically with the mode of any other new file (0644 under umask 022).

    safetensors' save_file creates its file 0600, unlike every file beside it.
    """
    from safetensors.torch import save_file

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata=metadata)
            os.chmod(tmp, 0o666 & ~_current_umask())
    except Exception as error:  # noqa: BLE001 -- SafetensorError or OSError: a full disk, a limit
        # Neither names the file (the temporary at that); the final name is what a person knows.
        raise OutputWriteError(path, " ".join(str(error).split()) or type(error).__name__
                               ) from None
    return path


# --------------------------------------------------------------------------------------------
# Run-dir model format
# --------------------------------------------------------------------------------------------


def save_model_dir(
    model: nn.Module,
    config: BertConfig,
    out_dir: str | Path,
    *,
    task: str,
    num_labels: int | None,
    id2label: dict[int, str] | list[str] | None,
    use_crf: bool,
    vocab_path: str | Path | None,
    do_lower_case: bool | None = None,
) -> list[Path]:
    """Write config.json, model.safetensors (our = HF names) and vocab.txt; config.json last,
    so a directory with a config.json is always complete. Returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)  # unwrap DDP
    state = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    written = []
    written.append(write_safetensors(state, out_dir / "model.safetensors", {"format": "pt"}))
    if vocab_path is not None:
        with atomic_path(out_dir / "vocab.txt") as tmp:
            shutil.copyfile(vocab_path, tmp)
        written.append(out_dir / "vocab.txt")
    hf_config = hf_config_dict(config, task=task, num_labels=num_labels, id2label=id2label,
                               use_crf=use_crf, do_lower_case=do_lower_case)
    written.append(write_json_atomic(out_dir / "config.json", hf_config))
    return written


def hf_config_dict(
    config: BertConfig,
    *,
    task: str,
    num_labels: int | None,
    id2label: dict[int, str] | list[str] | None,
    use_crf: bool,
    do_lower_case: bool | None,
) -> dict[str, Any]:
    spec = find_task(task)
    if spec is None:
        raise BertkitError(f"unknown task {task!r}")
    labels = _label_names(task, num_labels, id2label)
    hf = {**config.to_hf_dict(), "architectures": [spec.hf_architecture], "dtype": "float32"}
    if spec.output_names is None:  # fixed outputs (QA's two) are not labels
        hf["id2label"] = {str(i): name for i, name in enumerate(labels)}
        hf["label2id"] = {name: i for i, name in enumerate(labels)}
        if len(labels) == 1:
            hf["problem_type"] = "regression"
    hf["bertkit"] = {
        "task": task,
        "num_labels": len(labels),
        "use_crf": bool(use_crf),
        "do_lower_case": do_lower_case,
    }
    return hf


def _label_names(task: str, num_labels: int | None, id2label: dict[int, str] | list[str] | None) -> list[str]:
    fixed = get_task(task).output_names
    if fixed is not None:
        return list(fixed)
    if id2label is None:
        if num_labels is None:
            raise BertkitError(f"task {task!r} needs num_labels or id2label")
        return [f"LABEL_{i}" for i in range(num_labels)]
    if isinstance(id2label, dict):  # int or JSON-string keys
        names = [id2label[key] for key in sorted(id2label, key=int)]
    else:
        names = list(id2label)
    if num_labels is not None and len(names) != num_labels:
        raise BertkitError(f"the label map has {len(names)} labels but the head has {num_labels}")
    return [str(name) for name in names]


def read_model_dir_meta(model_dir: Path) -> tuple[BertConfig, dict[str, Any]]:
    """(config, meta) of a run-dir model or a plain HF directory. meta: task, num_labels,
    use_crf, do_lower_case, id2label (list of names, or None for a head without labels)."""
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise InputError(model_dir, "no config.json: not a saved model directory")
    raw = read_config_values(config_path)  # bad JSON: one line naming it
    config = BertConfig.from_file_values(config_path, raw)
    block = raw.get("bertkit") or {}
    if not isinstance(block, dict):
        raise InputError(config_path, '"bertkit" must be an object (task, num_labels, ...)')
    architectures = raw.get("architectures") or []
    if not isinstance(architectures, list):
        raise InputError(config_path, '"architectures" must be a list of class names')
    task = block.get("task")
    if task is None:
        architecture = next(iter(architectures), None)
        task = task_of_architecture(architecture or "")
        if task is None:
            raise InputError(config_path, f"cannot tell the task from architectures {raw.get('architectures')}")
    id2label = raw.get("id2label")
    if id2label and not (isinstance(id2label, dict)
                         and all(str(k).lstrip("-").isdigit() for k in id2label)):
        raise InputError(config_path, '"id2label" must be an object whose keys are label ids')
    labels = [id2label[k] for k in sorted(id2label, key=int)] if id2label else None
    spec = find_task(task)
    if spec is None:
        raise InputError(config_path, f"unknown task {task!r} (this bertkit knows "
                                      f"{', '.join(tasks.TASK_NAMES)})")
    num_labels = block.get("num_labels") or (len(labels) if labels else 2)
    if not isinstance(num_labels, int) or isinstance(num_labels, bool) or num_labels < 1:
        raise InputError(config_path, f'"num_labels" must be a whole number of at least 1, '
                                      f"not {num_labels!r}")
    fixed = spec.output_names
    meta = {
        "task": task,
        "num_labels": len(fixed) if fixed is not None else num_labels,
        "use_crf": bool(block.get("use_crf", False)),
        "do_lower_case": block.get("do_lower_case"),
        "id2label": None if fixed is not None else labels,
    }
    return config, meta


def load_model_dir(model_dir: str | Path) -> tuple[nn.Module, BertConfig, dict[str, Any]]:
    """Rebuild the model saved by ``save_model_dir`` (or an HF BertFor* directory)."""
    model_dir = Path(model_dir)
    config, meta = read_model_dir_meta(model_dir)
    model = build_model(meta["task"], config, num_labels=meta["num_labels"], use_crf=meta["use_crf"])
    weights = hf_weights_file(model_dir)
    if weights is None:
        raise InputError(model_dir, "no model.safetensors or pytorch_model.bin")
    mapped = map_hf_state(read_hf_state(weights))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(mapped.tensors))
    if missing:
        raise InputError(weights, f"missing weights: {', '.join(missing[:5])}")
    for name, tensor in mapped.tensors.items():
        if name in expected and tuple(tensor.shape) != tuple(expected[name].shape):
            raise InputError(
                weights,
                f"{name} has shape {tuple(tensor.shape)} in the file but "
                f"{tuple(expected[name].shape)} in the model built from config.json",
            )
    model.load_state_dict({k: v for k, v in mapped.tensors.items() if k in expected})
    return model, config, meta
