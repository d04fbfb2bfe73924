"""Loading prediction and gold files; every defect becomes a one-line ``InputError``.

Positions are reported the way an editor wants them: ``line:column`` for JSON syntax,
the line number for JSON lines and tag files, the question id for SQuAD values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertkit.errors import InputError


def read_text(path: str | Path) -> str:
    try:
        with open(path, encoding="utf-8-sig") as handle:  # -sig: MRPC's TSVs start with a BOM
            return handle.read()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a file") from None
    except UnicodeDecodeError as error:
        raise InputError(path, f"not UTF-8 text (byte {error.start})") from None


def _describe(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def require_some_match(missing: int, total: int, predictions: str | Path,
                       gold: str | Path | None) -> None:
    """No gold example predicted at all: the wrong file for this gold, not a score of 0."""
    if total and missing == total:
        raise InputError(predictions, f"no prediction id matches an id of {gold}")


def _shown_id(key: str) -> str:
    """An id as it can be quoted on one error line (a newline inside it is escaped)."""
    return key if key.isprintable() and key.strip() == key and key else repr(key)


def parse_json(path: str | Path, text: str | None = None) -> Any:
    text = read_text(path) if text is None else text
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON: {error.msg}",
                         f"{error.lineno}:{error.colno}") from None


def iter_json_lines(path: str | Path, text: str | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, object) for every non-blank line."""
    text = read_text(path) if text is None else text
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(path, f"not valid JSON lines: {error.msg}",
                             f"{number}:{error.colno}") from None


def load_json_lines(path: str | Path, text: str | None = None) -> list[tuple[int, Any]]:
    return list(iter_json_lines(path, text))


def iter_json_objects(path: str | Path, text: str | None = None
                      ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a line that is not an object is an
    error (CLUENER, TNEWS and label files are all one object a line)."""
    for number, record in iter_json_lines(path, text):
        if not isinstance(record, dict):
            raise InputError(path, f"line is {_describe(record)}, expected an object", number)
        yield number, record


# --- SQuAD-layout files ----------------------------------------------------------------

def _load_question_map(path: str | Path, holding: str,
                       problem_of: Callable[[Any], str | None]) -> dict[str, Any]:
    """A JSON object mapping question id to a value; ``problem_of`` names a bad value."""
    data = parse_json(path)
    if not isinstance(data, dict):
        raise InputError(path, f"expected an object mapping question id to {holding}, "
                               f"found {_describe(data)}")
    for qid, value in data.items():
        problem = problem_of(value)
        if problem is not None:
            raise InputError(path, problem, f"id {_shown_id(qid)}")
    return data


def _answer_problem(answer: Any) -> str | None:
    return None if isinstance(answer, str) else f"answer is {_describe(answer)}, expected a string"


def load_answer_predictions(path: str | Path) -> dict[str, str]:
    """A JSON object mapping question id to answer text (SQuAD / CMRC predictions)."""
    return _load_question_map(path, "answer text", _answer_problem)


def load_squad_gold(path: str | Path) -> dict[str, Any]:
    """A SQuAD-layout dataset: ``{"data": [{"paragraphs": [{"qas": [...]}]}]}``."""
    dataset = parse_json(path)
    if not isinstance(dataset, dict) or not isinstance(dataset.get("data"), list):
        raise InputError(path, "expected a SQuAD-layout object with a \"data\" list")
    for article_index, article in enumerate(dataset["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise InputError(path, "article has no \"paragraphs\" list", f"article {article_index}")
        for paragraph_index, paragraph in enumerate(paragraphs):
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            if not isinstance(qas, list):
                raise InputError(path, "paragraph has no \"qas\" list",
                                 f"article {article_index} paragraph {paragraph_index}")
            for qa in qas:
                if type(qa) is not dict or "id" not in qa:
                    raise InputError(path, "question without an \"id\"",
                                     f"article {article_index} paragraph {paragraph_index}")
                answers = qa.get("answers", ())
                if type(answers) is not list:
                    raise InputError(path, "\"answers\" must be a list", f"id {qa['id']}")
                for answer in answers:  # plain loops: this walk runs over every answer
                    if type(answer) is not dict or type(answer.get("text")) is not str:
                        raise InputError(path, "an answer lacks a \"text\" string",
                                         f"id {qa['id']}")
    return dataset


def _na_prob_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"na-prob is {_describe(value)}, expected a number"
    return "na-prob is NaN" if math.isnan(value) else None


def load_na_probs(path: str | Path) -> dict[str, float]:
    return _load_question_map(path, "a no-answer probability", _na_prob_problem)


# --- CLUENER ---------------------------------------------------------------------------

CluenerLabel = dict[str, dict[str, list[list[int]]]]


def load_cluener_lines(path: str | Path, require_label: bool = False
                       ) -> tuple[list[CluenerLabel], list[str] | None]:
    """The ``label`` object of every line, and the lines' ``id``s (None when none has one).

    A prediction line without ``label`` has no entities; a gold line must have one
    (``require_label``), which catches the unlabelled test split passed as gold. Ids are
    all or nothing: a file where only some lines have one is an error.
    """
    lines: list[CluenerLabel] = []
    ids: list[str] = []
    seen: set[str] = set()
    for number, record in iter_json_objects(path):
        if ("id" in record) != bool(ids) and lines:
            raise InputError(path, "some lines have an \"id\" and others not", number)
        if "id" in record:
            key = _id_text(record["id"])
            if key in seen:
                raise InputError(path, f"id {key!r} repeats an earlier line", number)
            seen.add(key)
            ids.append(key)
        if require_label and "label" not in record:
            raise InputError(path, "gold line has no \"label\" (the unlabelled test split?)",
                             number)
        label = record.get("label", {})
        if label is None:
            label = {}
        if not isinstance(label, dict):
            raise InputError(path, f"\"label\" is {_describe(label)}, expected "
                                   "{type: {entity: [[start, end], ...]}}", number)
        for entity_type, entities in label.items():
            if not isinstance(entities, dict):
                raise InputError(path, f"label[{entity_type!r}] is {_describe(entities)}, "
                                       "expected {entity: [[start, end], ...]}", number)
            for entity, spans in entities.items():
                if not isinstance(spans, list) or not all(
                        isinstance(s, list) and len(s) == 2 for s in spans):
                    raise InputError(path, f"spans of {entity!r} must be [[start, end], ...]",
                                     number)
        lines.append(label)
    return lines, (ids or None)


# --- tag files (CoNLL columns) ---------------------------------------------------------

@dataclass
class TagSentence:
    first_line: int
    rows: list[list[str]]  # the whitespace-separated columns of each token line
    lines: list[int]

    def column(self, index: int) -> list[str]:
        return [row[index] for row in self.rows]

    def tokens(self) -> list[str] | None:
        """The first column when there is more than a tag column."""
        return self.column(0) if self.rows and len(self.rows[0]) > 1 else None


def read_tag_file(path: str | Path) -> tuple[list[TagSentence], int]:
    """Sentences of whitespace-separated token lines and the column count.

    A blank line ends a sentence; ``-DOCSTART-`` (CoNLL) and ``-X-`` (conlleval's boundary
    token) lines end it too and are skipped.
    Every token line must have the same number of columns.
    """
    sentences: list[TagSentence] = []
    current: TagSentence | None = None
    width = 0
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0] in ("-DOCSTART-", "-X-"):  # markers that end a sentence
            if current is not None:
                sentences.append(current)
                current = None
            continue
        width = width or len(fields)
        if len(fields) != width:
            raise InputError(path, f"{len(fields)} columns where earlier lines have {width}",
                             number)
        if current is None:
            current = TagSentence(number, [], [])
        current.rows.append(fields)
        current.lines.append(number)
    if current is not None:
        sentences.append(current)
    if not sentences:
        raise InputError(path, "no token lines")
    return sentences, width


# --- label files (GLUE / TNEWS) --------------------------------------------------------

def _id_text(value: Any) -> str:
    return str(value).strip()


def load_label_predictions(path: str | Path) -> tuple[dict[str, str], list[int]]:
    """{"id"/"idx", "label"} JSON lines or a GLUE-submission TSV (``index<TAB>prediction``).

    Returns id -> label (as text) and the line number of each record (same order).
    """
    text = read_text(path)
    stripped = text.lstrip()
    predictions: dict[str, str] = {}
    lines: list[int] = []
    if stripped.startswith("{"):
        for number, record in iter_json_objects(path, text):
            key = "id" if "id" in record else "idx" if "idx" in record else None
            if key is None or "label" not in record:
                raise InputError(path, "expected {\"id\" or \"idx\", \"label\"}", number)
            label = record["label"]
            if isinstance(label, (dict, list)) or label is None:
                raise InputError(path, f"\"label\" is {_describe(label)}, expected a label",
                                 number)
            predictions[_id_text(record[key])] = _id_text(label)
            lines.append(number)
        return predictions, lines
    rows = text.splitlines()
    if not rows:
        raise InputError(path, "empty predictions file")
    header = rows[0].split("\t")
    # The header (GLUE submissions, HF predict_results) is optional: a headerless file is
    # id<TAB>label rows from the first line on.
    has_header = header[0].strip().lower() in ("index", "id", "idx")
    if len(header) != 2:
        raise InputError(path, "expected {\"id\", \"label\"} JSON lines or an "
                               f"id<TAB>label TSV, found {len(header)} tab-separated column(s)",
                         1)
    first = 2 if has_header else 1
    for number, row in enumerate(rows[first - 1:], start=first):
        if not row.strip():
            continue
        fields = row.split("\t")
        if len(fields) != 2:
            raise InputError(path, f"expected 2 tab-separated columns, found {len(fields)}",
                             number)
        predictions[_id_text(fields[0])] = _id_text(fields[1])
        lines.append(number)
    return predictions, lines
