"""CLUENER2020 JSON lines -> NER records, one position per character.

Input lines: ``{"text": ..., "label": {type: {entity: [[start, end], ...]}}}`` with
inclusive, 0-based character offsets; the test file has no ``label`` and converts
with all-``O`` tags. Every span is checked against the text: a span outside the
text, an entity string that differs from ``text[start:end+1]`` and an unknown
type are errors naming the line.

Overlapping entities (train line 1507 has two ``company`` spans inside a ``book``
title) cannot share one tag per character. Rule: the longer entity is kept; on
equal length the one that starts first, then the type that comes first in the
official order. Each dropped entity is a warning with its line number and is
counted as ``overlapping_dropped``; ``strict=True`` makes it an error instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bertkit.errors import InputError
from bertkit.evaluate.contract import CLUENER_JSONL
from bertkit.prep.input_text import read_input_lines
from bertkit.prep.ner.convert import (Block, NerConversion, NerDataset, NerRunOptions,
                                      NerSettings, ParsedBlock, convert_ner)
from bertkit.prep.ner.features import NerExample
from bertkit.prep.ner.tags import CLUENER_TYPES, Entity, resolve_overlaps

if TYPE_CHECKING:
    from typing_extensions import Unpack

CLUENER_SCHEMES = ("cluener", "bio", "bioes")
DEFAULT_MAX_SEQ_LENGTH = 128
# MindSpore's run_ner builds the CLUENER label ids from a file listing the types.
TYPES_FILE = "label_types.txt"


def read_cluener_blocks(path: Path) -> list[Block]:
    """One block per non-blank line."""
    return [(number, line) for number, line in enumerate(read_input_lines(path), 1)
            if line.strip()]


def _describe(entity_type: str, text: str, span: Sequence[int]) -> str:
    return f"{entity_type} {text!r} [{span[0]}, {span[1]}]"


# JSON's names for what a value is, with their article: the file is JSON, not Python.
_JSON_KINDS = {bool: ("a", "boolean"), int: ("an", "integer"), float: ("a", "number"),
               str: ("a", "string"), dict: ("an", "object"), list: ("a", "list"),
               type(None): ("a", "null")}


def _kind(value: Any) -> tuple[str, str]:
    return _JSON_KINDS.get(type(value), ("a", type(value).__name__))


def _kinds(span: Any) -> str:
    """What a bad span holds, in words: "string values", "an integer", "3 values"."""
    if not isinstance(span, list):
        return " ".join(_kind(span))
    if len(span) != 2:
        return f"{len(span)} values"
    kinds = sorted({_kind(value)[1] for value in span if not _is_int(value)})
    return " and ".join(f"{kind} values" for kind in kinds)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_cluener_line(path: str, line: int, raw: str, settings: NerSettings) -> ParsedBlock:
    """Validate one JSON line and turn it into a NerExample over its characters."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON ({error.msg}, column {error.colno})",
                         line) from None
    if not isinstance(obj, dict):
        raise InputError(path, f"expected a JSON object, got {type(obj).__name__}", line)
    text = obj.get("text")
    if not isinstance(text, str):
        raise InputError(path, 'no "text" string', line)
    label = obj.get("label")
    if label is None:
        label = {}  # the test file: no entities, every character O
    if not isinstance(label, dict):
        raise InputError(path, f'"label" must be an object, got {type(label).__name__}', line)

    known = set(settings.types)
    entities: list[Entity] = []
    names: dict[Entity, str] = {}
    for entity_type, by_text in label.items():
        if not isinstance(by_text, dict):
            raise InputError(path, f"label {entity_type!r} must map entity text to spans", line)
        if entity_type not in known:
            raise InputError(
                path, f"unknown entity type {entity_type!r} (entities {list(by_text)!r}; "
                      f"known types: {', '.join(settings.types)})", line)
        for entity_text, spans in by_text.items():
            if not isinstance(spans, list):
                raise InputError(path, f"{entity_type} {entity_text!r}: spans must be a list "
                                       f"of [start, end], got {spans!r}", line)
            for span in spans:
                if not (isinstance(span, list) and len(span) == 2
                        and all(_is_int(value) for value in span)):
                    raise InputError(path, f"{entity_type} entity {entity_text!r}: span {span!r} "
                                           f"must be two integers [start, end] (inclusive "
                                           f"character offsets), got {_kinds(span)}", line)
                start, end = span
                if start > end:
                    raise InputError(
                        path, f"span [{start}, {end}] of {entity_type} {entity_text!r} is "
                              "reversed: its start comes after its end", line)
                if not 0 <= start <= end < len(text):
                    raise InputError(
                        path, f"span [{start}, {end}] of {entity_type} {entity_text!r} lies "
                              f"outside the text ({len(text)} characters): {text!r}", line)
                actual = text[start:end + 1]
                if actual != entity_text:
                    raise InputError(
                        path, f"{entity_type} entity {entity_text!r} differs from "
                              f"text[{start}:{end + 1}] = {actual!r}", line)
                entity = Entity(start, end, entity_type)
                entities.append(entity)
                names[entity] = entity_text

    kept, dropped = resolve_overlaps(entities, settings.types)
    warnings = []
    for loser, winner in dropped:
        message = (f"{path}:{line}: overlapping entities: kept "
                   f"{_describe(winner.type, names[winner], (winner.start, winner.end))}, dropped "
                   f"{_describe(loser.type, names[loser], (loser.start, loser.end))}")
        if settings.strict:
            raise InputError(path, message.split(": ", 1)[1] + " (--strict)", line)
        warnings.append(message)
    example = NerExample(line=line, units=list(text), entities=kept,
                         example_id=obj.get("id"), text=text)
    return ParsedBlock(example, entities_in=len(entities), overlapping_dropped=len(dropped),
                       warnings=warnings)


def _types_file(settings: NerSettings) -> dict[str, str]:
    return {TYPES_FILE: "".join(f"{entity_type}\n" for entity_type in settings.types)}


CLUENER = NerDataset(
    command="prep cluener", title="CLUENER",
    read_blocks=read_cluener_blocks, parse_block=parse_cluener_line,
    schemes=CLUENER_SCHEMES,
    scoring=("cluener", CLUENER_JSONL),
    extra_files=_types_file,
    split_files=("train.json", "dev.json", "test.json"),
)


def convert_cluener(
    inputs: Sequence[str | Path], output_dir: str | Path, *,
    scheme: str = "cluener",
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    strict: bool = False,
    **options: Unpack[NerRunOptions],
) -> NerConversion:
    """Convert CLUENER2020 files (train/dev/test.json) into ``output_dir``; ``options`` are
    those of every NER converter (`NerRunOptions`: vocab, split, workers...)."""
    return convert_ner(CLUENER, inputs, output_dir, scheme=scheme, types=CLUENER_TYPES,
                       max_seq_length=max_seq_length, strict=strict, **options)
