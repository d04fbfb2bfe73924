"""Google TF checkpoints (``bert_model.ckpt.index`` + ``.data-*``), read without TensorFlow.

The bundle reader in ``tf_bundle`` handles what ``tf.compat.v1.train.Saver`` and
``tf.train.Checkpoint`` write for BERT. Bundles it cannot read (snappy-compressed index
blocks, partitioned variables) fall back to TensorFlow's own reader when the ``tf`` extra is
installed.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import torch

from bertkit.errors import InputError, first_line
from bertkit.train.checkpoints import tf_bundle


def tf_checkpoint_prefix(path: Path) -> Path | None:
    """The bundle prefix that ``path`` names, if it names one: the prefix itself, its
    ``.index`` file, a ``.data-*`` shard, or a directory holding exactly one bundle."""
    if path.is_dir():
        indexes = sorted(path.glob("*.index"))
        if len(indexes) == 1:
            return indexes[0].with_suffix("")
        if (path / "bert_model.ckpt.index").is_file():
            return path / "bert_model.ckpt"
        return None
    if path.name.endswith(".index") and path.is_file():
        return path.with_suffix("")
    if ".data-" in path.name:
        prefix = path.with_name(path.name.split(".data-")[0])
        return prefix if Path(f"{prefix}.index").is_file() else None
    if Path(f"{path}.index").is_file():
        return path
    return None


def open_tf_checkpoint(prefix: Path) -> tuple[list[str], Callable[[str], torch.Tensor]]:
    """(tensor names, a function reading one tensor as a torch tensor)."""
    index = f"{prefix}.index"
    try:
        num_shards, entries = tf_bundle.read_bundle_index(index)
    except tf_bundle.BundleFeatureError as error:
        return _open_with_tensorflow(prefix, error)
    except (ValueError, struct.error, IndexError, UnicodeDecodeError) as error:
        # Not a bundle at all (random bytes, another format): TensorFlow could not read it
        # either, and would only add its log noise.
        raise InputError(index, f"not a TensorFlow checkpoint index: {error}") from None
    except OSError as error:
        raise InputError(index, f"cannot read: {error.strerror or error}") from None

    def read(name: str) -> torch.Tensor:
        entry = entries[name]
        try:
            array = tf_bundle.read_tensor(prefix, entry, num_shards)
        except tf_bundle.BundleFormatError as error:
            raise InputError(prefix, str(error)) from None
        except FileNotFoundError as error:
            raise InputError(prefix, f"missing data shard: {error.filename}") from None
        tensor = torch.from_numpy(array)
        return tensor.view(torch.bfloat16) if entry.dtype == tf_bundle.TF_BFLOAT16 else tensor

    names = [name for name, entry in entries.items() if entry.dtype != 7]  # 7 = DT_STRING
    return names, read


def _open_with_tensorflow(prefix: Path, reason: Exception) -> tuple[list[str], Callable[[str], torch.Tensor]]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no C++ log lines around our one line
    try:
        import tensorflow as tf  # the `tf` extra; imported only for bundles we cannot parse
    except ImportError:
        raise InputError(
            f"{prefix}.index",
            f"cannot read this TF checkpoint without TensorFlow ({reason}); "
            "install the extra: pip install 'bertkit[tf]'",
        ) from None
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        names = [name for name, dtype in reader.get_variable_to_dtype_map().items()
                 if dtype != tf.string]
    except Exception as error:  # noqa: BLE001 -- tf.errors.OpError and kin: one line
        raise InputError(f"{prefix}.index", f"TensorFlow cannot read this checkpoint: "
                                            f"{first_line(error)}") from None

    def read(name: str) -> torch.Tensor:
        try:
            return torch.from_numpy(reader.get_tensor(name).copy())
        except Exception as error:  # noqa: BLE001
            raise InputError(prefix, f"{name}: {first_line(error)}") from None

    return names, read
