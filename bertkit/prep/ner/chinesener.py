"""zjy-ucas/ChineseNER files -> NER records, one position per ``char tag`` line.

Input: one ``CHAR TAG`` line per character (exactly one space between them), a
blank line between sentences, IOB tags ``O`` / ``B-T`` / ``I-T``. As in the
original `loader.py`, a line that starts with a space has a space as its
character (``" O"``), and a sentence whose first character is ``-DOCSTART-`` is
skipped. An ``I-T`` that starts an entity (at the sentence start, after ``O`` or
after another type) is read as ``B-T`` (IOB1 -> IOB2, like `update_tag_scheme`)
and counted as ``repaired_tags``. Output tags are ``--scheme iobes`` (the
original's default) or ``iob2``. A malformed line, a tag prefix other than
B/I/O and a type outside ``types`` are errors naming the line.

Entity types are fixed (default PER, LOC, ORG) rather than collected from the
data, so every split gets the same label ids (MindSpore's generator collects
them in a set, so its ids change between runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bertkit.errors import InputError, UsageError
from bertkit.evaluate.contract import CONLL_BIO
from bertkit.prep.input_text import read_input_lines
from bertkit.prep.ner.convert import (Block, NerConversion, NerDataset, NerRunOptions,
                                      NerSettings, ParsedBlock, convert_ner)
from bertkit.prep.ner.features import NerExample
from bertkit.prep.ner.tags import CHINESENER_TYPES, OUTSIDE, Entity

if TYPE_CHECKING:
    from typing_extensions import Unpack

CHINESENER_SCHEMES = ("iobes", "iob2")
DEFAULT_MAX_SEQ_LENGTH = 128
WORD_FEATURES = ("jieba",)
DOCSTART = "-DOCSTART-"


def read_chinesener_blocks(path: Path) -> list[Block]:
    """One block per sentence: (line of its first character, its lines joined by newlines)."""
    blocks: list[Block] = []
    current: list[str] = []
    first = 0
    for number, line in enumerate(read_input_lines(path), 1):
        if line.strip():
            if not current:
                first = number
            current.append(line)
        elif current:
            blocks.append((first, "\n".join(current)))
            current = []
    if current:
        blocks.append((first, "\n".join(current)))
    return blocks


def split_char_tag(path: str, number: int, line: str) -> tuple[str, str]:
    """``CHAR TAG`` -> (char, tag); anything else is an error naming the line.

    A space character is written as the line ``"  TAG"`` (the original loader's case).
    """
    if line.startswith("  "):
        char, separator, tag = " ", " ", line[2:]
    else:
        char, separator, tag = line.partition(" ")
    if (not separator or not tag or any(space in tag for space in " \t\r")
            or (char != " " and char != char.strip()) or not char):
        raise InputError(path, f"malformed line {line!r}: expected 'CHAR TAG' with one space",
                         number)
    return char, tag


def parse_chinesener_sentence(path: str, line: int, raw: str,
                              settings: NerSettings) -> ParsedBlock:
    """Validate one sentence's lines and turn them into a NerExample over its characters."""
    known = set(settings.types)
    units: list[str] = []
    entities: list[Entity] = []
    open_start: int | None = None
    open_type = ""
    repaired = 0
    if raw.split(None, 1)[0] == DOCSTART:
        return ParsedBlock(None)  # a document separator, not a sentence (the loader skips it)
    for offset, text_line in enumerate(raw.split("\n")):
        number = line + offset
        char, tag = split_char_tag(path, number, text_line)
        unit = len(units)
        units.append(char)
        if tag == OUTSIDE:
            prefix, entity_type = OUTSIDE, ""
        else:
            prefix, separator, entity_type = tag.partition("-")
            if prefix not in ("B", "I") or not separator:
                raise InputError(path, f"unknown tag prefix in {tag!r} (expected O, B-TYPE or "
                                       "I-TYPE)", number)
            if entity_type not in known:
                raise InputError(path, f"unknown entity type {entity_type!r} in tag {tag!r} "
                                       f"(known: {', '.join(settings.types)})", number)
        continues = prefix == "I" and open_start is not None and open_type == entity_type
        if open_start is not None and not continues:
            entities.append(Entity(open_start, unit - 1, open_type))
            open_start = None
        if prefix == "B" or (prefix == "I" and not continues):
            repaired += prefix == "I"
            open_start, open_type = unit, entity_type
    if open_start is not None:
        entities.append(Entity(open_start, len(units) - 1, open_type))
    example = NerExample(line=line, units=units, entities=entities)
    return ParsedBlock(example, entities_in=len(entities), repaired_tags=repaired)


CHINESENER = NerDataset(
    command="prep chinesener", title="ChineseNER",
    read_blocks=read_chinesener_blocks, parse_block=parse_chinesener_sentence,
    schemes=CHINESENER_SCHEMES,
    scoring=("conll", CONLL_BIO),  # the files' own tags are BIO, whatever --scheme writes
    split_files=("example.train", "example.dev", "example.test"),
)


def convert_chinesener(
    inputs: Sequence[str | Path], output_dir: str | Path, *,
    scheme: str = "iobes",
    types: Sequence[str] = CHINESENER_TYPES,
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    word_features: str | None = None,
    **options: Unpack[NerRunOptions],
) -> NerConversion:
    """Convert ChineseNER files (example.train/dev/test) into ``output_dir``; ``options`` are
    those of every NER converter (`NerRunOptions`: vocab, split, workers...)."""
    if word_features is not None and word_features not in WORD_FEATURES:
        raise UsageError(f"--word-features must be one of {', '.join(WORD_FEATURES)}, "
                         f"got {word_features!r}")
    return convert_ner(CHINESENER, inputs, output_dir, scheme=scheme, types=types,
                       max_seq_length=max_seq_length, word_features=word_features, **options)
