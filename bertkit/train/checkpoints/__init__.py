"""Initial weights from HF, Google TF and MindSpore checkpoints, through one report.

``load_init_checkpoint(model, path)`` detects the format, maps the names with the tables in
``name_maps``, checks every shape, copies the tensors and returns a ``LoadReport``. Encoder
weights must all be present; a missing head (or pooler) keeps its fresh initialisation and is
announced. The run-dir model format (``save_model_dir`` / ``load_model_dir``) lives in ``hf``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from bertkit.errors import BertkitError, InputError
from bertkit.train.checkpoints.google_tf import open_tf_checkpoint, tf_checkpoint_prefix
from bertkit.train.checkpoints.hf import (
    hf_weights_file,
    load_model_dir,
    map_hf_state,
    read_hf_state,
    save_model_dir,
)
from bertkit.train.checkpoints.mapping import ENCODER_PREFIX, MappedWeights, map_names
from bertkit.train.checkpoints.mindspore import read_mindspore_checkpoint
from bertkit.train.checkpoints.name_maps import (
    GOOGLE_TF_ENCODER,
    GOOGLE_TF_HEADS,
    GOOGLE_TF_IGNORED,
    MINDSPORE_ANCHOR,
    MINDSPORE_ENCODER,
    MINDSPORE_HEADS,
    MINDSPORE_IGNORED,
)
from bertkit.train.tasks import hf_head_prefixes

__all__ = [
    "LoadReport",
    "detect_format",
    "find_config_for_checkpoint",
    "load_init_checkpoint",
    "load_model_dir",
    "read_checkpoint",
    "save_model_dir",
]

FORMATS = ("hf", "google_tf", "mindspore")
# Besides every task's head, modules a checkpoint may lack: they start from their fresh
# initialisation, as in HF.
OPTIONAL_PREFIXES = ("bert.pooler.", "pooler.")
# Pretraining heads a checkpoint may carry (Google, MindSpore zoo, HF BertForPreTraining):
# loaded into a BertForPreTraining, skipped by a fine-tuning model that has no place for them.
PRETRAINING_HEAD_PREFIX = "cls."


@dataclasses.dataclass
class LoadReport:
    format: str
    source: str
    loaded: list[str]
    missing: list[str]
    unexpected: list[str]
    initialised_heads: list[str]
    ignored: list[str]

    @property
    def initialised(self) -> list[str]:
        """Every tensor the checkpoint lacked, which keeps its fresh initialisation (a
        missing encoder tensor is an error, so these are heads and the pooler)."""
        return list(self.missing)

    def summary(self) -> str:
        parts = [f"loaded {len(self.loaded)} tensors from {self.format} checkpoint {self.source}"]
        if self.initialised_heads:
            parts.append(f"newly initialised: {', '.join(self.initialised)}")
        if self.unexpected:
            shown = ", ".join(self.unexpected[:8]) + (" ..." if len(self.unexpected) > 8 else "")
            parts.append(f"unexpected (not loaded): {shown}")
        if self.ignored:
            parts.append(
                f"skipped {len(self.ignored)} tensors this model does not use "
                "(optimizer state, step counters, pre-training heads, pooler)"
            )
        return "; ".join(parts)


def detect_format(path: str | Path) -> tuple[str, Path]:
    """(format, the file or prefix to read)."""
    path = Path(path)
    if not path.exists() and tf_checkpoint_prefix(path) is None:
        raise InputError(path, "checkpoint not found")
    weights = hf_weights_file(path)
    if weights is not None:
        return "hf", weights
    prefix = tf_checkpoint_prefix(path)
    if prefix is not None:
        return "google_tf", prefix
    if path.is_file() and path.suffix == ".ckpt":
        return "mindspore", path
    if path.is_dir():
        ckpts = sorted(path.glob("*.ckpt"))
        if len(ckpts) == 1:
            return "mindspore", ckpts[0]
    raise InputError(
        path,
        "cannot tell the checkpoint format: expected an HF directory or model.safetensors/"
        "pytorch_model.bin, a Google TF prefix (bert_model.ckpt with .index/.data-*), or a "
        "MindSpore .ckpt file",
    )


def read_checkpoint(path: str | Path) -> tuple[str, Path, MappedWeights]:
    """Detect, read and rename a checkpoint to our names, without touching a model."""
    fmt, resolved = detect_format(path)
    if fmt == "hf":
        return fmt, resolved, map_hf_state(read_hf_state(resolved))
    if fmt == "google_tf":
        names, read = open_tf_checkpoint(resolved)
        mapped = map_names(names, read, encoder_rules=GOOGLE_TF_ENCODER, head_rules=GOOGLE_TF_HEADS,
                           ignored=GOOGLE_TF_IGNORED)
        return fmt, resolved, mapped
    tensors = read_mindspore_checkpoint(resolved)
    encoder_prefix = _mindspore_encoder_prefix(resolved, tensors)
    # The zoo's task cells hold the encoder as `bert`: heads sit one level above it.
    head_prefix = encoder_prefix.removesuffix("bert.")
    mapped = map_names(tensors, tensors.__getitem__, encoder_rules=MINDSPORE_ENCODER,
                       head_rules=MINDSPORE_HEADS, ignored=MINDSPORE_IGNORED,
                       encoder_prefix=encoder_prefix, head_prefix=head_prefix)
    return fmt, resolved, mapped


def _mindspore_encoder_prefix(path: Path, tensors: dict[str, torch.Tensor]) -> str:
    prefixes = sorted(
        (name[: -len(MINDSPORE_ANCHOR)] for name in tensors if name.endswith(MINDSPORE_ANCHOR)),
        key=len,
    )
    if not prefixes:
        raise InputError(path, f"no {MINDSPORE_ANCHOR} tensor: not a MindSpore model-zoo BERT checkpoint")
    return prefixes[0]


def load_init_checkpoint(model: nn.Module, path: str | Path, *, announce: bool = False) -> LoadReport:
    """Copy a checkpoint's weights into ``model`` (a BertModel or one of the heads).

    Raises BertkitError when an encoder weight is missing or any shape disagrees (naming both
    shapes). With ``announce`` the summary goes to stderr (pass rank == 0 under DDP).
    """
    fmt, resolved, mapped = read_checkpoint(path)
    model = getattr(model, "module", model)
    expected = model.state_dict()
    # A bare BertModel has no `bert.` level: drop ours from encoder names, heads don't apply.
    bare = not any(name.startswith(ENCODER_PREFIX) for name in expected)
    tensors: dict[str, torch.Tensor] = {}
    sources: dict[str, str] = {}
    unexpected = list(mapped.unexpected)
    ignored = list(mapped.ignored)
    for name, tensor in mapped.tensors.items():
        target = name.removeprefix(ENCODER_PREFIX) if bare else name
        if target not in expected:
            # A pooler the model does not have (span/token heads, like HF) is expected, and
            # so are pretraining heads under a fine-tuning head.
            known = "pooler." in target or target.startswith(PRETRAINING_HEAD_PREFIX)
            (ignored if known else unexpected).append(mapped.source_names[name])
            continue
        want = tuple(expected[target].shape)
        if tuple(tensor.shape) != want:
            raise BertkitError(
                f"{resolved}: {mapped.source_names[name]} has shape {tuple(tensor.shape)} in the "
                f"checkpoint but {target} has shape {want} in the model{_shape_hint(target)}"
            )
        tensors[target] = tensor
        sources[target] = mapped.source_names[name]
    missing = [name for name in expected if name not in tensors]
    optional = (*hf_head_prefixes().values(), *OPTIONAL_PREFIXES)
    heads = [name for name in missing if name.startswith(optional)]
    encoder_missing = [name for name in missing if name not in heads]
    if encoder_missing:
        shown = ", ".join(encoder_missing[:6]) + (" ..." if len(encoder_missing) > 6 else "")
        raise BertkitError(
            f"{resolved}: the {fmt} checkpoint lacks {len(encoder_missing)} encoder weights: {shown}"
        )
    with torch.no_grad():
        for name, tensor in tensors.items():
            expected[name].copy_(tensor.to(expected[name].dtype))
    report = LoadReport(
        format=fmt,
        source=str(resolved),
        loaded=sorted(tensors),
        missing=missing,
        unexpected=unexpected,
        initialised_heads=sorted({name.rsplit(".", 1)[0] for name in heads}),
        ignored=ignored,
    )
    if announce:
        from bertkit.console import stderr_console

        stderr_console.print(report.summary(), markup=False, soft_wrap=True)
    return report


def _shape_hint(target: str) -> str:
    hints = {
        "token_type_embeddings": " (check type_vocab_size in the config: the MindSpore zoo uses 16)",
        "word_embeddings": " (check vocab_size in the config)",
        "position_embeddings": " (check max_position_embeddings in the config)",
        "classifier": " (the checkpoint's head has a different label count)",
        "qa_outputs": "",
    }
    for key, hint in hints.items():
        if key in target:
            return hint
    return " (check hidden_size / intermediate_size in the config)"


def find_config_for_checkpoint(path: str | Path) -> Path | None:
    """bert_config.json or config.json beside a checkpoint (or inside its directory)."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    for name in ("bert_config.json", "config.json"):
        if (folder / name).is_file():
            return folder / name
    return None
