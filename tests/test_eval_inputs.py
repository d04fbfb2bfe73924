"""Readers of prediction/gold files: round trips (hypothesis) and one-line errors."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.errors import InputError
from bertkit.evaluate.inputs import (
    load_answer_predictions,
    load_cluener_lines,
    load_label_predictions,
    read_tag_file,
)

_token = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
                 min_size=1, max_size=6).filter(lambda t: t.split() == [t] and
                                                t not in ("-DOCSTART-", "-X-"))
_tag = st.sampled_from(["O", "B-PER", "I-PER", "S_name", "M_name", "E-LOC"])
_sentences = st.lists(st.lists(st.tuples(_token, _tag), min_size=1, max_size=6), min_size=1,
                      max_size=5)


_SCRATCH = tempfile.TemporaryDirectory(prefix="bertkit-eval-inputs-")  # removed at exit


def _write(text: str, suffix: str = ".txt") -> Path:
    # hypothesis reruns a body many times (tmp_path is per test, not per example), so each
    # example gets a fresh file in one scratch folder.
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8",
                                     dir=_SCRATCH.name) as handle:
        handle.write(text)
    return Path(handle.name)


@settings(max_examples=60, deadline=None)
@given(_sentences, st.sampled_from(["", "\n", "\n\n", "-DOCSTART- -X- O\n\n", "-X- O\n"]))
def test_tag_file_round_trip(sentences: list[list[tuple[str, str]]], separator: str) -> None:
    text = separator.join("".join(f"{token} {tag}\n" for token, tag in sentence)
                          for sentence in sentences)
    if separator == "":  # no blank line between sentences: they merge into one
        sentences = [[row for sentence in sentences for row in sentence]]
    path = _write(text)
    read, width = read_tag_file(path)
    assert width == 2
    assert [[tuple(row) for row in s.rows] for s in read] == [list(s) for s in sentences]
    assert read[0].first_line == 1


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8).map(str.strip).filter(bool),
                       st.sampled_from(["0", "1", "entailment", "108"]), max_size=20),
       st.booleans())
def test_label_predictions_round_trip(labels: dict[str, str], as_tsv: bool) -> None:
    if as_tsv:
        labels = {k: v for k, v in labels.items() if "\t" not in k and "\n" not in k
                  and "\r" not in k and k.splitlines() == [k]}
        text = "index\tprediction\n" + "".join(f"{k}\t{v}\n" for k, v in labels.items())
    else:
        text = "".join(json.dumps({"id": k, "label": v}) + "\n" for k, v in labels.items())
    if not labels and as_tsv is False:
        return  # an empty JSON-lines file is not a label file
    loaded, lines = load_label_predictions(_write(text))
    assert loaded == labels
    assert len(lines) == len(labels)


@pytest.mark.parametrize("text, expected", [
    ("a O\nb O O\n", ":2: 3 columns where earlier lines have 2"),
])
def test_tag_file_errors(text: str, expected: str) -> None:
    path = _write(text)
    with pytest.raises(InputError, match=expected):
        read_tag_file(path)


@pytest.mark.parametrize("text, expected", [
    ('{"id": 1}\n', ':1: expected {"id" or "idx", "label"}'),
    ('{"id": 1, "label": [1]}\n', ':1: "label" is a list'),
    ("index\tprediction\n0\t1\textra\n", ":2: expected 2 tab-separated columns"),
    ("0,1\n1,0\n", ':1: expected {"id", "label"} JSON lines or an id<TAB>label TSV'),
])
def test_label_file_errors(text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected.replace("[", r"\[").replace("{", r"\{")):
        load_label_predictions(_write(text))


def test_answer_predictions_and_cluener_errors() -> None:
    with pytest.raises(InputError, match="found a list"):
        load_answer_predictions(_write("[]", ".json"))
    with pytest.raises(InputError, match=r":2:\d+: not valid JSON lines"):
        load_cluener_lines(_write('{"label": {}}\nnot json\n', ".json"))
    with pytest.raises(InputError, match="file not found"):
        load_answer_predictions(Path("/nonexistent/predictions.json"))
