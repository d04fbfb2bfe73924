"""`bertkit predict`: run a trained model over an eval TFRecord, write predictions, score them.

The model's task (``bertkit.train.tasks``) says which file of a prep folder to read, which
columns, how to run the model, and writes the prediction files (squad: Google's
`predictions.json` and n-best; ner: CLUENER JSON lines or conlleval lines; classification:
GLUE's `predictions.tsv`) with `eval_meta.json` (what `bertkit eval` needs to score the file
again: the prep manifest's eval contract for this split, see `evaluate.contract`). Then,
when the scorer is available, `eval_results.json`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bertkit.console import info, make_progress, progress_enabled, warn
from bertkit.errors import InputError, UsageError
from bertkit.fsutil import write_json_atomic
from bertkit.train import data as train_data
from bertkit.train.options import check_output_dir
from bertkit.train.prediction_files import (
    EVAL_META_NAME,
    EVAL_RESULTS_NAME,
    PredictResult,
    recorded_contract,
)
from bertkit.train.run_setup import autocast_for
from bertkit.train.squad_postprocess import MAX_ANSWER_LENGTH, N_BEST_SIZE
from bertkit.train.tasks import find_task, get_task, no_prediction_step
from bertkit.train.tasks.base import PredictionContext

__all__ = ["EVAL_META_NAME", "EVAL_RESULTS_NAME", "PredictOptions", "PredictResult", "predict",
           "predict_with_model", "resolve_eval_file", "resolve_model_dir"]


@dataclass
class PredictOptions:
    model_dir: Path  # RUN_DIR or RUN_DIR/model
    eval_file: Path  # an eval TFRecord, or the prep directory holding it
    output_dir: Path | None = None  # default: RUN_DIR/eval
    batch_size: int = 32
    device: str = "auto"
    precision: str = "fp32"
    n_best_size: int = N_BEST_SIZE
    max_answer_length: int = MAX_ANSWER_LENGTH
    null_score_diff_threshold: float = 0.0
    score: bool = True
    quiet: bool = False
    # Batching only (the written files do not change): run records longest first, cut each
    # batch's padded tail (its kept length rounded up to pad_to_multiple_of).
    sort_by_length: bool = True
    trim_batches: bool = True
    pad_to_multiple_of: int = 1


def resolve_model_dir(path: Path) -> Path:
    path = Path(path)
    if (path / "model").is_dir():
        return path / "model"
    if path.is_dir():
        return path
    raise InputError(path, "not a model directory (expected RUN_DIR or RUN_DIR/model)")


def resolve_eval_file(path: Path, task: str) -> Path:
    spec = get_task(task)
    if spec.write_predictions is None:
        raise no_prediction_step(task)
    path = train_data.file_in_prep_dir(path, spec.eval_file_names)
    if not path.is_file():
        raise InputError(path, "eval file not found")
    return path


def predict(options: PredictOptions) -> PredictResult:
    """Load the saved model from ``options.model_dir`` and predict (single process)."""
    from bertkit.train.distributed import resolve_device_type
    from bertkit.train.export import load_model_dir

    if options.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    check_output_dir(options.output_dir)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Every rank would write the same files; `train --do-eval` predicts on rank 0 instead.
        raise UsageError("bertkit predict runs as one process; launch it without torchrun")
    device_type = resolve_device_type(options.device)
    model, _config, meta = load_model_dir(resolve_model_dir(options.model_dir))
    device = torch.device(device_type)
    model.to(device)
    labels = meta.get("id2label")
    id2label = dict(enumerate(labels)) if isinstance(labels, list) else labels
    return predict_with_model(model, options, device=device, id2label=id2label)


def predict_with_model(model: nn.Module, options: PredictOptions, *, device: torch.device,
                       id2label: dict[int, str] | None = None) -> PredictResult:
    """Predict with an in-memory model (used by `train --do-eval`).

    ``id2label`` names the head's outputs when the eval directory has no label2id.json.
    """
    task = getattr(model, "task", None)
    spec = find_task(task)
    writer = spec.write_predictions if spec is not None else None
    if spec is None or writer is None:
        raise UsageError(f"the model's task {task!r} is not one predict knows")
    eval_file = resolve_eval_file(options.eval_file, task)
    recorded_contract(eval_file, scorers=spec.scorers)  # checked before the model runs
    output_dir = Path(options.output_dir) if options.output_dir is not None \
        else resolve_model_dir(options.model_dir).parent / "eval"
    layout = spec.layout(training=False)
    dataset = train_data.TFRecordDataset(
        eval_file, layout, task=task,
        id_limits=train_data.id_limits_for(model.config))  # type: ignore[arg-type]
    dataset.check_ids(limit=train_data.IDS_CHECKED_UPFRONT)
    max_positions = model.config.max_position_embeddings  # type: ignore[union-attr]
    if dataset.seq_length > max_positions:
        raise InputError(eval_file, f"sequence length {dataset.seq_length} is larger than the "
                                    f"model's max_position_embeddings {max_positions}")
    say = (lambda message: None) if options.quiet else info
    say(f"predicting {len(dataset)} records of {eval_file} ({task})")
    outputs = _run_model(model, dataset, options, device)

    output_dir.mkdir(parents=True, exist_ok=True)
    result = writer(
        outputs, PredictionContext(model=model, eval_file=eval_file, output_dir=output_dir,
                                   id2label=id2label, options=options))
    result.num_records = len(dataset)
    if options.score and result.scores is None and result.note is None:
        result.scores, result.note = _score_with_eval(output_dir)
    if result.scores is not None:
        result.files.append(write_json_atomic(output_dir / EVAL_RESULTS_NAME, result.scores))
    if result.note:
        warn(result.note)
    return result


def _run_model(model: nn.Module, dataset: train_data.TFRecordDataset, options: PredictOptions,
               device: torch.device) -> dict[str, list[Any]]:
    """Every record's model output, in file order, as numpy arrays.

    Records run in `prediction_order` (longest first unless options.sort_by_length is off)
    and are put back in file order here. Batches are trimmed to their longest record;
    per-position outputs (span logits) are padded back to the records' length, with the
    lowest float32 at every position past the record's own real length, so they do not
    depend on which records shared a batch.
    """
    task = get_task(dataset.task)
    order = train_data.prediction_order(dataset, by_length=options.sort_by_length)
    loader = train_data.prediction_loader(dataset, batch_size=options.batch_size,
                                          pin_memory=device.type == "cuda", order=order)
    lengths = dataset.lengths() if options.trim_batches else None
    collected: dict[str, list[Any]] = {}
    was_training = model.training
    model.eval()
    progress = make_progress(not options.quiet and progress_enabled(False))
    with progress, torch.no_grad():
        bar = progress.add_task("predicting", total=len(dataset))
        start = 0
        for batch in loader:
            indices = order[start:start + len(batch["input_ids"])]
            start += len(indices)
            inputs = {name: batch[name] for name in
                      ("input_ids", "attention_mask", "token_type_ids")}
            if options.trim_batches:
                inputs = train_data.trim_batch(inputs, multiple_of=options.pad_to_multiple_of)
            inputs = {name: tensor.to(device) for name, tensor in inputs.items()}
            with autocast_for(options.precision, device):
                out = task.model_outputs(model, inputs)
            if lengths is not None:
                out = {name: _pad_positions(value, lengths[indices], dataset.seq_length)
                       if name in task.per_position_outputs else value
                       for name, value in out.items()}
            for name, value in out.items():
                collected.setdefault(name, []).extend(zip(indices, value))
            for name in ("unique_ids", "labels", "attention_mask"):
                if name in batch:
                    collected.setdefault(name, []).extend(zip(indices, batch[name].numpy()))
            progress.update(bar, advance=len(indices))
    model.train(was_training)  # as the caller had it (train --do-eval, a benchmark's eval model)
    # Back to file order.
    return {name: [value for _, value in sorted(pairs, key=lambda pair: pair[0])]
            for name, pairs in collected.items()}


def _pad_positions(values: np.ndarray, lengths: np.ndarray, seq_length: int) -> np.ndarray:
    """[B, trimmed] per-position outputs -> [B, seq_length], the lowest float32 past each
    row's real length (padded positions of an untrimmed run carry no answer either)."""
    padded = np.full((len(values), seq_length), np.finfo(np.float32).min, dtype=values.dtype)
    for row, (value, length) in enumerate(zip(values, lengths)):
        padded[row, :length] = value[:length]
    return padded


def _score_with_eval(output_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Score through `bertkit eval`'s library entry point when it exists."""
    meta_path = output_dir / EVAL_META_NAME
    if not meta_path.is_file():
        return None, "predictions written, not scored (no eval_meta.json)"
    try:
        from bertkit.evaluate.api import evaluate
    except ImportError:
        return None, "predictions written; scoring skipped (bertkit.evaluate.api not available)"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("gold") is None:  # e.g. records renamed after prep: the manifest has no entry
        return None, ("predictions written, not scored: the prep manifest names no gold file "
                      f"for this split; score them with `bertkit eval "
                      f"{output_dir / meta['predictions']} --gold FILE`")
    scores = dict(evaluate(output_dir / meta["predictions"]))
    for key in ("missing_ids", "unknown_ids"):  # the counts stay; id lists can be long
        scores.pop(key, None)
    return scores, None
