"""Sequence classification and regression (GLUE, TNEWS): one label per record.

Pooled [CLS] -> linear (`heads.BertForSequenceClassification`); float labels make a
one-output regression head (STS-B). Prediction writes `predictions.tsv`
(`index<TAB>prediction`, GLUE's submission layout), one row per record in file order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bertkit.evaluate.benchmarks import GLUE_SCORED_TASKS
from bertkit.evaluate.contract import GLUE_TSV, TNEWS_JSONL, EvalContract
from bertkit.fsutil import write_text_atomic
from bertkit.train.config import BertConfig
from bertkit.train.data import INPUT_FEATURES, RecordLayout, labels_from_data
from bertkit.train.heads import BertForSequenceClassification
from bertkit.train.prediction_files import (
    UNLABELLED_NOTE,
    PredictResult,
    eval_contract,
    gold_for,
    label_names,
    prep_manifest,
    write_eval_meta,
)
from bertkit.train.tasks.base import PredictionContext, Task, reject_crf


def build_head(config: BertConfig, num_labels: int | None, use_crf: bool
               ) -> BertForSequenceClassification:
    reject_crf(use_crf)
    return BertForSequenceClassification(config, int(num_labels))  # type: ignore[arg-type]


def write_classification_predictions(outputs: dict[str, list[Any]],
                                     context: PredictionContext) -> PredictResult:
    eval_file, output_dir = context.eval_file, context.output_dir
    logits = np.stack(outputs["logits"])
    if logits.shape[1] == 1:  # regression (STS-B): the score itself
        lines = [f"{value:.6f}" for value in logits[:, 0]]
    else:
        id2label = label_names(context.model, eval_file, context.id2label)
        lines = [id2label.get(int(i), str(int(i))) for i in logits.argmax(axis=1)]
    # GLUE-submission layout; ids are record numbers, i.e. the line order of prep's input.
    rows = [f"{index}\t{label}" for index, label in enumerate(lines)]
    path = write_text_atomic(output_dir / "predictions.tsv",
                             "index\tprediction\n" + "\n".join(rows) + "\n")
    files = [path]
    manifest = prep_manifest(eval_file)
    contract = eval_contract(eval_file, lambda manifest: _legacy_classification_contract(
        manifest, eval_file), manifest)
    if contract is None:
        return PredictResult("classification", output_dir, 0, files,
                             note="no prep manifest naming the task beside the eval file: "
                                  "predictions written, not scored")
    files.append(write_eval_meta(output_dir, contract, path.name))
    split_counts = (manifest.get("counts") or {}).get(eval_file.name.split(".")[0]) or {}
    if "labels" in split_counts and split_counts["labels"] is None:
        return PredictResult("classification", output_dir, 0, files, note=UNLABELLED_NOTE)
    return PredictResult("classification", output_dir, 0, files)


def _legacy_classification_contract(manifest: dict[str, Any], eval_file: Path
                                    ) -> EvalContract | None:
    """Before the eval block: TNEWS or GLUE by prep's command; None for anything else."""
    command = str(manifest.get("command", ""))
    options = manifest.get("options") or {}
    if "tnews" in command:
        return EvalContract("tnews", gold_for(manifest, eval_file), TNEWS_JSONL)
    if "glue" in command and options.get("task"):
        return EvalContract(f"glue-{options['task']}", gold_for(manifest, eval_file),
                            GLUE_TSV)
    return None


_LABELS = ("label_ids",)

TASK = Task(
    name="classification",
    train_layout=RecordLayout(INPUT_FEATURES + _LABELS, scalars=_LABELS),
    # Labels are read when present (a dev set); a test set has none.
    predict_layout=RecordLayout(INPUT_FEATURES, optional=_LABELS, scalars=_LABELS),
    build_head=build_head,
    resolve_labels=labels_from_data,
    hf_architecture="BertForSequenceClassification",
    hf_heads={"classifier.": "classifier."},
    write_predictions=write_classification_predictions,
    scorers=("tnews",) + tuple(f"glue-{name}" for name in GLUE_SCORED_TASKS),
)
