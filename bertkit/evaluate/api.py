"""``evaluate()``: one call from file paths to a result dict, for the CLI and for Python.

The result holds the task, ``detection`` (the rule that chose it), the resolved paths, the
scorer's figures at the top level (official key names), ``missing_count``/``missing_ids``
(gold examples without a prediction, scored as wrong) and ``unknown_count``/``unknown_ids``
(prediction ids the gold file lacks, ignored), ``warnings`` (one line each) and, for NER,
``per_type`` rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertkit.errors import InputError, UsageError
from bertkit.evaluate import cluener, cmrc, conll, detect, glue, inputs, squad_v1, squad_v2

_SHOWN_IDS = 5  # ids quoted in a warning line; the full lists are in the result


@dataclass
class EvalRequest:
    predictions: Path
    gold: Path | None = None
    task: str | None = None
    na_prob_file: Path | None = None
    na_prob_thresh: float = 1.0
    mode: str = "default"
    scheme: str | None = None
    warnings: list[str] = field(default_factory=list)
    detection: str = ""


def _id_warning(what: str, ids: list[str], where: Path) -> str:
    shown = ", ".join(ids[:_SHOWN_IDS]) + (", ..." if len(ids) > _SHOWN_IDS else "")
    return f"{len(ids)} {what} ({where.name}): {shown}"


def _add_id_warnings(request: EvalRequest, result: dict[str, Any],
                     missing_what: str = "gold examples without a prediction, counted as wrong"
                     ) -> None:
    if result.get("missing_ids"):
        request.warnings.append(_id_warning(missing_what, result["missing_ids"], request.predictions))
    if result.get("unknown_ids"):
        request.warnings.append(_id_warning("prediction ids not in the gold file, ignored",
                                            result["unknown_ids"], request.predictions))


def _check_complete(request: EvalRequest, metrics: dict[str, Any]) -> None:
    """--strict: one line when any gold example lacks a prediction or any id is unknown."""
    missing, unknown = metrics.get("missing_count", 0), metrics.get("unknown_count", 0)
    if not missing and not unknown:
        return
    parts = []
    if missing:
        parts.append(f"{missing} gold example(s) of {request.gold} without a prediction "
                     f"(first {metrics['missing_ids'][0]!r})")
    if unknown:
        parts.append(f"{unknown} prediction id(s) not in {request.gold} "
                     f"(first {metrics['unknown_ids'][0]!r})")
    raise InputError(request.predictions, "; ".join(parts) + " (--strict)")


def _require_gold(request: EvalRequest) -> Path:
    if request.gold is None:
        raise UsageError(f"task {request.task} needs --gold")
    return request.gold


def _run_answers(request: EvalRequest) -> dict[str, Any]:
    """SQuAD v1.1 and CMRC 2018: a SQuAD-layout gold file, one answer text per question."""
    gold = inputs.load_squad_gold(_require_gold(request))
    predictions = inputs.load_answer_predictions(request.predictions)
    questions = squad_v1.iter_gold_questions(gold["data"])
    if request.task == "cmrc":
        result = cmrc.score_cmrc(questions, predictions)
        total = result["TOTAL"]
    else:
        version = str(gold.get("version", ""))
        if version not in ("1.1", "v1.1"):
            request.warnings.append(f"gold dataset version is {version!r}, expected 1.1")
        result = squad_v1.score_squad_v1(questions, predictions).as_dict()
        total = result["total"]
    inputs.require_some_match(result["missing_count"], total, request.predictions, request.gold)
    _add_id_warnings(request, result, "questions unanswered, scored 0")
    return result


def _run_squad2(request: EvalRequest) -> dict[str, Any]:
    gold_path = _require_gold(request)
    gold = inputs.load_squad_gold(gold_path)
    predictions = inputs.load_answer_predictions(request.predictions)
    questions = list(squad_v1.iter_gold_questions(gold["data"]))
    na_probs = None
    if request.na_prob_file is not None:
        na_probs = inputs.load_na_probs(request.na_prob_file)
        gold_ids = {q.qid for q in questions}
        absent = [qid for qid in predictions if qid in gold_ids and qid not in na_probs]
        if absent:
            raise InputError(request.na_prob_file,
                             f"no na-prob for {len(absent)} predicted question(s), first "
                             f"{absent[0]!r}")
    try:
        result = squad_v2.score_squad_v2(questions, predictions, na_probs, request.na_prob_thresh)
    except ValueError as error:
        raise InputError(request.predictions, str(error)) from None
    _add_id_warnings(request, result, "questions unanswered, scored 0")
    return result


def _run_cluener(request: EvalRequest) -> dict[str, Any]:
    gold_path = _require_gold(request)
    gold, gold_ids = inputs.load_cluener_lines(gold_path, require_label=True)
    predicted, predicted_ids = inputs.load_cluener_lines(request.predictions)
    if predicted_ids is None and len(gold) != len(predicted):
        # Without ids, lines pair by position: a line missing in the middle would shift every
        # later one, so which lines lack a prediction cannot be told.
        raise InputError(request.predictions,
                         f"{len(predicted)} records without \"id\"s but the gold file {gold_path} "
                         f"has {len(gold)}; lines pair by position, so the counts must agree")
    gold_keys = gold_ids or [str(i) for i in range(len(gold))]
    predicted_by_key = dict(zip(predicted_ids or [str(i) for i in range(len(predicted))],
                                predicted))
    missing = [key for key in gold_keys if key not in predicted_by_key]
    inputs.require_some_match(len(missing), len(gold_keys), request.predictions, gold_path)
    known = set(gold_keys)
    unknown = [key for key in predicted_by_key if key not in known]
    # A line without a prediction predicts no entity: its gold entities are all missed.
    result = cluener.score_cluener([predicted_by_key.get(key, {}) for key in gold_keys], gold)
    result.update(missing_count=len(missing), missing_ids=missing,
                  unknown_count=len(unknown), unknown_ids=unknown)
    _add_id_warnings(request, result, "gold lines without a prediction, counted as wrong")
    if result["ignored_types"]:
        request.warnings.append(f"entity types outside the 10 CLUENER types are not scored: "
                                f"{', '.join(result['ignored_types'])}")
    return result


def _pair_tag_files(request: EvalRequest) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted tag sequences; conlleval's last-two-columns layout without --gold."""
    predicted_sentences, width = inputs.read_tag_file(request.predictions)
    if request.gold is None:
        if width < 3:
            raise InputError(request.predictions,
                             f"{width} column(s): pass --gold, or give token, gold and "
                             "predicted tag columns (conlleval layout)", 1)
        return ([s.column(-2) for s in predicted_sentences],
                [s.column(-1) for s in predicted_sentences])
    gold_sentences, _ = inputs.read_tag_file(request.gold)
    if len(gold_sentences) != len(predicted_sentences):
        raise InputError(request.predictions,
                         f"{len(predicted_sentences)} sentences but the gold file "
                         f"{request.gold} has {len(gold_sentences)}; sentences pair by "
                         "position, so the counts must agree")
    for index, (g, p) in enumerate(zip(gold_sentences, predicted_sentences), start=1):
        if len(g.rows) != len(p.rows):
            raise InputError(request.predictions,
                             f"sentence {index} has {len(p.rows)} tokens but the gold sentence "
                             f"(line {g.first_line} of {request.gold.name}) has {len(g.rows)}",
                             p.first_line)
        gold_tokens, predicted_tokens = g.tokens(), p.tokens()
        if gold_tokens is not None and predicted_tokens is not None:
            for token_g, token_p, line in zip(gold_tokens, predicted_tokens, p.lines):
                if token_g != token_p:
                    raise InputError(request.predictions,
                                     f"token {token_p!r} differs from the gold token "
                                     f"{token_g!r} (sentence {index})", line)
    return [s.column(-1) for s in gold_sentences], [s.column(-1) for s in predicted_sentences]


def _run_conll(request: EvalRequest) -> dict[str, Any]:
    gold, predicted = _pair_tag_files(request)
    scheme = request.scheme.upper() if request.scheme else None
    try:
        result = conll.score_tag_sequences(gold, predicted, strict=request.mode == "strict",
                                           scheme=scheme)
    except ValueError as error:
        raise InputError(request.predictions, str(error)) from None
    # Sentences have no ids and pair by position; a count mismatch is an error above, so
    # nothing can be missing or unknown here. The keys are kept for every task alike.
    result.update(missing_count=0, missing_ids=[], unknown_count=0, unknown_ids=[])
    return result


def _glue_files(request: EvalRequest, task: str) -> list[tuple[str, Path, Path]]:
    """(split name, predictions file, gold file) for each split to score."""
    gold = _require_gold(request)
    if task != "mnli":
        return [("dev", request.predictions, gold / "dev.tsv" if gold.is_dir() else gold)]
    if gold.is_dir() != request.predictions.is_dir():
        raise UsageError("for MNLI pass both as directories (MNLI-m.tsv/MNLI-mm.tsv beside "
                         "dev_matched.tsv/dev_mismatched.tsv) or both as files")
    if gold.is_dir():
        return [("matched", request.predictions / "MNLI-m.tsv", gold / "dev_matched.tsv"),
                ("mismatched", request.predictions / "MNLI-mm.tsv", gold / "dev_mismatched.tsv")]
    split = "mismatched" if "mismatched" in gold.name else "matched"
    return [(split, request.predictions, gold)]


def _run_labels(request: EvalRequest) -> dict[str, Any]:
    task = str(request.task)
    key = task.removeprefix("glue-")
    splits: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    unknown: list[str] = []
    files = ([("dev", request.predictions, _require_gold(request))] if task == "tnews"
             else _glue_files(request, key))
    for split, predictions_path, gold_path in files:
        gold = (glue.load_tnews_gold(gold_path) if task == "tnews"
                else glue.load_glue_gold(gold_path, key))
        predictions, _ = inputs.load_label_predictions(predictions_path)
        paired = glue.pair_labels(gold.labels, predictions, predictions_path, gold_path)
        splits[split] = glue.label_metrics(key, paired, predictions_path, gold_path)
        missing += paired.missing_ids
        unknown += paired.unknown_ids
    result: dict[str, Any]
    if key == "mnli":
        result = {f"accuracy_{name}": metrics["accuracy"] for name, metrics in splits.items()}
        result["splits"] = splits
    else:
        result = dict(splits["dev"])
    result.update(missing_count=len(missing), missing_ids=missing,
                  unknown_count=len(unknown), unknown_ids=unknown)
    _add_id_warnings(request, result)
    return result


_RUNNERS: dict[str, Callable[[EvalRequest], dict[str, Any]]] = {
    "squad": _run_answers, "squad2": _run_squad2, "cmrc": _run_answers,
    "cluener": _run_cluener, "conll": _run_conll,
}


def _resolve(request: EvalRequest) -> EvalRequest:
    """Fill gold/task/na-prob file from ``eval_meta.json`` and detection, explicit options win.

    ``request.detection`` records the rule that chose the task (``eval --verbose`` shows it).
    """
    meta = detect.read_run_meta(request.predictions)
    task_source = "--task"
    gold_source = "--gold"  # where the gold path came from, for the detection note
    if meta is not None:
        request.predictions = meta.predictions
        # A --gold naming another file than the contract's decides the task itself.
        contract_holds = request.gold is None or (
            meta.gold is not None and _same_file(request.gold, meta.gold))
        if request.gold is None and meta.gold is not None:
            request.gold, gold_source = meta.gold, "eval_meta.json"
        if request.task is None and meta.task and contract_holds:
            request.task = meta.task
            task_source = (f"eval_meta.json (the prep manifest's eval contract, gold format "
                           f"{meta.gold_format})" if meta.gold_format else "eval_meta.json")
    if request.task is not None:
        request.task = detect.canonical_task(request.task)
        request.detection = f"task from {task_source}"
    else:
        request.task, request.detection = detect.detect_task(request.predictions, request.gold)
        if gold_source != "--gold":
            request.detection += f" (gold named by {gold_source})"
    if meta is not None and request.na_prob_file is None and request.task == "squad2":
        request.na_prob_file = meta.na_prob_file
    return request


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve() or first.samefile(second)
    except OSError:
        return False


def check_options(task: str | None, na_prob_file: Path | None, na_prob_thresh: float,
                  mode: str, scheme: str | None) -> None:
    """Contradicting options, found before any file is read."""
    if math.isnan(na_prob_thresh):
        raise UsageError("--na-prob-thresh must be a number")
    canonical = detect.canonical_task(task) if task else None
    if na_prob_file is not None and canonical not in (None, "squad2"):
        raise UsageError("--na-prob-file only applies to --task squad2")
    if mode not in ("default", "strict"):
        raise UsageError(f"--mode must be default or strict, not {mode!r}")
    if (mode == "strict" or scheme) and canonical not in (None, "conll"):
        raise UsageError("--mode/--scheme only apply to --task conll")
    if scheme is not None and mode != "strict":
        raise UsageError("--scheme applies only with --mode strict")
    if scheme is not None and scheme.upper() not in conll.SCHEMES:
        raise UsageError(f"--scheme must be one of {', '.join(conll.SCHEMES)}")


def evaluate(
    predictions: str | Path,
    gold: str | Path | None = None,
    task: str | None = None,
    *,
    na_prob_file: str | Path | None = None,
    na_prob_thresh: float = 1.0,
    strict: bool = False,
    mode: str = "default",
    scheme: str | None = None,
) -> dict[str, Any]:
    """Score ``predictions`` against ``gold`` and return the result dict (see module doc).

    A gold example without a prediction counts as wrong (``missing_count``); prediction ids
    that are not in the gold file are ignored (``unknown_count``). ``strict`` turns either
    into an ``InputError``. ``mode``/``scheme`` are conll's entity rules (seqeval's modes).
    """
    check_options(task, Path(na_prob_file) if na_prob_file else None, na_prob_thresh, mode,
                  scheme)
    request = _resolve(EvalRequest(
        predictions=Path(predictions), gold=Path(gold) if gold is not None else None, task=task,
        na_prob_file=Path(na_prob_file) if na_prob_file is not None else None,
        na_prob_thresh=na_prob_thresh, mode=mode, scheme=scheme))
    # Re-checked after detection: the task may only be known now.
    if request.na_prob_file is not None and request.task != "squad2":
        raise UsageError(f"--na-prob-file only applies to squad2, not {request.task}")
    if (mode == "strict" or scheme) and request.task != "conll":
        raise UsageError(f"--mode/--scheme only apply to conll, not {request.task}")
    if request.gold is not None:  # after the option checks: those are exit 2, this exit 1
        detect.check_fit(str(request.task), request.predictions, request.gold)
    runner = _RUNNERS.get(str(request.task), _run_labels)
    metrics = runner(request)
    if strict:
        _check_complete(request, metrics)
    result: dict[str, Any] = {
        "task": request.task,
        "detection": request.detection,
        "predictions": str(request.predictions),
        "gold": str(request.gold) if request.gold is not None else None,
    }
    if request.na_prob_file is not None:
        result["na_prob_file"] = str(request.na_prob_file)
        result["na_prob_thresh"] = request.na_prob_thresh
    result.update(metrics)
    result["warnings"] = request.warnings
    return result
