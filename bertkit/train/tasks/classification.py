"""Sequence classification and regression (GLUE, TNEWS): one label per record.

Pooled [CLS] -> linear (`heads.BertForSequenceClassification`); float labels make a
one-output regression head (STS-B). Prediction writes `predictions.tsv`
(`index<TAB>prediction`, GLUE's submission layout), one row per record in file order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bertkit.errors import UsageError
from bertkit.evaluate.glue import GLUE_TASKS
from bertkit.fsutil import write_json_atomic, write_text_atomic
from bertkit.train.config import BertConfig
from bertkit.train.data import INPUT_FEATURES, RecordLayout, labels_from_data
from bertkit.train.heads import BertForSequenceClassification
from bertkit.train.prediction_files import (
    EVAL_META_NAME,
    UNLABELLED_NOTE,
    PredictResult,
    gold_for,
    label_names,
    prep_manifest,
)
from bertkit.train.tasks.base import PredictionContext, Task


def build_head(config: BertConfig, num_labels: int | None, use_crf: bool
               ) -> BertForSequenceClassification:
    if use_crf:
        raise UsageError("--use-crf applies to the ner task only")
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
    command = str(manifest.get("command", ""))
    options = manifest.get("options") or {}
    if "tnews" in command:
        task_name = "tnews"
    elif "glue" in command and options.get("task"):
        task_name = f"glue-{options['task']}"
    else:
        return PredictResult("classification", output_dir, 0, files,
                             note="no prep manifest naming the task beside the eval file: "
                                  "predictions written, not scored")
    meta = {"task": task_name, "gold": gold_for(manifest, eval_file), "predictions": path.name}
    files.append(write_json_atomic(output_dir / EVAL_META_NAME, meta))
    split_counts = (manifest.get("counts") or {}).get(eval_file.name.split(".")[0]) or {}
    if "labels" in split_counts and split_counts["labels"] is None:
        return PredictResult("classification", output_dir, 0, files, note=UNLABELLED_NOTE)
    return PredictResult("classification", output_dir, 0, files)


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
    scorers=("tnews",) + tuple(f"glue-{name}" for name in GLUE_TASKS),
)
