"""Pretraining (masked LM + next sentence) on `prep pretrain` shards: `--task pretrain`.

The head is `heads.BertForPreTraining` (transformers' names, Google's loss). What this task
adds to the common loop:

- **Data from many shards.** `--train-file` names a prep pretrain folder (its manifest lists
  the shards in order), shard files, glob patterns, or a comma list of those (Google's
  ``input_file`` takes comma lists and globs too). Every shard is a `TFRecordDataset` with
  random access through its index; `ShardedRecords` puts them end to end, so the
  DistributedSampler's one seeded permutation spans the whole corpus: the order is the same
  on any number of ranks, and a resumed run skips straight to the batch where it stopped.
- **Accuracies beside the loss.** Each step logs ``mlm_accuracy`` (weighted by
  ``masked_lm_weights``, as run_pretraining.py's eval) and ``nsp_accuracy``, from counts
  summed over the step's micro-batches and over ranks (`StepMetrics`).
- No prediction step: a pretrained model is fine-tuned (``--init-checkpoint RUN/model``) or
  exported (`transformers.BertForPreTraining`).
- **The output bias from the labels** (``--mlm-bias-init unigram``, from scratch). Google
  starts ``cls/predictions/output_bias`` at zero, so the first thing a new model learns is
  how frequent each token is, and with the decoder tied to the word embeddings it learns
  much of that in the embedding rows: every step's softmax pushes the row of each rare or
  absent token a little away from the hidden states, and Adam turns those small, same-signed
  gradients into full-size steps. On a corpus of a few MB the rows of the thousands of tokens
  seen rarely or never drift to one shared direction (mean cosine 0.6-0.7 after 3,500
  steps, measured on the Chinese chain), and a fine-tuned model can no longer tell them
  apart. Starting the bias at the log of each token's share of the masked-LM labels puts that
  knowledge where it belongs: the rows get no systematic push, and the loss starts at the
  unigram level.
"""

from __future__ import annotations

import bisect
import glob
import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from bertkit.errors import InputError
from bertkit.train.config import BertConfig
from bertkit.train.data import INPUT_FEATURES, RecordLayout, TFRecordDataset, file_fingerprint
from bertkit.train.heads import METRIC_SUMS, BertForPreTraining, accuracies
from bertkit.train.tasks.base import Task, no_labels, reject_crf

MANIFEST_NAME = "manifest.json"
SHARD_SUFFIX = ".tf_record"
MLM_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")
NSP_FEATURE = "next_sentence_labels"
PRETRAINING_LAYOUT = RecordLayout(INPUT_FEATURES + MLM_FEATURES + (NSP_FEATURE,),
                                  scalars=(NSP_FEATURE,))


def resolve_shards(spec: str | Path) -> list[Path]:
    """The shard files that ``spec`` names, in order, each once.

    A folder with prep's manifest gives its shards in manifest order (refused while the
    manifest says the run is incomplete); another folder gives its ``*.tf_record`` files
    sorted by name; a pattern with ``*?[`` its sorted matches; a file itself.
    """
    shards: list[Path] = []
    for part in (piece.strip() for piece in str(spec).split(",")):
        if not part:
            continue
        path = Path(part)
        if path.is_dir():
            found = _shards_of_folder(path)
        elif any(char in part for char in "*?["):
            found = sorted(Path(match) for match in glob.glob(part) if Path(match).is_file()
                           and not match.endswith((".index", ".json")))
            if not found:
                raise InputError(path, "the pattern matches no file")
        elif path.is_file():
            found = [path]
        else:
            raise InputError(path, "no such file or directory")
        shards.extend(found)
    if not shards:
        raise InputError(Path(str(spec)), "names no pretraining shard")
    unique: dict[Path, None] = {}
    for shard in shards:
        unique.setdefault(shard.resolve(), None)
    return list(unique)


def _shards_of_folder(folder: Path) -> list[Path]:
    from bertkit.prep.staging import check_no_interrupted_commit

    check_no_interrupted_commit(folder)
    manifest_path = folder / MANIFEST_NAME
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if manifest.get("complete") is False:
                raise InputError(manifest_path, "the prep run that wrote this folder did not "
                                                "finish (complete: false); rerun it with --resume")
            entries = manifest.get("shards")
            if isinstance(entries, list) and entries:
                shards = [folder / str(entry["file"]) for entry in entries]
                missing = [shard.name for shard in shards if not shard.is_file()]
                if missing:
                    raise InputError(manifest_path, f"lists {len(missing)} shard(s) that are "
                                                    f"not there: {', '.join(missing[:3])}")
                return shards
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InputError(manifest_path, f"not a prep manifest ({error})") from None
    shards = sorted(folder.glob(f"*{SHARD_SUFFIX}"))
    if not shards:
        raise InputError(folder, f"no {SHARD_SUFFIX} shards in this directory")
    return shards


class ShardedRecords(Dataset):
    """Shards end to end: record ``i`` of the corpus is record ``i - start`` of its shard.

    Every shard must have the same sequence and prediction lengths (a batch stacks them).
    Picklable, like each shard, for DataLoader workers.
    """

    def __init__(self, shards: list[Path], layout: RecordLayout = PRETRAINING_LAYOUT, *,
                 id_limits: Mapping[str, tuple[int, str]] | None = None):
        self.paths = list(shards)
        self.parts = [TFRecordDataset(path, layout, task="pretrain", id_limits=id_limits)
                      for path in self.paths]
        first = self.parts[0]
        self.seq_length = first.seq_length
        self.max_predictions = self._predictions(first)
        for part in self.parts[1:]:
            if part.seq_length != self.seq_length:
                raise InputError(part.path, f"records are {part.seq_length} tokens long but "
                                            f"{first.path.name}'s are {self.seq_length}; "
                                            "shards trained together must share "
                                            "--max-seq-length")
            if self._predictions(part) != self.max_predictions:
                raise InputError(part.path, f"records hold {self._predictions(part)} masked "
                                            f"positions but {first.path.name}'s hold "
                                            f"{self.max_predictions}; shards trained together "
                                            "must share --max-predictions-per-seq")
        # The masked positions index the sequence: one past it would gather out of range.
        positions = {"masked_lm_positions": (self.seq_length, "sequence length")}
        for part in self.parts:
            part.id_limits.update(positions)
        self.starts = np.cumsum([0] + [len(part) for part in self.parts]).tolist()
        self.path = self.paths[0]  # what messages about "the training file" name
        self._lengths: np.ndarray | None = None

    @staticmethod
    def _predictions(part: TFRecordDataset) -> int:
        return int(np.asarray(part.reader[0]["masked_lm_positions"]).shape[0])

    def __len__(self) -> int:
        return self.starts[-1]

    def locate(self, index: int) -> tuple[TFRecordDataset, int]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        shard = bisect.bisect_right(self.starts, index) - 1
        return self.parts[shard], index - self.starts[shard]

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        part, local = self.locate(index)
        return part[local]

    def lengths(self) -> np.ndarray:
        if self._lengths is None:
            self._lengths = np.concatenate([part.lengths() for part in self.parts])
        return self._lengths

    def check_ids(self, limit: int | None = None) -> None:
        """The first ``limit`` records of every shard (all with None), before training."""
        for part in self.parts:
            part.check_ids(limit)

    def check_all_labels(self) -> None:
        """Pretraining labels are token ids, checked with the other ids as they are read."""


def shards_fingerprint(shards: list[Path]) -> dict[str, object]:
    """Sizes and one digest over every shard's fingerprint: `--resume` sees a changed,
    added, removed or reordered shard."""
    parts = [file_fingerprint(shard) for shard in shards]
    digest = hashlib.sha256(json.dumps(
        [[shard.name, part] for shard, part in zip(shards, parts)], sort_keys=True).encode())
    size = sum(shard.stat().st_size for shard in shards)
    return {"shards": len(shards), "size": size, "sha256": digest.hexdigest()}


def resolve_train_file(spec: str | Path) -> Path:
    """`--train-file` as the run records it: every part made absolute (a comma list stays a
    comma list, a folder or pattern stays itself), after checking it names shards."""
    resolve_shards(spec)
    return Path(",".join(str(Path(part.strip()).absolute()) for part in str(spec).split(",")
                         if part.strip()))


def open_train_data(path: Path, layout: RecordLayout, *, task: str,
                    num_labels: int | None = None,
                    id_limits: Mapping[str, tuple[int, str]] | None = None) -> ShardedRecords:
    """The corpus' records; the masked-LM labels are checked against the vocabulary too."""
    limits = dict(id_limits or {})
    if "input_ids" in limits:
        limits["masked_lm_ids"] = limits["input_ids"]
    return ShardedRecords(resolve_shards(path), layout, id_limits=limits)


def train_file_fingerprint(path: Path) -> dict[str, object]:
    return shards_fingerprint(resolve_shards(path))


class StepMetrics:
    """The accuracy counts of one optimizer step: summed over its micro-batches on the
    device, then over ranks when the loop reads the step back."""

    def __init__(self) -> None:
        self.sums: torch.Tensor | None = None

    def add(self, outputs: Mapping[str, torch.Tensor]) -> None:
        values = torch.stack([outputs[name].detach().float() for name in METRIC_SUMS])
        self.sums = values if self.sums is None else self.sums + values

    def finish(self, world_size: int,
               mean_over_ranks: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, float]:
        """mlm_accuracy and nsp_accuracy from the counts of every rank (mean x size = sum);
        the one read back from the device, done when the loop reads the step's loss."""
        assert self.sums is not None, "no micro-batch was added"
        total = mean_over_ranks(self.sums) * world_size
        return accuracies(dict(zip(METRIC_SUMS, total.tolist())))


# --mlm-bias-init unigram counts the labels of the corpus' first this many records (in shard
# order): a stable share for every token that matters, and a bounded scan at corpus scale.
# They are read this many at a time, so a large shard is never decoded whole. A token never
# seen gets a fraction of one count, so its logit starts low but finite.
UNIGRAM_RECORD_LIMIT = 1_000_000
UNIGRAM_READ_CHUNK = 65_536
UNIGRAM_PSEUDO_COUNT = 0.1
OUTPUT_BIAS = "cls.predictions.bias"
LABEL_COLUMNS = ("masked_lm_ids", "masked_lm_weights")


def masked_lm_label_counts(dataset: ShardedRecords, vocab_size: int, *,
                           record_limit: int = UNIGRAM_RECORD_LIMIT) -> tuple[np.ndarray, int]:
    """How often each token id is a masked-LM label (weighted by ``masked_lm_weights``, so
    padding slots count nothing) in the first ``record_limit`` records; and how many records
    that was."""
    counts = np.zeros(vocab_size, dtype=np.float64)
    records = 0
    for part in dataset.parts:
        stop = min(len(part), record_limit - records)
        for begin in range(0, max(stop, 0), UNIGRAM_READ_CHUNK):
            end = min(stop, begin + UNIGRAM_READ_CHUNK)
            columns = part.reader.read_columns(LABEL_COLUMNS, begin, end)
            if not all(isinstance(columns[name], np.ndarray) for name in LABEL_COLUMNS):
                raise InputError(part.path, f"records {begin}-{end - 1} do not all hold "
                                            "the same number of masked positions")
            ids, weights = columns["masked_lm_ids"], columns["masked_lm_weights"]
            labelled = weights != 0
            if labelled.any():
                low, high = int(ids[labelled].min()), int(ids[labelled].max())
                if low < 0 or high >= vocab_size:
                    raise InputError(part.path, f"masked_lm_ids holds "
                                                f"{low if low < 0 else high}, outside the "
                                                f"model's vocabulary of {vocab_size}")
                counts += np.bincount(ids[labelled], weights=weights[labelled],
                                      minlength=vocab_size)
        records += max(stop, 0)
        if records >= record_limit:
            break
    return counts, records


def unigram_log_shares(counts: np.ndarray,
                       pseudo_count: float = UNIGRAM_PSEUDO_COUNT) -> np.ndarray:
    """log of each token's share of the labels, with ``pseudo_count`` added to every count."""
    smoothed = counts + pseudo_count
    return np.log(smoothed / smoothed.sum())


def init_output_bias(model: BertForPreTraining, dataset: ShardedRecords,
                     report: object | None) -> str:
    """Set the masked-LM output bias to the labels' unigram log shares, unless the
    checkpoint the run starts from supplied it (continued pretraining keeps its own)."""
    if report is not None and OUTPUT_BIAS not in getattr(report, "missing", ()):
        return f"kept {OUTPUT_BIAS} from the checkpoint (--mlm-bias-init unigram sets a new one only)"
    bias = model.cls.predictions.bias
    counts, records = masked_lm_label_counts(dataset, bias.shape[0])
    if counts.sum() == 0:
        raise InputError(dataset.path, "no masked-LM label has a nonzero weight; "
                                       "--mlm-bias-init unigram has nothing to count")
    with torch.no_grad():
        bias.copy_(torch.from_numpy(unigram_log_shares(counts)).to(bias.dtype))
    return (f"initialised {OUTPUT_BIAS} from {int(counts.sum()):,} masked-LM labels of "
            f"{records:,} records ({int((counts > 0).sum()):,} distinct tokens)")


def build_head(config: BertConfig, num_labels: int | None, use_crf: bool) -> BertForPreTraining:
    reject_crf(use_crf)
    return BertForPreTraining(config)


TASK = Task(
    name="pretrain",
    train_layout=PRETRAINING_LAYOUT,
    predict_layout=None,
    build_head=build_head,
    resolve_labels=no_labels,
    hf_architecture="BertForPreTraining",
    hf_heads={"cls.": "cls."},
    # The next-sentence classes (Google's label 1 is a random next sentence).
    output_names=("is_next", "random_next"),
    resolve_train_file=resolve_train_file,
    open_train_data=open_train_data,
    train_file_fingerprint=train_file_fingerprint,
    step_metrics=StepMetrics,
    init_output_bias=init_output_bias,
)
