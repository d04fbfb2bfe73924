"""NER tag schemes: entity spans -> one tag per unit, and tags -> entity spans.

A *unit* is what gets one position in the record: a character for CLUENER, one
`char tag` line for ChineseNER. Entities are inclusive unit ranges with a type.

Schemes (label order = the label ids written to `label2id.json`):

- ``cluener``: CLUENER2020's own `label2id.json`, also MindSpore `run_ner`'s
  `convert_labels_to_index`: ``O``, then for each type in order ``S_t, B_t, M_t, E_t``
  (41 labels for the 10 official types).
- ``bio`` (= ``iob2``): ``O``, then ``B-t, I-t`` per type.
- ``bioes`` (= ``iobes``): ``O``, then ``B-t, I-t, E-t, S-t`` per type.

Decoding follows conlleval's chunk rules (the seqeval default mode) after reading
``M`` as ``I``, so it is exact for well-formed tag sequences of every scheme above
and deterministic for ill-formed predictions (a chunk may start with ``I``/``M``/``E``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

# The official CLUENER2020 type order; label ids depend on it.
from bertkit.evaluate.benchmarks import CLUENER_TYPES as CLUENER_TYPES

OUTSIDE = "O"

# Types of the zjy-ucas/ChineseNER (MSRA) files; fixed so every split gets the same ids.
CHINESENER_TYPES: tuple[str, ...] = ("PER", "LOC", "ORG")


@dataclass(frozen=True, order=True)
class Entity:
    """Units ``start..end`` (both inclusive) form one entity of ``type``."""

    start: int
    end: int
    type: str

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class TagScheme:
    """How an entity's units are tagged, and in which order labels get their ids."""

    name: str
    separator: str
    per_type_prefixes: tuple[str, ...]  # order of this type's labels in the label list
    begin: str
    inside: str
    end: str | None  # None: the last unit is tagged like an inside unit (BIO)
    single: str | None  # None: a one-unit entity is tagged like a begin unit (BIO)

    def labels(self, types: Sequence[str]) -> list[str]:
        return [OUTSIDE] + [f"{prefix}{self.separator}{entity_type}"
                            for entity_type in types for prefix in self.per_type_prefixes]

    def label2id(self, types: Sequence[str]) -> dict[str, int]:
        return {label: index for index, label in enumerate(self.labels(types))}

    def tag(self, prefix: str, entity_type: str) -> str:
        return f"{prefix}{self.separator}{entity_type}"

    def encode(self, num_units: int, entities: Iterable[Entity]) -> list[str]:
        """One tag per unit. Entities must not overlap (resolve overlaps first)."""
        tags = [OUTSIDE] * num_units
        for entity in entities:
            if entity.length == 1:
                tags[entity.start] = self.tag(self.single or self.begin, entity.type)
                continue
            tags[entity.start] = self.tag(self.begin, entity.type)
            inside = self.tag(self.inside, entity.type)
            for unit in range(entity.start + 1, entity.end):
                tags[unit] = inside
            tags[entity.end] = self.tag(self.end or self.inside, entity.type)
        return tags


CLUENER_SCHEME = TagScheme("cluener", "_", ("S", "B", "M", "E"), "B", "M", "E", "S")
BIO_SCHEME = TagScheme("bio", "-", ("B", "I"), "B", "I", None, None)
BIOES_SCHEME = TagScheme("bioes", "-", ("B", "I", "E", "S"), "B", "I", "E", "S")

SCHEMES: dict[str, TagScheme] = {
    "cluener": CLUENER_SCHEME,
    "bio": BIO_SCHEME,
    "iob2": replace(BIO_SCHEME, name="iob2"),
    "bioes": BIOES_SCHEME,
    "iobes": replace(BIOES_SCHEME, name="iobes"),
}


def get_scheme(name: str) -> TagScheme:
    try:
        return SCHEMES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown tag scheme {name!r} (known: {', '.join(SCHEMES)})") from None


def split_tag(tag: str) -> tuple[str, str]:
    """``B-PER`` / ``B_name`` -> (``B``, type); ``O`` -> (``O``, ``""``).

    Any of the prefixes B, I, M, E, S with either separator is accepted, so the
    decoder does not need to know which scheme produced a tag.
    """
    if tag == OUTSIDE:
        return OUTSIDE, ""
    if len(tag) >= 3 and tag[0] in "BIMES" and tag[1] in "-_":
        return tag[0], tag[2:]
    raise ValueError(f"not a NER tag: {tag!r}")


def _chunk_ends(prev: str, prev_type: str, prefix: str, entity_type: str) -> bool:
    """conlleval's endOfChunk: does the chunk open at the previous unit stop before this one?"""
    if prev in ("E", "S"):
        return True
    if prev in ("B", "I") and prefix in ("B", "S", OUTSIDE):
        return True
    return prev != OUTSIDE and prev_type != entity_type


def _chunk_starts(prev: str, prev_type: str, prefix: str, entity_type: str) -> bool:
    """conlleval's startOfChunk: does a chunk open at this unit?"""
    if prefix in ("B", "S"):
        return True
    if prev in ("E", "S", OUTSIDE) and prefix in ("E", "I"):
        return True
    return prefix != OUTSIDE and prev_type != entity_type


def decode_entities(tags: Sequence[str]) -> list[Entity]:
    """Entity spans from one tag per unit (conlleval rules, ``M`` read as ``I``)."""
    entities: list[Entity] = []
    prev, prev_type = OUTSIDE, ""
    open_start: int | None = None
    for unit, tag in enumerate(tags):
        prefix, entity_type = split_tag(tag)
        if prefix == "M":
            prefix = "I"
        if open_start is not None and _chunk_ends(prev, prev_type, prefix, entity_type):
            entities.append(Entity(open_start, unit - 1, prev_type))
            open_start = None
        if _chunk_starts(prev, prev_type, prefix, entity_type):
            open_start = unit
        prev, prev_type = prefix, entity_type
    if open_start is not None:
        entities.append(Entity(open_start, len(tags) - 1, prev_type))
    return entities


def resolve_overlaps(entities: Iterable[Entity], type_order: Sequence[str]) -> tuple[
        list[Entity], list[tuple[Entity, Entity]]]:
    """Make entities non-overlapping so they fit one tag per unit.

    Rule: the longer entity wins; on equal length the one that starts first, then
    the type that comes first in ``type_order``. Returns the kept entities sorted
    by start, and (dropped, kept entity it collided with) pairs. Exact duplicates
    (same span, same type) are merged silently.
    """
    entities = sorted(entities)
    # Fast path (nearly every sentence): no entity starts before the previous one ends.
    if all(previous.end < current.start for previous, current in pairwise(entities)):
        return entities, []
    rank = {entity_type: index for index, entity_type in enumerate(type_order)}
    unique = set(entities)
    candidates = sorted(unique, key=lambda e: (-e.length, e.start, rank.get(e.type, len(rank))))
    kept: list[Entity] = []
    dropped: list[tuple[Entity, Entity]] = []
    for entity in candidates:
        clash = next((other for other in kept
                      if entity.start <= other.end and other.start <= entity.end), None)
        if clash is None:
            kept.append(entity)
        else:
            dropped.append((entity, clash))
    kept.sort()
    return kept, dropped


def clip_entities(entities: Iterable[Entity], num_units: int) -> tuple[list[Entity], int]:
    """Entities that fit in the first ``num_units`` units (after truncation).

    An entity that starts inside but runs past the cut is shortened to end at the
    last kept unit, so its tags stay well-formed; one that starts past the cut is
    dropped. Returns (entities, how many were shortened or dropped).
    """
    clipped: list[Entity] = []
    affected = 0
    for entity in entities:
        if entity.end < num_units:
            clipped.append(entity)
            continue
        affected += 1
        if entity.start < num_units:
            clipped.append(Entity(entity.start, num_units - 1, entity.type))
    return clipped, affected
