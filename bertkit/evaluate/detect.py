"""Which scorer fits a pair of files, and the ``eval_meta.json`` left by ``bertkit predict``.

Files bertkit wrote carry their scorer in ``eval_meta.json`` (the eval contract, see
``contract.py``); detection is for the others. It looks only at the first bytes/records of
each file. When a gold file is known
it decides the task, and the predictions must fit that task: a file that does not is an
``InputError`` naming both files, never a silent score of 0 under another task. Only
without a gold file do the predictions decide (conlleval's three-column tag layout).
Every decision comes with the rule that made it, which ``eval --verbose`` prints.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertkit.errors import InputError, UsageError
from bertkit.evaluate.benchmarks import GLUE_SCORED_TASKS
from bertkit.evaluate.glue import glue_task_name

TASKS = ("squad", "squad2", "cmrc", "cluener", "conll", "tnews") + tuple(
    f"glue-{t}" for t in GLUE_SCORED_TASKS)
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
    task: str | None  # the contract's scorer
    gold: Path | None
    predictions: Path
    na_prob_file: Path | None
    gold_format: str | None = None  # absent in eval_meta.json files of older bertkits


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
    for key in ("task", "gold", "predictions", "na_prob_file", "format"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise InputError(meta_path, f'"{key}" must be a string, not '
                                        f"{type(meta[key]).__name__}")
    if meta.get("task"):
        try:
            canonical_task(meta["task"])
        except UsageError:
            raise InputError(meta_path, f'"task" {meta["task"]!r} is not a bertkit eval task, '
                                        f"{_ASK.removeprefix('pass --task ')}") from None
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
        gold_format=meta.get("format"),
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


_TAG = re.compile(r"^(O|[BIESMLU]([-_]\S+)?)$")
_ID_HEADERS = ("index", "id", "idx")
_SNIFFED_LINES = 200  # text lines looked at to classify a tag or TSV file


def is_tag(text: str) -> bool:
    """``O``, ``B-PER``, ``I_LOC``, ``S``...: what the last column of a tag file holds."""
    return _TAG.match(text) is not None


def _text_rows(head: str) -> list[str]:
    rows = []
    for line in head.splitlines()[:_SNIFFED_LINES]:
        if line.strip() and line.split()[0] not in ("-DOCSTART-", "-X-"):
            rows.append(line)
    return rows


def _whole_json(head: str, path: Path) -> tuple[bool, Any]:
    """(True, value) when the file is one complete JSON document read within the head."""
    if len(head) >= 65536 and path.stat().st_size > len(head.encode("utf-8", "replace")):
        return False, None
    try:
        return True, json.loads(head)
    except json.JSONDecodeError:
        return False, None


@dataclass(frozen=True)
class Kind:
    """What a predictions file looks like: a format name and words for messages."""

    name: str  # answers | cluener | labels | tags | other
    described: str


_KIND_WORDS = {
    "answers": "a JSON object (question id -> answer text)",
    "cluener": "CLUENER JSON lines ({\"label\": {type: {entity: spans}}})",
    "labels": "label predictions ({\"id\", \"label\"} JSON lines or an id<TAB>label TSV)",
    "tags": "tag lines (CoNLL columns, the tag last)",
}


def _json_type(value: Any) -> str:
    names = {list: "a JSON list", str: "a JSON string", bool: "a JSON boolean",
             int: "a JSON number", float: "a JSON number", type(None): "JSON null"}
    return names.get(type(value), "JSON")


def predictions_kind(path: Path) -> Kind:
    """Classify a predictions file by its first records (see ``Kind``)."""
    head = _head(path)
    stripped = head.lstrip()
    if not stripped:
        return Kind("other", "an empty file")
    if stripped.startswith("{"):
        record = _first_record(head)
        if isinstance(record, dict) and isinstance(record.get("label"), dict):
            return Kind("cluener", _KIND_WORDS["cluener"])
        if isinstance(record, dict) and "label" in record and ("id" in record or "idx" in record):
            return Kind("labels", _KIND_WORDS["labels"])
        return Kind("answers", _KIND_WORDS["answers"])  # a (possibly pretty-printed) object
    whole, value = _whole_json(head, path)
    if whole:
        return Kind("other", _json_type(value))
    rows = _text_rows(head)
    if _looks_like_tags(rows):
        return Kind("tags", _KIND_WORDS["tags"])
    if rows and all(len(row.split("\t")) == 2 for row in rows):
        return Kind("labels", _KIND_WORDS["labels"])
    return Kind("other", "text in no known predictions format")


# How much of a gold file (in characters, so at most this many bytes) the layout rules look at.
_GOLD_HEAD_BYTES = 1 << 20


def _gold_kind(path: Path) -> tuple[str, str]:
    """(squad | squad2 | cmrc | cluener | tnews | glue-<task> | conll | unknown, the rule)."""
    if path.is_dir():
        task = glue_task_name(path.name)
        if task:
            return f"glue-{task}", f"gold folder named {path.name} (GLUE)"
        return "unknown", "a folder not named after a GLUE task"
    head = _head(path, _GOLD_HEAD_BYTES)
    stripped = head.lstrip()
    tsv = path.suffix.lower() == ".tsv"
    tags = not tsv and _is_tag_file(head)  # tab-separated CoNLL is not a GLUE TSV
    if tsv or (not stripped.startswith("{") and "\t" in head and not tags):
        task = glue_task_name(path.parent.name)
        if task:
            return f"glue-{task}", f"gold TSV in a folder named {path.parent.name} (GLUE)"
        return "unknown", "a TSV outside a folder named after a GLUE task"
    record = _first_record(head)
    if isinstance(record, dict) and "text" in record and "label" in record:
        return "cluener", "gold JSON lines with \"text\" and \"label\" (CLUENER)"
    if isinstance(record, dict) and "sentence" in record and "label" in record:
        return "tnews", "gold JSON lines with \"sentence\" and \"label\" (TNEWS)"
    if stripped.startswith("{") and ('"data"' in head or '"paragraphs"' in head):
        # The rest of the file only when the head was not all of it (SQuAD v1.1 dev is 4.6 MB).
        rest_unread = path.stat().st_size > _GOLD_HEAD_BYTES
        if '"is_impossible"' in head or (rest_unread and b'"is_impossible"' in path.read_bytes()):
            return "squad2", "gold SQuAD-layout JSON with \"is_impossible\" (SQuAD v2.0)"
        # CMRC files are SQuAD-layout too; their contexts are Chinese (possibly \u-escaped).
        sample = head[:20000]
        cjk = len(_CJK.findall(sample)) + len(_ESCAPED_CJK.findall(sample))
        if cjk > 100:
            return "cmrc", "gold SQuAD-layout JSON with Chinese contexts (CMRC 2018)"
        return "squad", "gold SQuAD-layout JSON without \"is_impossible\" (SQuAD v1.1)"
    if tags:
        return "conll", "gold tag lines, the last column a tag (CoNLL)"
    return "unknown", "no known gold layout"


def _looks_like_tags(rows: list[str]) -> bool:
    """Rows of one column count whose last column is mostly tags (``O`` dominates NER data;
    a model's odd label such as ``X`` here and there is allowed, prose is not)."""
    if not rows or len({len(row.split()) for row in rows}) != 1:
        return False
    return 2 * sum(1 for row in rows if is_tag(row.split()[-1])) >= len(rows)


def _is_tag_file(head: str) -> bool:
    return not head.lstrip().startswith(("{", "[")) and _looks_like_tags(_text_rows(head))


_FITS = {"squad": "answers", "squad2": "answers", "cmrc": "answers", "cluener": "cluener",
         "tnews": "labels", "conll": "tags"}


def needed_kind(task: str) -> str:
    return "labels" if task.startswith("glue-") else _FITS[task]


def check_fit(task: str, predictions: Path, gold: Path | None) -> None:
    """An ``InputError`` naming both files when the predictions cannot be ``task``'s."""
    if predictions.is_dir():
        return  # an MNLI submission folder: its files are read (and checked) one by one
    kind = predictions_kind(predictions)
    needed = needed_kind(task)
    if kind.name == needed:
        return
    against = f"the {task} gold file {gold}" if gold is not None else f"task {task}"
    raise InputError(predictions, f"{kind.described} does not fit {against}, which needs "
                                  f"{_KIND_WORDS[needed]}")


def detect_task(predictions: Path, gold: Path | None) -> tuple[str, str]:
    """(task, the rule that decided it). The gold file decides when there is one; the caller
    then checks that the predictions fit (``check_fit``)."""
    if gold is not None:  # the gold file decides; the predictions are only checked against it
        task, rule = _gold_kind(gold)
        if task == "unknown":
            raise UsageError(f"cannot tell the task from the gold file {gold} ({rule}); {_ASK}")
        return task, f"from the gold file: {rule}"
    if predictions.is_dir():  # a GLUE submission folder (MNLI-m.tsv, MNLI-mm.tsv)
        raise UsageError(f"{predictions} is a folder without {META_NAME}; name a predictions "
                         f"file, or pass a GLUE task folder as --gold")
    if predictions_kind(predictions).name == "tags":
        return "conll", "no gold file; predictions are tag lines (conlleval layout)"
    raise UsageError(f"cannot tell the task from {predictions} alone: pass --gold "
                     f"(and --task if needed)")
