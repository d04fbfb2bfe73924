"""Leaderboard submission files (reference-formats J): CLUE and GLUE, checked against the
test file they answer.

A wrongly named or ordered file scores 0 on the leaderboards, so every writer here reads
the test file itself and refuses predictions whose line count or ids differ from it:
- CLUE: ``cluener_predict.json`` (one ``{"id", "label"}`` line per test line, inclusive-end
  character spans), ``tnews11_predict.json`` / ``tnews10_predict.json`` (``{"id", "label"}``
  per test line, original label strings), ``cmrc2018_predict.json`` (one ``{qid: answer}``
  object), all zipped as ``submit_<name>_<date>.zip``;
- GLUE: ``CoLA.tsv`` ... ``AX.tsv`` with ``index<TAB>prediction`` (label names for the NLI
  tasks, 0/1 for CoLA/SST-2/MRPC/QQP, a float for STS-B), zipped with no folder inside.

Inputs are what `bertkit predict` writes: CLUENER JSON lines, ``predictions.tsv``
(``index<TAB>prediction``) for classification, ``predictions.json`` for CMRC.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertkit.errors import InputError, UsageError
from bertkit.evaluate import inputs
from bertkit.evaluate.benchmarks import GLUE, GLUE_SUBMISSION_SLOTS, TNEWS_LABELS
from bertkit.evaluate.glue import ID_COLUMNS
from bertkit.fsutil import write_text_atomic

CLUENER_FILE = "cluener_predict.json"
TNEWS_FILES = {"1.1": "tnews11_predict.json", "1.0": "tnews10_predict.json"}
CMRC_FILE = "cmrc2018_predict.json"

# Where a GLUE test file sits under the GLUE data folder, where it is not <Task>/test.tsv.
_GLUE_TEST_FILES = {"mnli-m": "MNLI/test_matched.tsv", "mnli-mm": "MNLI/test_mismatched.tsv",
                    "ax": "diagnostic/diagnostic.tsv"}
# GLUE submission slot -> (submission file: CoLA.tsv ... MNLI-m.tsv, MNLI-mm.tsv, AX.tsv;
# test file under the GLUE data folder).
GLUE_FILES = {
    slot: (f"{GLUE[key].name}{slot.removeprefix(key)}.tsv",
           _GLUE_TEST_FILES.get(slot, f"{GLUE[key].name}/test.tsv"))
    for slot, key in GLUE_SUBMISSION_SLOTS.items()
}
# Each slot's labels (None: STS-B, a score); AX is answered by the MNLI model.
GLUE_LABELS = {slot: GLUE[key].labels for slot, key in GLUE_SUBMISSION_SLOTS.items()}


@dataclass
class SubmissionFile:
    name: str
    text: str
    lines: int


def _json_objects(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line."""
    return list(inputs.iter_json_objects(path))


def _same_count(predictions: Path, found: int, test: Path, expected: int) -> None:
    if found != expected:
        raise InputError(predictions, f"{found} predictions for {expected} lines of {test}; "
                                      f"a submission must answer every test line, in order")


def _test_ids(records: list[tuple[int, dict[str, Any]]]) -> list[Any]:
    """Each test line's id; lines without one are numbered by position, as CLUE does."""
    return [record.get("id", index) for index, (_, record) in enumerate(records)]


def cluener_submission(predictions: Path, test: Path) -> SubmissionFile:
    """``cluener_predict.json`` from bertkit's CLUENER predictions for ``test``."""
    tests = _json_objects(test)
    predicted = _json_objects(predictions)
    _same_count(predictions, len(predicted), test, len(tests))
    lines = []
    for (number, record), (_, test_record), test_id in zip(predicted, tests, _test_ids(tests)):
        if "id" in record and record["id"] != test_id:
            raise InputError(predictions, f"id {record['id']!r} where the test file has "
                                          f"{test_id!r}", number)
        label = record.get("label")
        if not isinstance(label, dict):
            raise InputError(predictions, "missing 'label' object", number)
        _check_spans(label, test_record.get("text"), predictions, number)
        lines.append(json.dumps({"id": test_id, "label": label}, ensure_ascii=False))
    return SubmissionFile(CLUENER_FILE, "\n".join(lines) + "\n", len(lines))


def _check_spans(label: Mapping[str, Any], text: Any, path: Path, number: int) -> None:
    """Inclusive-end spans that cut their entity text out of the test sentence."""
    for entity_type, entities in label.items():
        for entity, spans in (entities or {}).items():
            for start, end in spans:
                if isinstance(text, str) and not (
                        0 <= start <= end < len(text) and text[start : end + 1] == entity):
                    raise InputError(path, f"{entity_type} {entity!r} at [{start}, {end}] is "
                                           f"not that text of the test sentence", number)


def _classification_rows(predictions: Path) -> list[str]:
    """Predicted labels in record order from ``index<TAB>prediction`` rows (or ``{"id",
    "label"}`` JSON lines): the ids must be the record numbers 0, 1, 2... in order."""
    labels, lines = inputs.load_label_predictions(predictions)
    for index, (key, line) in enumerate(zip(labels, lines)):
        if key != str(index):
            raise InputError(predictions, f"id {key!r} where record {index} is expected "
                                          f"(ids are record numbers, in order)", line)
    if len(lines) != len(labels):  # a repeated id: the map holds fewer than the rows
        raise InputError(predictions, f"{len(lines)} rows but {len(labels)} distinct ids "
                                      f"(an id repeats)", lines[len(labels)])
    return list(labels.values())


def tnews_submission(predictions: Path, test: Path, version: str = "1.1") -> SubmissionFile:
    """``tnews11_predict.json`` (or 1.0) in the test file's line order."""
    if version not in TNEWS_FILES:
        raise UsageError(f"--tnews-version must be one of {', '.join(TNEWS_FILES)}")
    tests = _json_objects(test)
    labels = _classification_rows(predictions)
    _same_count(predictions, len(labels), test, len(tests))
    unknown = sorted(set(labels) - set(TNEWS_LABELS))
    if unknown:
        raise InputError(predictions, f"labels {unknown[:3]} are not TNEWS labels "
                                      f"({', '.join(TNEWS_LABELS)})")
    lines = [json.dumps({"id": test_id, "label": label}, ensure_ascii=False)
             for test_id, label in zip(_test_ids(tests), labels)]
    return SubmissionFile(TNEWS_FILES[version], "\n".join(lines) + "\n", len(lines))


def cmrc_submission(predictions: Path, test: Path) -> SubmissionFile:
    """``cmrc2018_predict.json``: ``{qid: answer}`` for exactly the test file's questions."""
    document = inputs.load_squad_gold(test)
    qids = [str(qa["id"]).strip() for article in document["data"]
            for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    answers = inputs.load_answer_predictions(predictions)
    known = set(qids)
    missing = [qid for qid in qids if qid not in answers]
    extra = [qid for qid in answers if qid not in known]
    if missing or extra:
        raise InputError(predictions, f"ids differ from {test}: {len(missing)} missing "
                                      f"(e.g. {missing[:2]}), {len(extra)} not in the test "
                                      f"file (e.g. {extra[:2]})")
    ordered = {qid: str(answers[qid]) for qid in qids}
    return SubmissionFile(CMRC_FILE, json.dumps(ordered, ensure_ascii=False, indent=1) + "\n",
                          len(ordered))


def glue_submission(task: str, predictions: Path, test: Path) -> SubmissionFile:
    """``<Task>.tsv`` with ``index<TAB>prediction`` over the test file's index column."""
    if task not in GLUE_FILES:
        raise UsageError(f"unknown GLUE task {task!r}; one of {', '.join(GLUE_FILES)}")
    test_rows = [row for row in inputs.read_text(test).splitlines() if row.strip()]
    header = test_rows[0].split("\t") if test_rows else []
    if not header or header[0].strip().lower() not in ID_COLUMNS:
        raise InputError(test, "a GLUE test file starts with a header whose first column is "
                               "'index' (or 'id', as QQP's)")
    indexes = [row.split("\t", 1)[0] for row in test_rows[1:]]
    labels = _classification_rows(predictions)
    _same_count(predictions, len(labels), test, len(indexes))
    allowed = GLUE_LABELS.get(task)
    for number, label in enumerate(labels):
        if task == "sts-b":
            try:
                float(label)
            except ValueError:
                raise InputError(predictions, f"STS-B predicts a number, got {label!r}",
                                 f"record {number}") from None
        elif label not in allowed:  # type: ignore[operator]
            raise InputError(predictions, f"{task} predictions are one of {allowed}, got "
                                          f"{label!r}", f"record {number}")
    rows = [f"{index}\t{label}" for index, label in zip(indexes, labels)]
    name = GLUE_FILES[task][0]
    return SubmissionFile(name, "index\tprediction\n" + "\n".join(rows) + "\n", len(rows))


def write_submission(files: list[SubmissionFile], output_dir: Path, zip_name: str
                     ) -> list[Path]:
    """Write the files and a zip holding them at its root (no folder); returns the paths."""
    names = [item.name for item in files]
    if len(set(names)) != len(names):
        raise UsageError(f"two submission files share a name: {names}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = [write_text_atomic(output_dir / item.name, item.text) for item in files]
    zip_path = output_dir / zip_name
    partial = zip_path.with_name(zip_path.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for item in files:
                archive.writestr(item.name, item.text)
        partial.replace(zip_path)
    finally:
        partial.unlink(missing_ok=True)
    return written + [zip_path]
