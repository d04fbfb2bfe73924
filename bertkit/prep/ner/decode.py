"""Predicted per-position label ids -> entities in the ORIGINAL text, via the sidecar.

The trainer's predict step calls these once per record:

- `decode_cluener_line(label_ids, entry, id2label)` -> ``{"label": {type: {entity: [[start, end]]}}}``
  (CLUENER's prediction/submission layout, inclusive ends; ``"id"`` added when the
  input had one). Every occurrence of an entity text is kept, in text order.
- `decode_tags(label_ids, entry, id2label)` -> one tag per input unit (for
  ChineseNER's ``char tag`` lines); truncated units get ``O``.

Only positions that hold a unit (sidecar offsets not null) are read, so whatever a
model predicts at ``[CLS]``, ``[SEP]`` or padding is ignored. Spans are rebuilt with
conlleval's chunk rules (`ner.tags.decode_entities`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bertkit.errors import InputError
from bertkit.prep.ner.sidecar import NerSidecarEntry, load_ner_sidecar
from bertkit.prep.ner.tags import OUTSIDE, Entity, decode_entities, get_scheme, split_tag

__all__ = [
    "decode_cluener_line",
    "decode_tags",
    "decode_unit_entities",
    "load_id2label",
    "load_ner_sidecar",
]

Id2Label = Mapping[int, str] | Sequence[str]


def load_id2label(label2id_path: str | Path) -> dict[int, str]:
    """The inverse of a converter's ``label2id.json``."""
    path = Path(label2id_path)
    try:
        label2id = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(path, f"cannot read label2id: {error}") from None
    return {int(index): str(label) for label, index in label2id.items()}


def _label_of(id2label: Id2Label, label_id: int, position: int) -> str:
    try:
        return id2label[label_id]
    except (KeyError, IndexError):
        raise ValueError(f"label id {label_id} at position {position} has no label") from None


def _check_scheme(id2label: Id2Label, scheme: str) -> None:
    tag_scheme = get_scheme(scheme)
    labels = id2label.values() if isinstance(id2label, Mapping) else id2label
    for label in labels:
        if label == OUTSIDE:
            continue
        prefix, _ = split_tag(label)
        if label[1] != tag_scheme.separator or prefix not in tag_scheme.per_type_prefixes:
            raise ValueError(f"label {label!r} does not belong to the {scheme} scheme")


def unit_tags(label_ids: Sequence[int], entry: NerSidecarEntry, id2label: Id2Label) -> list[str]:
    """The predicted tag of every kept unit (positions with offsets), in unit order."""
    return [_label_of(id2label, int(label_ids[position]), position)
            for position in entry.unit_positions]


def decode_unit_entities(label_ids: Sequence[int], entry: NerSidecarEntry,
                         id2label: Id2Label) -> list[Entity]:
    """Entities over unit indices (units = characters for CLUENER)."""
    return decode_entities(unit_tags(label_ids, entry, id2label))


def decode_tags(label_ids: Sequence[int], entry: NerSidecarEntry, id2label: Id2Label,
                *, as_scheme: str | None = None) -> list[str]:
    """One tag per input unit; units cut off by truncation get ``O``.

    Without ``as_scheme`` the tags are the model's own labels as predicted. With
    ``as_scheme`` (e.g. ``"iob2"`` for conlleval) the decoded entities are re-tagged
    in that scheme, which also repairs ill-formed predicted sequences.
    """
    tags = unit_tags(label_ids, entry, id2label)
    if as_scheme is not None:
        tags = get_scheme(as_scheme).encode(len(tags), decode_entities(tags))
    return tags + [OUTSIDE] * (entry.num_units - len(tags))


def decode_cluener_line(label_ids: Sequence[int], entry: NerSidecarEntry, id2label: Id2Label,
                        scheme: str | None = None) -> dict[str, Any]:
    """CLUENER's ``{"label": {type: {entity_text: [[start, end], ...]}}}`` for one record.

    ``start``/``end`` are inclusive character offsets in ``entry.text``. ``scheme``,
    when given, is checked against ``id2label`` (a mismatch raises ValueError).
    """
    if scheme is not None:
        _check_scheme(id2label, scheme)
    positions = entry.unit_positions
    spans: dict[str, dict[str, list[list[int]]]] = {}
    for entity in decode_unit_entities(label_ids, entry, id2label):
        start_pair = entry.offsets[positions[entity.start]]
        end_pair = entry.offsets[positions[entity.end]]
        assert start_pair is not None and end_pair is not None
        start, end = start_pair[0], end_pair[1] - 1
        spans.setdefault(entity.type, {}).setdefault(entry.text[start:end + 1], []).append(
            [start, end])
    line: dict[str, Any] = {}
    if entry.example_id is not None:
        line["id"] = entry.example_id
    line["label"] = spans
    return line
