"""Which scorer fits a pair of files, and the ``eval_meta.json`` left by ``bertkit predict``.

Detection looks only at the first bytes/records of each file, and answers only when a
single task fits; otherwise it raises a UsageError asking for ``--task``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertkit.errors import InputError, UsageError
from bertkit.evaluate.glue import glue_task_name

TASKS = ("squad", "squad2", "cmrc", "cluener", "conll", "tnews") + tuple(
    f"glue-{t}" for t in ("cola", "sst-2", "mrpc", "sts-b", "qqp", "mnli", "qnli", "rte", "wnli"))
META_NAME = "eval_meta.json"
_CJK = re.compile("[\u4e00-\u9fa5]")
_ESCAPED_CJK = re.compile(r"\\u(?:4[e-f]|[5-8][0-9a-f]|9[0-9a-f])[0-9a-f]{2}", re.IGNORECASE)
_ASK = "pass --task (one of: squad, squad2, cmrc, cluener, conll, glue-<task>, tnews)"


def canonical_task(task: str) -> str:
    key = task.strip().lower().replace("_", "-")
    if key in ("squad1", "squad-v1", "squad1.1", "squad-v1.1"):
        return "squad"
    if key in ("squad-v2", "squad2.0", "squad-v2.0", "squad2-0"):
        return "squad2"
    if key in TASKS:
        return key
    glue = glue_task_name(key)
    if glue is not None:
        return f"glue-{glue}"
    raise UsageError(f"unknown task {task!r}; {_ASK.removeprefix('pass --task ')}")


@dataclass
class RunMeta:
    task: str | None
    gold: Path | None
    predictions: Path
    na_prob_file: Path | None


def read_run_meta(predictions: Path) -> RunMeta | None:
    """``eval_meta.json`` beside the predictions (or inside a run directory), if it applies."""
    folder = predictions if predictions.is_dir() else predictions.parent
    meta_path = folder / META_NAME
    if not meta_path.is_file():
        return None
    try:
        meta: Any = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(meta_path, f"not valid JSON: {error.msg}",
                         f"{error.lineno}:{error.colno}") from None
    if not isinstance(meta, dict):
        raise InputError(meta_path, "expected an object")
    named = meta.get("predictions")
    if not predictions.is_dir() and named and Path(named).name != predictions.name:
        return None  # the metadata describes another file in this folder
    predictions_file = (folder / (named or "predictions.json") if predictions.is_dir()
                        else predictions)
    gold = meta.get("gold")
    na_prob = meta.get("na_prob_file")
    return RunMeta(
        task=meta.get("task"),
        gold=(folder / gold) if gold else None,  # an absolute gold path stays absolute
        predictions=predictions_file,
        na_prob_file=(folder / na_prob) if na_prob else None,
    )


def _head(path: Path, size: int = 65536) -> str:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            return handle.read(size)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory; name a file or pass --task") from None


def _first_record(text: str) -> Any:
    """The first JSON-lines record, or None (e.g. a one-line SQuAD file longer than the head)."""
    window = text[:65536]
    for line in window.splitlines(keepends=True):
        if not line.strip():
            continue
        if not line.endswith("\n") and len(window) == 65536:
            return None  # the line goes on past the window: not a JSON-lines record
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return None
    return None


def _predictions_kind(path: Path) -> str:
    """answers | cluener | labels | tags | unknown."""
    head = _head(path)
    stripped = head.lstrip()
    if stripped.startswith("{"):
        record = _first_record(head)
        if isinstance(record, dict) and isinstance(record.get("label"), dict):
            return "cluener"
        if isinstance(record, dict) and "label" in record and ("id" in record or "idx" in record):
            return "labels"
        return "answers"  # a (possibly pretty-printed) id -> text object
    first = stripped.splitlines()[0] if stripped else ""
    if first.split("\t")[0].strip().lower() in ("index", "id", "idx") and "\t" in first:
        return "labels"
    if first and 1 <= len(first.split()) <= 3:
        return "tags"
    return "unknown"


def _gold_kind(path: Path) -> str:
    """squad | squad2 | cmrc | cluener | tnews | glue-<task> | unknown."""
    if path.is_dir():
        task = glue_task_name(path.name)
        return f"glue-{task}" if task else "unknown"
    head = _head(path, 1 << 20)
    stripped = head.lstrip()
    if path.suffix.lower() == ".tsv" or (not stripped.startswith("{") and "\t" in head):
        task = glue_task_name(path.parent.name)
        return f"glue-{task}" if task else "unknown"
    record = _first_record(head)
    if isinstance(record, dict) and "text" in record and "label" in record:
        return "cluener"
    if isinstance(record, dict) and "sentence" in record and "label" in record:
        return "tnews"
    if '"data"' in head or '"paragraphs"' in head:
        if '"is_impossible"' in head or b'"is_impossible"' in path.read_bytes():
            return "squad2"
        # CMRC files are SQuAD-layout too; their contexts are Chinese (possibly \u-escaped).
        sample = head[:20000]
        cjk = len(_CJK.findall(sample)) + len(_ESCAPED_CJK.findall(sample))
        return "cmrc" if cjk > 100 else "squad"
    return "unknown"


def detect_task(predictions: Path, gold: Path | None) -> str:
    if predictions.is_dir():  # a GLUE submission folder (MNLI-m.tsv, MNLI-mm.tsv)
        gold_kind = _gold_kind(gold) if gold is not None else "unknown"
        if gold_kind.startswith("glue-"):
            return gold_kind
        raise UsageError(f"{predictions} is a folder without {META_NAME}; name a predictions "
                         f"file, or pass a GLUE task folder as --gold")
    kind = _predictions_kind(predictions)
    if kind == "tags":
        return "conll"
    if gold is None:
        raise UsageError(f"cannot tell the task from {predictions} alone: pass --gold "
                         f"(and --task if needed)")
    gold_kind = _gold_kind(gold)
    if kind == "answers" and gold_kind in ("squad", "squad2", "cmrc"):
        return gold_kind
    if kind == "cluener" and gold_kind == "cluener":
        return "cluener"
    if kind == "labels" and (gold_kind == "tnews" or gold_kind.startswith("glue-")):
        return gold_kind
    raise UsageError(f"cannot tell the task from {predictions.name} ({kind}) and {gold.name} "
                     f"({gold_kind}); {_ASK}")
