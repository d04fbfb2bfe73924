"""What a task declares: the one shape every `--task` takes.

The task-independent code -- data loading, the trainer, predict, the run-dir model format and
export -- never asks which task it runs; it reads these fields. A field with a default is one
most tasks share; a task sets it only where it differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bertkit.errors import UsageError
from bertkit.train.data import (
    RecordLayout,
    TFRecordDataset,
    file_fingerprint,
    resolve_train_file,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from bertkit.train.config import BertConfig
    from bertkit.train.prediction_files import PredictResult

# (config, num_labels, use_crf) -> the model; num_labels is None for tasks without labels.
HeadBuilder = Callable[["BertConfig", "int | None", bool], "nn.Module"]
# (train_file, a dataset over it) -> (num_labels, id2label); (None, None) for no labels.
LabelResolver = Callable[[Path, "TFRecordDataset"], "tuple[int | None, dict[int, str] | None]"]
# (model, the batch's input tensors) -> this batch's outputs, one entry per record.
OutputsFn = Callable[["nn.Module", "dict[str, torch.Tensor]"], "dict[str, Any]"]


class TrainDataOpener(Protocol):
    """(the resolved --train-file, the task's layout, ...) -> the dataset the trainer samples:
    ``len``, ``__getitem__`` (arrays under model argument names), ``seq_length``,
    ``lengths()``, ``check_ids(limit)`` and ``check_all_labels()``, like TFRecordDataset."""

    def __call__(self, path: Path, layout: RecordLayout, *, task: str,
                 num_labels: int | None = None,
                 id_limits: Mapping[str, tuple[int, str]] | None = None) -> Any: ...


class StepMetrics(Protocol):
    """Figures of one optimizer step besides the loss (pretraining's masked-LM and
    next-sentence accuracies): fed every micro-batch's model outputs, then finished over
    the ranks into the step's log.jsonl record."""

    def add(self, outputs: Mapping[str, torch.Tensor]) -> None: ...

    def finish(self, world_size: int,
               mean_over_ranks: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, float]: ...


@dataclass(frozen=True)
class PredictionContext:
    """Everything a prediction writer may read besides the model's outputs."""

    model: Any  # nn.Module; Any so that test doubles with the same attributes pass
    eval_file: Path
    output_dir: Path
    id2label: dict[int, str] | None  # the head's label names saved with the model
    options: Any  # PredictOptions (n_best_size, max_answer_length, ...)


PredictionWriter = Callable[[dict[str, list[Any]], PredictionContext], "PredictResult"]


def no_labels(train_file: Path, probe: TFRecordDataset) -> tuple[None, None]:
    """Label resolution of a task whose head has no label set (span heads, pretraining)."""
    return None, None


def reject_crf(use_crf: bool) -> None:
    """Only tag heads have a CRF: ``--use-crf`` is an error for every other task's head."""
    if use_crf:
        raise UsageError("--use-crf applies to the ner task only")


def forward_outputs(model: nn.Module, inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Predict's default forward: every output of the model, as float32 numpy arrays."""
    return {name: value.float().cpu().numpy() for name, value in model(**inputs).items()}


@dataclass(frozen=True)
class Task:
    """One `--task`. Build one in ``bertkit/train/tasks/<name>.py`` as ``TASK``."""

    name: str
    # Record columns (Google's feature names) read for training and for prediction.
    train_layout: RecordLayout
    predict_layout: RecordLayout | None
    # The model: a head of heads.py whose forward returns {"loss": ...} when given labels.
    build_head: HeadBuilder
    # The head's size and label names, from what prep wrote beside the records.
    resolve_labels: LabelResolver
    # transformers' class for this head (config.json "architectures"), and the prefixes of
    # the head's parameters in an HF state dict -> in ours (the same names for BertFor*).
    hf_architecture: str
    hf_heads: Mapping[str, str]
    # A head with fixed outputs instead of a label set (SQuAD's start and end): their names.
    output_names: tuple[str, ...] | None = None
    # Whether cutting a training batch's padded columns leaves the loss unchanged.
    trims_training_batches: bool = True
    # The training records: --train-file -> the path the run records (default: the file,
    # or train.tf_record in the prep folder given), the dataset over it, and the fingerprint
    # that `--resume` compares. A task whose records come in several shards swaps all three.
    resolve_train_file: Callable[[Path], Path] = resolve_train_file
    open_train_data: TrainDataOpener = TFRecordDataset
    train_file_fingerprint: Callable[[Path], dict[str, object]] = file_fingerprint
    # A fresh accumulator of per-step figures for log.jsonl besides the loss (None: none).
    step_metrics: Callable[[], StepMetrics] | None = None
    # `--mlm-bias-init unigram`: (model, training data, load report or None) -> what was set,
    # one line for the log. Only a task with a masked-LM head has one.
    init_output_bias: Callable[[Any, Any, Any], str] | None = None
    # Prediction: which file of a prep folder to read (first found), the forward to run, the
    # outputs with one value per position (padded back after trimming), and the writer of
    # the prediction files and eval_meta.json. A task without a writer has no predict step.
    eval_file_names: tuple[str, ...] = ("dev.tf_record", "eval.tf_record", "test.tf_record")
    model_outputs: OutputsFn = forward_outputs
    per_position_outputs: tuple[str, ...] = ()
    write_predictions: PredictionWriter | None = None
    # The `bertkit eval` scorers its predictions are scored with (the writer names one of
    # them in eval_meta.json, from what the data is).
    scorers: tuple[str, ...] = ()

    @property
    def needs_labels(self) -> bool:
        """Whether the head is sized by a label set (and ``num_labels`` is required): every
        task whose labels are resolved by anything but `no_labels`."""
        return self.resolve_labels is not no_labels

    def layout(self, training: bool) -> RecordLayout:
        if training:
            return self.train_layout
        if self.predict_layout is None:
            raise UsageError(f"the {self.name} task has no prediction step")
        return self.predict_layout
