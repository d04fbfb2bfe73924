"""CLUE TNEWS (JSON lines) -> classification TFRecords, as the CLUE baseline's `TnewsProcessor`.

Input lines: `{"label": "108", "label_desc": "news_edu", "sentence": ..., "keywords": "a,b"}`
(the official test split has `id`, `sentence`, `keywords` and no label).
- `text_a` is `sentence`. With `with_keywords`, the `keywords` string becomes `text_b`
  as it stands (commas included: the tokenizer splits them off); an empty keywords string
  leaves that example single-sentence, as Google's `if example.text_b:` does.
- Label ids follow the CLUE baseline's list: `100`..`116` without `105` and `111`, ids 0..14
  in that order. `labels.json` (next to the input, or given) must hold exactly those codes.
- A test split's label becomes id 0 (CLUE forces the label `"100"` there) and is not counted.
- Exact duplicate lines are kept, as CLUE keeps them, and counted for the summary.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bertkit.errors import InputError
from bertkit.evaluate.benchmarks import TNEWS_LABELS as TNEWS_LABELS  # label ids, in id order
from bertkit.evaluate.contract import TNEWS_JSONL
from bertkit.prep.classification.convert import (ClassificationDataset,
                                                  ClassificationRunOptions, ConversionResult,
                                                  ParsedSplit, TextExamples,
                                                  convert_classification)
from bertkit.prep.input_text import read_input_lines
from bertkit.prep.outputs import (
    STANDARD_SPLITS,
    eval_block,
    expand_input_files,
    recorded_path,
    split_name_from_path,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

LABELS_FILE_NAME = "labels.json"
SPLIT_FILES = ("train.json", "dev.json", "test.json")


def read_label_descriptions(path: Path) -> dict[str, str]:
    """`labels.json` (JSON lines of `{"label", "label_desc"}`) -> code -> description.

    It must list exactly the CLUE codes: ids are fixed by the CLUE baseline's order, so a
    different set would silently mean different classes.
    """
    if not path.is_file():
        raise InputError(path, "labels file not found")
    descriptions: dict[str, str] = {}
    for number, line in enumerate(read_input_lines(path), start=1):
        if not line.strip():
            continue
        record = _parse_json_line(path, line, number)
        code = record.get("label")
        if not isinstance(code, str):
            raise InputError(path, "a labels.json line needs a string field 'label'", number)
        descriptions[code] = str(record.get("label_desc", ""))
    if set(descriptions) != set(TNEWS_LABELS):
        extra = sorted(set(descriptions) - set(TNEWS_LABELS))
        missing = sorted(set(TNEWS_LABELS) - set(descriptions))
        raise InputError(path, f"labels differ from CLUE's 15 TNEWS codes "
                               f"(unexpected: {extra or 'none'}, missing: {missing or 'none'})")
    return {code: descriptions[code] for code in TNEWS_LABELS}




# The C scanner behind `json.loads`, called directly: one C call per line instead of three
# Python-level wrappers (a third of reading TNEWS train). Lines it cannot take whole go
# through `json.loads`, which also words the error.
_scan_json = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_WHITESPACE = " \t\n\r"


def _parse_json_line(path: Path, line: str, number: int) -> dict[str, Any]:
    if line[:1] == "{":
        try:
            record, end = _scan_json(line, 0)
        except (StopIteration, ValueError):
            pass
        else:
            if end == len(line) or not line[end:].strip(_JSON_WHITESPACE):
                return record  # a "{" always scans to a dict
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON ({error.msg})", number) from None
    if not isinstance(record, dict):
        raise InputError(path, "each line must be a JSON object", number)
    return record


def read_tnews_file(path: Path, split: str, *, with_keywords: bool) -> ParsedSplit:
    """Read and check one TNEWS JSON-lines file. Whether it carries labels is read from the
    data (its first record), not from its name: the official test file has none, and a
    dev file with its labels removed stands in for it. Only a train split must have them."""
    labelled: bool | None = True if split == "train" else None
    label2id = {code: i for i, code in enumerate(TNEWS_LABELS)}
    texts_a: list[str] = []
    texts_b: list[str] | None = [] if with_keywords else None
    labels: list[int] = []
    seen: set[str] = set()
    duplicates = 0
    for number, line in enumerate(read_input_lines(path), start=1):
        if not line.strip():
            continue  # a blank line (often the last) is not an example
        record = _parse_json_line(path, line, number)
        sentence = record.get("sentence")
        if not isinstance(sentence, str):
            raise InputError(path, "missing string field 'sentence'", number)
        if labelled is None:
            labelled = "label" in record
        texts_a.append(sentence)
        if texts_b is not None:
            keywords = record.get("keywords", "")
            if not isinstance(keywords, str):
                raise InputError(path, "field 'keywords' must be a string", number)
            texts_b.append(keywords)
        if labelled:
            label = record.get("label")
            if label is None:
                raise InputError(path, "missing field 'label' (only a test split may lack it)"
                                 if split == "train" else
                                 "missing field 'label' (the file's first record has one)",
                                 number)
            label_id = label2id.get(str(label))
            if label_id is None:
                raise InputError(path, f"unknown label {label!r}; TNEWS labels are "
                                       f"{', '.join(TNEWS_LABELS)}", number)
            labels.append(label_id)
        else:
            labels.append(0)
        if line in seen:
            duplicates += 1
        else:
            seen.add(line)
    if not texts_a:
        raise InputError(path, "file has no examples (it is empty)")
    examples = TextExamples(texts_a=texts_a, texts_b=texts_b,
                            labels=np.asarray(labels, dtype=np.int64), labelled=bool(labelled))
    return ParsedSplit(split=split, input_path=path, examples=examples,
                       extra_counts={"duplicate_lines_kept": duplicates})


def tnews_input_files(inputs: Sequence[Path]) -> list[Path]:
    """Expand a directory into the split files it holds (train/dev/test.json)."""
    return expand_input_files([Path(path) for path in inputs], SPLIT_FILES, "TNEWS")


def convert_tnews(
    inputs: Sequence[str | Path],
    output_dir: str | Path,
    *,
    with_keywords: bool = False,
    labels_file: str | Path | None = None,
    **options: Unpack[ClassificationRunOptions],
) -> ConversionResult:
    """Convert TNEWS files (or a directory of them) into `OUTPUT_DIR/<split>.tf_record` + sidecars.

    ``options`` are those of every classification converter (`ClassificationRunOptions`:
    vocab, split, workers...); ``split`` overrides the split name taken from the file name
    (one input only).
    """

    def describe(splits: list[tuple[str, Path]], max_seq_length: int,
                 do_lower_case: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        if labels_file is None:
            beside = splits[0][1].parent / LABELS_FILE_NAME
            labels_path: Path | None = beside if beside.is_file() else None
        else:
            labels_path = Path(labels_file)
        descriptions = (read_label_descriptions(labels_path) if labels_path is not None
                        else {code: "" for code in TNEWS_LABELS})
        return ({"max_seq_length": max_seq_length, "with_keywords": with_keywords,
                 "do_lower_case": do_lower_case,
                 "labels_file": recorded_path(labels_path) if labels_path else None},
                {"label_desc": descriptions,
                 **eval_block("tnews", dict(splits), TNEWS_JSONL)})

    dataset = ClassificationDataset(
        command="prep tnews", label_names=TNEWS_LABELS, pairs=with_keywords,
        splits=STANDARD_SPLITS, input_files=tnews_input_files, split_of=split_name_from_path,
        read_split=lambda path, split: read_tnews_file(path, split, with_keywords=with_keywords),
        describe=describe)
    return convert_classification(dataset, inputs, output_dir, **options)
