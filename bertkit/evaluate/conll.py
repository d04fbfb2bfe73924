"""Entity-level scoring of tag sequences: conlleval / seqeval default mode, and seqeval strict.

Default mode follows conlleval's chunk boundary rules (reference-formats E.4), which accept
IOB1, IOB2 and IOBES alike (a chunk may open on ``I-``). BMES tags (``M``, and CLUENER's
``B_type`` underscore style) are mapped to IOBES first, since conlleval has no ``M`` rules.
Strict mode recognises entities only by the scheme's own start/inside/end patterns, like
seqeval's ``mode="strict"``; ill-formed fragments are not entities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bertkit.evaluate.prf import Counts

Entity = tuple[int, str, int, int]  # (sentence index, type, first token, last token)

SCHEMES = ("IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU")


def split_tag(tag: str) -> tuple[str, str]:
    """``B-PER`` -> (``B``, ``PER``); ``O`` -> (``O``, ``""``). Split at the first hyphen."""
    prefix, _, entity_type = tag.partition("-")
    return prefix, entity_type


def normalize_tag(tag: str) -> str:
    """Map BMES spellings onto IOBES: ``M`` -> ``I`` and ``B_x`` -> ``B-x``."""
    if len(tag) > 1 and tag[1] == "_" and tag[0] in "BMESIO":
        tag = tag[0] + "-" + tag[2:]
    if tag.startswith("M-"):
        tag = "I-" + tag[2:]
    return tag


def _chunk_ends(prev_prefix: str, prefix: str, prev_type: str, entity_type: str) -> bool:
    if prev_prefix in ("E", "S"):
        return True
    if prev_prefix == "B" and prefix in ("B", "S", "O"):
        return True
    if prev_prefix == "I" and prefix in ("B", "S", "O"):
        return True
    return prev_prefix not in ("O", ".") and prev_type != entity_type


def _chunk_starts(prev_prefix: str, prefix: str, prev_type: str, entity_type: str) -> bool:
    if prefix in ("B", "S"):
        return True
    if prefix in ("E", "I") and prev_prefix in ("E", "S", "O"):
        return True
    return prefix not in ("O", ".") and prev_type != entity_type


def conlleval_entities(tags: Sequence[str], sentence: int = 0) -> list[Entity]:
    """Chunks of one sentence by conlleval's rules (a sentence boundary acts like ``O``)."""
    entities: list[Entity] = []
    prev_prefix, prev_type = "O", ""
    start = -1
    for position, tag in enumerate([*tags, "O"]):
        prefix, entity_type = split_tag(normalize_tag(tag))
        if start >= 0 and _chunk_ends(prev_prefix, prefix, prev_type, entity_type):
            entities.append((sentence, prev_type, start, position - 1))
            start = -1
        if _chunk_starts(prev_prefix, prefix, prev_type, entity_type):
            start = position
        prev_prefix, prev_type = prefix, entity_type
    return entities


# --- strict mode -----------------------------------------------------------------------
# Patterns are (previous prefixes, current prefixes, type condition) with "same"/"diff"/"any".
_Pattern = tuple[str, str, str]


@dataclass(frozen=True)
class StrictScheme:
    allowed: str
    start: tuple[_Pattern, ...]
    inside: tuple[_Pattern, ...]
    end: tuple[_Pattern, ...]


_ANY = "IOBESUL"
STRICT_SCHEMES: dict[str, StrictScheme] = {
    "IOB1": StrictScheme(
        "IOB",
        start=(("O", "I", "any"), ("I", "I", "diff"), ("B", "I", "any"),
               ("I", "B", "same"), ("B", "B", "same")),
        inside=(("B", "I", "same"), ("I", "I", "same")),
        end=(("I", "I", "diff"), ("I", "O", "any"), ("I", "B", "any"), ("B", "O", "any"),
             ("B", "I", "diff"), ("B", "B", "same")),
    ),
    "IOB2": StrictScheme(
        "IOB",
        start=((_ANY, "B", "any"),),
        inside=(("B", "I", "same"), ("I", "I", "same")),
        end=(("I", "O", "any"), ("I", "I", "diff"), ("I", "B", "any"), ("B", "O", "any"),
             ("B", "I", "diff"), ("B", "B", "any")),
    ),
    "IOE1": StrictScheme(
        "IOE",
        start=(("O", "I", "any"), ("I", "I", "diff"), ("E", "I", "any"), ("E", "E", "same")),
        inside=(("I", "I", "same"), ("I", "E", "same")),
        end=(("I", "I", "diff"), ("I", "O", "any"), ("I", "E", "diff"), ("E", "I", "same"),
             ("E", "E", "same")),
    ),
    "IOE2": StrictScheme(
        "IOE",
        start=(("O", "I", "any"), ("O", "E", "any"), ("E", "I", "any"), ("E", "E", "any"),
               ("I", "I", "diff"), ("I", "E", "diff")),
        inside=(("I", "E", "same"), ("I", "I", "same")),
        end=(("E", _ANY, "any"),),
    ),
    "IOBES": StrictScheme(
        "IOBES",
        start=((_ANY, "B", "any"), (_ANY, "S", "any")),
        inside=(("B", "I", "same"), ("B", "E", "same"), ("I", "I", "same"), ("I", "E", "same")),
        end=(("S", _ANY, "any"), ("E", _ANY, "any")),
    ),
    "BILOU": StrictScheme(
        "BILOU",
        start=((_ANY, "B", "any"), (_ANY, "U", "any")),
        inside=(("B", "I", "same"), ("B", "L", "same"), ("I", "I", "same"), ("I", "L", "same")),
        end=(("U", _ANY, "any"), ("L", _ANY, "any")),
    ),
}


def _strict_token(tag: str) -> tuple[str, str]:
    # seqeval strict: prefix = first char, type = the rest without surrounding delimiters.
    return tag[0], tag[1:].strip("-") or "_"


def _matches(patterns: tuple[_Pattern, ...], prev: tuple[str, str], cur: tuple[str, str]) -> bool:
    for prev_prefixes, current_prefix, condition in patterns:
        if prev[0] in prev_prefixes and cur[0] in current_prefix and (
                condition == "any" or (condition == "same") == (prev[1] == cur[1])):
            return True
    return False


def strict_entities(tags: Sequence[str], scheme: str, sentence: int = 0) -> list[Entity]:
    """Entities that the scheme's patterns fully recognise; raises ValueError on a bad prefix."""
    rules = STRICT_SCHEMES[scheme]
    outside = ("O", "_")
    tokens = [_strict_token(normalize_tag(tag)) for tag in tags] + [outside]
    for index, token in enumerate(tokens):
        if token[0] not in rules.allowed:
            raise ValueError(f"tag {tags[index]!r} at token {index + 1} is not valid in {scheme}")
    entities: list[Entity] = []
    position, prev = 0, outside
    while position < len(tokens):
        token = tokens[position]
        if _matches(rules.start, prev, token):
            end = position + 1
            inner_prev = token
            while end < len(tokens) and _matches(rules.inside, inner_prev, tokens[end]):
                inner_prev = tokens[end]
                end += 1
            # The appended outside token never continues an entity, so end < len(tokens).
            if _matches(rules.end, tokens[end - 1], tokens[end]):
                entities.append((sentence, token[1], position, end - 1))
            position = end
        else:
            position += 1
        prev = tokens[position - 1]
    return entities


def detect_scheme(sentences: Sequence[Sequence[str]]) -> str:
    """IOBES if any E/S/M prefix occurs, IOB2 if any B occurs, else IOB1 (for --strict)."""
    prefixes = {normalize_tag(tag)[0] for sentence in sentences for tag in sentence}
    if prefixes & {"E", "S"}:
        return "IOBES"
    if prefixes & {"L", "U"}:
        return "BILOU"
    return "IOB2" if "B" in prefixes else "IOB1"


def score_tag_sequences(
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    strict: bool = False,
    scheme: str | None = None,
) -> dict[str, Any]:
    """Micro and per-type P/R/F1 over entities, plus token accuracy; sentences paired by index."""
    used_scheme = (scheme or detect_scheme(gold)) if strict else None
    gold_entities: set[Entity] = set()
    predicted_entities: set[Entity] = set()
    correct_tokens = total_tokens = 0
    for index, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        if used_scheme is None:
            gold_entities.update(conlleval_entities(gold_tags, index))
            predicted_entities.update(conlleval_entities(predicted_tags, index))
        else:
            gold_entities.update(strict_entities(gold_tags, used_scheme, index))
            predicted_entities.update(strict_entities(predicted_tags, used_scheme, index))
        total_tokens += len(gold_tags)
        correct_tokens += sum(1 for g, p in zip(gold_tags, predicted_tags) if g == p)
    types = sorted({entity[1] for entity in gold_entities | predicted_entities})
    per_type = {t: Counts() for t in types}
    for entity in predicted_entities:
        if entity in gold_entities:
            per_type[entity[1]].true_positive += 1
        else:
            per_type[entity[1]].false_positive += 1
    for entity in gold_entities - predicted_entities:
        per_type[entity[1]].false_negative += 1
    micro = Counts()
    for counts in per_type.values():
        micro.add(counts)
    return {
        "precision": micro.precision(),
        "recall": micro.recall(),
        "f1": micro.f1(),
        "accuracy": correct_tokens / total_tokens if total_tokens else 0.0,
        "mode": "strict" if used_scheme else "default",
        "scheme": used_scheme,
        "micro": micro.as_dict(),
        "per_type": {t: per_type[t].as_dict() for t in types},
        "sentences": len(gold),
        "tokens": total_tokens,
    }
