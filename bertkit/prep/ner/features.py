"""One TFRecord example per NER sentence: one position per unit, labels aligned to it.

Layout of every record (length ``max_seq_length`` = L, all int64):

- ``input_ids``: ``[CLS]``, one vocab id per unit, ``[SEP]``, then ``[PAD]`` ids.
- ``input_mask``: 1 for ``[CLS]``, the units and ``[SEP]``; 0 for padding.
- ``segment_ids``: all 0 (one segment).
- ``label_ids``: the unit's tag id at positions 1..n; **0 (``O``) at ``[CLS]``, ``[SEP]``
  and padding**, as CLUENER's `tf_version` and MindSpore's `run_ner` expect. Only
  positions 1..n (n = sum(input_mask) - 2) carry real tags; the sidecar lists them.
- ``seg_ids`` (ChineseNER with ``--word-features jieba``): jieba's 0/1/2/3 word-boundary
  feature of the unit's first character; 0 at ``[CLS]``, ``[SEP]`` and padding.

Why one position per unit: Google's tokenizer drops whitespace and control
characters, and CLUENER's own converter then shifts every later tag left, so
predicted spans no longer line up with the text. Here each unit is tokenised on
its own and always gets exactly one position:

- it yields exactly one piece -> that piece's id (lower-casing/accents as Google does);
- it yields no piece (space, tab, control or format character, U+FFFD) -> ``[UNK]``,
  the choice MindSpore's CLUENER generator makes for whitespace;
- it yields several pieces (rare, e.g. a Hangul syllable that NFD splits into jamo
  when lower-casing) -> the first piece. With a SentencePiece model a bare ``▁``
  (word-boundary) piece is skipped first, since it precedes most single characters.

Sentences longer than L - 2 units keep their first L - 2 units; an entity cut by
that is shortened to end at the last kept unit (tags stay well-formed) and counted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from bertkit.prep.ner.tags import Entity, TagScheme, clip_entities
from bertkit.prep.pipeline import Tokenizer

# What happened to a unit on its way to one vocab id (counted in the summary).
UNIT_SINGLE_PIECE = "single_piece"
UNIT_DROPPED = "dropped_by_tokenizer"  # no piece: written as [UNK]
UNIT_SEVERAL_PIECES = "several_pieces"  # first piece written
SPM_WORD_BOUNDARY = "\u2581"  # SentencePiece's "▁"


@dataclass
class NerExample:
    """One sentence: its units (one position each), its entities over unit indices."""

    line: int  # 1-based line of the input where the example starts
    units: list[str]
    entities: list[Entity]  # non-overlapping
    example_id: Any = None
    text: str | None = None  # the original text; "".join(units) when not given

    def full_text(self) -> str:
        return self.text if self.text is not None else "".join(self.units)


@dataclass
class NerStats:
    """Counts for the summary table and the manifest; merged across chunks."""

    examples: int = 0
    truncated_examples: int = 0
    units: int = 0
    units_kept: int = 0
    unknown_units: int = 0  # written as [UNK], whether the vocab lacks them or they were dropped
    unit_kinds: Counter = field(default_factory=Counter)
    entities_in: int = 0
    entities_written: int = 0
    overlapping_dropped: int = 0
    entities_cut_by_truncation: int = 0
    repaired_tags: int = 0
    skipped_sentences: int = 0
    entity_types: Counter = field(default_factory=Counter)
    label_counts: Counter = field(default_factory=Counter)

    def merge(self, other: NerStats) -> None:
        for name, value in vars(other).items():
            if isinstance(value, Counter):
                getattr(self, name).update(value)
            else:
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            out[name] = dict(sorted(value.items())) if isinstance(value, Counter) else value
        return out


class UnitIdMapper:
    """One vocab id per unit (see the module docstring), cached per distinct unit.

    Caching makes conversion cost one tokenizer call per *distinct* character
    instead of one per character, which is where most of the speed comes from.
    """

    def __init__(self, tokenizer: Tokenizer):
        self._tokenizer = tokenizer
        # A single character gains nothing from a whole-text fast path, and the plain
        # rules (same answers) skip that path's one-off set-up cost.
        self._tokenize = tokenizer.tokenize_exact
        self.unk_id: int = tokenizer.unk_id
        self.ids: dict[str, int] = {}
        self.kinds: dict[str, str] = {}

    def lookup(self, unit: str) -> tuple[int, str]:
        if unit not in self.ids:
            pieces = self._tokenize(unit)
            if not pieces:
                token_id, kind = self.unk_id, UNIT_DROPPED
            else:
                # SentencePiece puts a bare word-boundary piece before most single characters
                # ("中" -> "▁", "中"); the character itself is the piece worth keeping.
                content = [piece for piece in pieces if piece != SPM_WORD_BOUNDARY] or pieces
                token_id = self._tokenizer.convert_tokens_to_ids(content[:1])[0]
                kind = UNIT_SINGLE_PIECE if len(content) == 1 else UNIT_SEVERAL_PIECES
            self.ids[unit], self.kinds[unit] = token_id, kind
        return self.ids[unit], self.kinds[unit]


@dataclass
class NerBatch:
    """Records as ``[N, L]`` int64 columns (for `write_batch`) and their sidecar entries.

    Sidecar entries come pre-serialized (the JSON members after ``"record"``), so the
    parent process only numbers them; see `ner.sidecar`.
    """

    columns: dict[str, np.ndarray]
    sidecars: list[str]

    def __len__(self) -> int:
        return len(self.sidecars)


class NerRecordBuilder:
    """Turns NerExamples into record columns plus sidecar entries."""

    def __init__(self, tokenizer: Tokenizer, scheme: TagScheme, label2id: dict[str, int],
                 max_seq_length: int):
        if max_seq_length < 3:
            raise ValueError("max_seq_length must leave room for [CLS], one unit and [SEP]")
        self.mapper = UnitIdMapper(tokenizer)
        self.scheme = scheme
        self.label2id = label2id
        self.id2label = {index: label for label, index in label2id.items()}
        self.max_seq_length = max_seq_length
        self.cls_id: int = tokenizer.cls_id
        self.sep_id: int = tokenizer.sep_id
        self.pad_id: int = tokenizer.pad_id
        self._offsets_json: dict[int, str] = {}

    def _tag_ids(self, entity_type: str) -> tuple[int, int, int, int]:
        """(single, begin, inside, end) label ids of one type under the scheme."""
        scheme, label2id = self.scheme, self.label2id
        return (label2id[scheme.tag(scheme.single or scheme.begin, entity_type)],
                label2id[scheme.tag(scheme.begin, entity_type)],
                label2id[scheme.tag(scheme.inside, entity_type)],
                label2id[scheme.tag(scheme.end or scheme.inside, entity_type)])

    def _single_char_offsets_json(self, kept: int) -> str:
        """The offsets list when every unit is one character: the same for equal lengths."""
        cached = self._offsets_json.get(kept)
        if cached is None:
            pairs = ",".join(f"[{i},{i + 1}]" for i in range(kept))
            cached = self._offsets_json[kept] = f"[null,{pairs},null]" if kept else "[null,null]"
        return cached

    def build_batch(self, examples: Sequence[NerExample], stats: NerStats,
                    word_features: Sequence[Sequence[int]] | None = None) -> NerBatch:
        """``word_features[i]``: one feature per character of example i's text, or None."""
        count, length = len(examples), self.max_seq_length
        limit = length - 2
        kept_units = [example.units[:limit] for example in examples]
        kept = np.array([len(units) for units in kept_units], dtype=np.int64)
        unit_counts = Counter(chain.from_iterable(kept_units))
        for unit in unit_counts:
            self.mapper.lookup(unit)
        ids = self.mapper.ids

        # Scatter every kept unit's id to (row, 1 + index within its row) in one go.
        rows = np.repeat(np.arange(count), kept)
        row_starts = np.cumsum(kept) - kept
        columns = 1 + np.arange(int(kept.sum())) - np.repeat(row_starts, kept)
        input_ids = np.full((count, length), self.pad_id, dtype=np.int64)
        input_ids[rows, columns] = np.fromiter(
            map(ids.__getitem__, chain.from_iterable(kept_units)), dtype=np.int64,
            count=rows.size)
        input_ids[:, 0] = self.cls_id
        input_ids[np.arange(count), kept + 1] = self.sep_id
        input_mask = (np.arange(length)[None, :] < (kept + 2)[:, None]).astype(np.int64)
        label_ids = np.zeros((count, length), dtype=np.int64)
        seg_ids = np.zeros((count, length), dtype=np.int64) if word_features is not None else None
        tag_ids: dict[str, tuple[int, int, int, int]] = {}
        sidecars = []
        for row, example in enumerate(examples):
            row_kept = int(kept[row])
            entities, cut = clip_entities(example.entities, row_kept)
            labels = label_ids[row]
            for entity in entities:
                if entity.type not in tag_ids:
                    tag_ids[entity.type] = self._tag_ids(entity.type)
                single, begin, inside, end = tag_ids[entity.type]
                if entity.start == entity.end:
                    labels[entity.start + 1] = single
                else:  # +1: position 0 is [CLS]
                    labels[entity.start + 1] = begin
                    labels[entity.start + 2:entity.end + 1] = inside
                    labels[entity.end + 1] = end
            stats.entities_written += len(entities)
            stats.entities_cut_by_truncation += cut
            stats.entity_types.update(entity.type for entity in entities)

            text = example.full_text()
            if len(text) == len(example.units):  # every unit one character: offsets = index
                offsets_json = self._single_char_offsets_json(row_kept)
                if seg_ids is not None and word_features is not None:
                    seg_ids[row, 1:row_kept + 1] = word_features[row][:row_kept]
            else:
                offsets = _unit_offsets(example.units)[:row_kept]
                offsets_json = json.dumps([None, *[list(pair) for pair in offsets], None],
                                          separators=(",", ":"))
                if seg_ids is not None and word_features is not None:
                    # a unit's feature is that of its first character
                    features = word_features[row]
                    seg_ids[row, 1:row_kept + 1] = [features[start] if end > start else 0
                                                    for start, end in offsets]
            members = [f'"line":{example.line}']
            if example.example_id is not None:
                members.append(f'"id":{json.dumps(example.example_id, ensure_ascii=False)}')
            members.append(f'"text":{json.dumps(text, ensure_ascii=False)}')
            members.append(f'"units":{len(example.units)}')
            members.append(f'"offsets":{offsets_json}')
            sidecars.append(",".join(members))

        stats.examples += count
        stats.units += sum(len(example.units) for example in examples)
        stats.units_kept += int(kept.sum())
        stats.truncated_examples += sum(len(example.units) > limit for example in examples)
        kinds = self.mapper.kinds
        for unit, occurrences in unit_counts.items():
            stats.unit_kinds[kinds[unit]] += occurrences
            if ids[unit] == self.mapper.unk_id:
                stats.unknown_units += occurrences
        label_histogram = np.bincount(label_ids[rows, columns], minlength=len(self.label2id))
        stats.label_counts.update({self.id2label[index]: int(number)
                                   for index, number in enumerate(label_histogram) if number})
        out = {
            "input_ids": input_ids,
            "input_mask": input_mask,
            "segment_ids": np.zeros((count, length), dtype=np.int64),
            "label_ids": label_ids,
        }
        if seg_ids is not None:
            out["seg_ids"] = seg_ids
        return NerBatch(out, sidecars)


def _unit_offsets(units: Sequence[str]) -> list[tuple[int, int]]:
    """[start, end) character offsets of each unit in "".join(units)."""
    offsets = []
    position = 0
    for unit in units:
        offsets.append((position, position + len(unit)))
        position += len(unit)
    return offsets
