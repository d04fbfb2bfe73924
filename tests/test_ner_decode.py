"""Tag schemes and decoding: spans -> tags -> spans, against seqeval's conlleval rules."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from bertkit.prep.ner.decode import (
    decode_cluener_line,
    decode_tags,
    load_id2label,
    load_ner_sidecar,
)
from bertkit.prep.ner.sidecar import NerSidecarEntry
from bertkit.prep.ner.tags import (
    CLUENER_TYPES,
    SCHEMES,
    Entity,
    clip_entities,
    decode_entities,
    get_scheme,
    resolve_overlaps,
)

TYPES = ("PER", "LOC", "ORG")


def test_cluener_label_ids_are_the_official_label2id() -> None:
    # CLUENER2020 tf_version/label2id.json: O=0, then S_/B_/M_/E_ per type in the official order.
    label2id = get_scheme("cluener").label2id(CLUENER_TYPES)
    assert len(label2id) == 41
    assert label2id["O"] == 0
    assert [label2id[f"{p}_address"] for p in "SBME"] == [1, 2, 3, 4]
    assert label2id["S_book"] == 5
    assert label2id["S_name"] == 1 + 4 * 6
    assert label2id["E_scene"] == 40


def test_bio_and_bioes_label_orders() -> None:
    assert get_scheme("bio").labels(TYPES) == [
        "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    assert get_scheme("iobes").labels(("PER",)) == ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    with pytest.raises(ValueError, match="unknown tag scheme"):
        get_scheme("bilou")


@st.composite
def entity_layouts(draw: st.DrawFn) -> tuple[int, list[Entity]]:
    """A sentence length and non-overlapping entities inside it."""
    length = draw(st.integers(0, 40))
    entities = []
    unit = 0
    while unit < length:
        gap = draw(st.integers(0, 3))
        size = draw(st.integers(1, 6))
        start = unit + gap
        if start + size > length:
            break
        entities.append(Entity(start, start + size - 1, draw(st.sampled_from(TYPES))))
        unit = start + size  # adjacent entities (gap 0) are the interesting case
    return length, entities


@settings(max_examples=300, deadline=None)
@given(layout=entity_layouts(), scheme=st.sampled_from(sorted(SCHEMES)))
def test_encode_then_decode_gives_back_the_entities(layout, scheme) -> None:
    length, entities = layout
    tags = get_scheme(scheme).encode(length, entities)
    assert len(tags) == length
    assert decode_entities(tags) == entities


TAG_ALPHABET = ["O"] + [f"{p}-{t}" for p in "BIES" for t in ("PER", "LOC")]


@settings(max_examples=400, deadline=None)
@given(tags=st.lists(st.sampled_from(TAG_ALPHABET), max_size=25))
def test_decoding_any_sequence_matches_seqeval_default_mode(tags) -> None:
    # seqeval's default mode implements conlleval's chunk rules; ill-formed predictions
    # (I after O, E after E, type switches) must decode the same way here.
    expected = [Entity(start, end, entity_type) for entity_type, start, end in get_entities(tags)]
    assert sorted(decode_entities(tags)) == sorted(expected)


@settings(max_examples=200, deadline=None)
@given(tags=st.lists(st.sampled_from(["O"] + [f"{p}_{t}" for p in "SBME" for t in ("name",
                                                                                   "game")]),
                     max_size=25))
def test_cluener_bmes_tags_decode_like_seqeval_after_m_to_i(tags) -> None:
    as_conll = [tag if tag == "O" else tag.replace("M_", "I-").replace("_", "-", 1)
                for tag in tags]
    expected = [Entity(s, e, t) for t, s, e in get_entities(as_conll)]
    assert sorted(decode_entities(tags)) == sorted(expected)


def test_overlap_rule_keeps_the_longer_entity() -> None:
    book = Entity(15, 34, "book")
    first, second = Entity(16, 19, "company"), Entity(23, 26, "company")
    kept, dropped = resolve_overlaps([first, book, second], CLUENER_TYPES)
    assert kept == [book]
    assert sorted(loser for loser, _ in dropped) == [first, second]
    # equal length: the earlier start wins, then the earlier type in the official order
    kept, _ = resolve_overlaps([Entity(2, 4, "name"), Entity(1, 3, "name")], CLUENER_TYPES)
    assert kept == [Entity(1, 3, "name")]
    kept, _ = resolve_overlaps([Entity(1, 3, "name"), Entity(1, 3, "book")], CLUENER_TYPES)
    assert kept == [Entity(1, 3, "book")]
    # exact duplicates are one entity, not an overlap
    kept, dropped = resolve_overlaps([Entity(1, 3, "name")] * 2, CLUENER_TYPES)
    assert (kept, dropped) == ([Entity(1, 3, "name")], [])


def test_clip_entities_shortens_the_entity_cut_by_truncation() -> None:
    entities = [Entity(0, 1, "PER"), Entity(3, 6, "LOC"), Entity(8, 9, "ORG")]
    assert clip_entities(entities, 5) == ([Entity(0, 1, "PER"), Entity(3, 4, "LOC")], 2)


def _entry(text: str, kept: int | None = None, example_id=None) -> NerSidecarEntry:
    kept = len(text) if kept is None else kept
    offsets = (None, *[(i, i + 1) for i in range(kept)], None)
    return NerSidecarEntry(record=0, line=1, text=text, num_units=len(text), offsets=offsets,
                           example_id=example_id)


def test_decode_cluener_line_reads_only_unit_positions() -> None:
    id2label = get_scheme("cluener").labels(CLUENER_TYPES)
    label2id = {label: index for index, label in enumerate(id2label)}
    text = "叶老桂在浙商银行，叶老桂"
    tags = ["B_name", "M_name", "E_name", "O", "B_company", "M_company", "M_company",
            "E_company", "O", "B_name", "M_name", "E_name"]
    # garbage at [CLS], [SEP] and padding must not matter
    label_ids = [7] + [label2id[tag] for tag in tags] + [9, 3, 3]
    line = decode_cluener_line(label_ids, _entry(text, example_id=4), id2label, scheme="cluener")
    assert line == {"id": 4, "label": {"name": {"叶老桂": [[0, 2], [9, 11]]},
                                       "company": {"浙商银行": [[4, 7]]}}}
    with pytest.raises(ValueError, match="does not belong"):
        decode_cluener_line(label_ids, _entry(text), id2label, scheme="bioes")
    with pytest.raises(ValueError, match="no label"):
        decode_cluener_line([0, 99] + [0] * 12, _entry(text), id2label)


def test_decode_tags_pads_truncated_units_with_o_and_can_retag() -> None:
    id2label = {0: "O", 1: "B-PER", 2: "I-PER", 3: "E-PER", 4: "S-PER"}
    entry = _entry("abcdef", kept=4)
    label_ids = np.array([0, 1, 3, 0, 4, 0, 0])
    assert decode_tags(label_ids, entry, id2label) == ["B-PER", "E-PER", "O", "S-PER", "O", "O"]
    assert decode_tags(label_ids, entry, id2label, as_scheme="iob2") == [
        "B-PER", "I-PER", "O", "B-PER", "O", "O"]


def test_sidecar_and_label2id_loaders(tmp_path) -> None:
    sidecar = tmp_path / "dev.offsets.jsonl"
    sidecar.write_text(json.dumps({"record": 0, "line": 3, "id": 5, "text": "ab", "units": 2,
                                   "offsets": [None, [0, 1], [1, 2], None]}) + "\n",
                       encoding="utf-8")
    [entry] = load_ner_sidecar(sidecar)
    assert entry.unit_positions == [1, 2] and entry.example_id == 5 and entry.line == 3
    sidecar.write_text('{"record": 1, "line": 3}\n', encoding="utf-8")
    from bertkit.errors import InputError

    with pytest.raises(InputError, match=":1:"):
        load_ner_sidecar(sidecar)
    label2id = tmp_path / "label2id.json"
    label2id.write_text('{"O": 0, "B-PER": 1}', encoding="utf-8")
    assert load_id2label(label2id) == {0: "O", 1: "B-PER"}
