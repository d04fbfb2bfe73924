"""SQuAD-style extractive reading comprehension (SQuAD 1.1/2.0, CMRC 2018, DRCD).

A start and an end logit per token (`heads.BertForQuestionAnswering`, Google's span loss).
Prediction joins the logits back to prep's eval sidecar by ``unique_ids`` and writes
Google's `predictions.json`, `nbest_predictions.json` and, for SQuAD 2.0, `null_odds.json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bertkit.errors import InputError
from bertkit.evaluate.contract import SQUAD_JSON, EvalContract
from bertkit.train.config import BertConfig
from bertkit.train.data import INPUT_FEATURES, RecordLayout
from bertkit.train.heads import BertForQuestionAnswering
from bertkit.train.prediction_files import (
    UNLABELLED_NOTE,
    PredictResult,
    eval_contract,
    write_eval_meta,
)
from bertkit.train.squad_postprocess import (
    PostprocessOptions,
    SpanLogits,
    compute_predictions,
    write_predictions,
)
from bertkit.train.tasks.base import PredictionContext, Task, no_labels, reject_crf


def build_head(config: BertConfig, num_labels: int | None, use_crf: bool
               ) -> BertForQuestionAnswering:
    reject_crf(use_crf)
    return BertForQuestionAnswering(config)


def write_squad_predictions(outputs: dict[str, list[Any]], context: PredictionContext
                            ) -> PredictResult:
    from bertkit.prep.squad.sidecar import load_squad_eval_data

    eval_file, output_dir, options = context.eval_file, context.output_dir, context.options
    eval_data = load_squad_eval_data(eval_file.parent)
    results = {int(uid): SpanLogits(start.tolist(), end.tolist()) for uid, start, end in
               zip(outputs["unique_ids"], outputs["start_logits"], outputs["end_logits"])}
    missing = [f.unique_id for f in eval_data.features if f.unique_id not in results]
    if missing:
        raise InputError(eval_file, f"{len(missing)} features of the eval sidecar have no "
                                    f"record (first unique_id {missing[0]})")
    v2 = eval_data.version_2_with_negative
    predictions = compute_predictions(
        eval_data.examples, eval_data.features, results,
        PostprocessOptions(n_best_size=options.n_best_size,
                           max_answer_length=options.max_answer_length,
                           do_lower_case=eval_data.do_lower_case, version_2_with_negative=v2,
                           null_score_diff_threshold=options.null_score_diff_threshold))
    files = write_predictions(predictions, output_dir, v2)
    contract = eval_contract(eval_file, lambda manifest: EvalContract(
        _squad_metric(eval_data), str(Path(eval_data.input_path).resolve()), SQUAD_JSON))
    files.append(write_eval_meta(output_dir, contract, "predictions.json",
                                 na_prob_file="null_odds.json" if v2 else None))
    if not any(example.answers for example in eval_data.examples):
        return PredictResult("squad", output_dir, 0, files, note=UNLABELLED_NOTE)
    return PredictResult("squad", output_dir, 0, files)


def _squad_metric(eval_data: Any) -> str:
    """The rule before manifests carried an eval block: Chinese files prepared with
    character doc tokens (CMRC 2018, DRCD) are scored with the CMRC 2018 metric, as the
    CLUE benchmark scores both."""
    if eval_data.version_2_with_negative:
        return "squad2"
    chinese = any(example.context is not None for example in eval_data.examples[:1])
    return "cmrc" if chinese else "squad"


_SPANS = ("start_positions", "end_positions")

TASK = Task(
    name="squad",
    train_layout=RecordLayout(INPUT_FEATURES + _SPANS, scalars=_SPANS),
    predict_layout=RecordLayout(("unique_ids",) + INPUT_FEATURES, scalars=("unique_ids",)),
    build_head=build_head,
    resolve_labels=no_labels,
    hf_architecture="BertForQuestionAnswering",
    hf_heads={"qa_outputs.": "qa_outputs."},
    output_names=("start", "end"),  # QA's two outputs are not labels
    # Google's span loss is a softmax over all max-seq-length positions, padding included:
    # dropping padded columns would change the objective (and every loss).
    trims_training_batches=False,
    eval_file_names=("eval.tf_record", "dev.tf_record"),
    per_position_outputs=("start_logits", "end_logits"),
    write_predictions=write_squad_predictions,
    scorers=("squad", "squad2", "cmrc"),
)
