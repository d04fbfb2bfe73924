"""CLUENER2020: the official score.py figure on the real baseline predictions, per type,
plus the strict span-level score and the line-count check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bertkit.errors import InputError
from bertkit.evaluate import evaluate
from bertkit.evaluate.cluener import CLUENER_TYPES, score_cluener

# score.py's per-type F1 on these files, as recorded in cluener2020/PROVENANCE.md (4 places).
OFFICIAL_PER_TYPE = {
    "address": 0.5181, "book": 0.6691, "company": 0.6647, "game": 0.7094,
    "government": 0.7352, "movie": 0.5974, "name": 0.7597, "organization": 0.5411,
    "position": 0.7240, "scene": 0.5532,
}


@pytest.fixture(scope="module")
def baseline_result(shared_data: Path) -> dict:
    root = shared_data / "cluener2020"
    return evaluate(root / "baseline_predictions" / "ner_predict_dev.json", root / "dev.json")


def test_macro_f1_matches_official_score_py(baseline_result: dict) -> None:
    assert baseline_result["task"] == "cluener"
    assert baseline_result["macro_f1"] == pytest.approx(0.6471829433597345, abs=1e-9)


def test_per_type_matches_official_score_py(baseline_result: dict) -> None:
    per_type = baseline_result["per_type"]
    assert list(per_type) == list(CLUENER_TYPES)
    for entity_type, f1 in OFFICIAL_PER_TYPE.items():
        assert round(per_type[entity_type]["f1"], 4) == f1, entity_type
    assert sum(v["f1"] for v in per_type.values()) / 10 == pytest.approx(
        baseline_result["macro_f1"], abs=1e-12)


def test_gold_against_itself_is_perfect(shared_data: Path) -> None:
    gold = shared_data / "cluener2020" / "dev.json"
    result = evaluate(gold, gold, task="cluener")
    assert result["macro_f1"] == 1.0
    assert result["strict"]["micro"]["f1"] == 1.0
    assert result["strict"]["micro"]["support"] == 3072  # spans in dev (PROVENANCE.md)


def test_strings_ignore_position_but_strict_does_not() -> None:
    gold = [{"name": {"叶老桂": [[9, 11]]}}, {"company": {"浙商银行": [[0, 3]]}}]
    predicted = [{"name": {"叶老桂": [[0, 2]]}}, {"company": {"浙商银行": [[0, 3]]},
                                                 "name": {"浙商": [[0, 1]]}}]
    result = score_cluener(predicted, gold)
    assert result["per_type"]["name"]["precision"] == 0.5  # 叶老桂 right, 浙商 wrong
    assert result["per_type"]["name"]["recall"] == 1.0
    assert result["per_type"]["company"]["f1"] == 1.0
    assert result["strict"]["per_type"]["name"]["true_positive"] == 0  # wrong position
    assert result["strict"]["micro"]["true_positive"] == 1
    # Types never predicted nor present score 0 instead of dividing by zero.
    assert result["per_type"]["movie"]["f1"] == 0.0
    assert result["macro_f1"] == pytest.approx((2 * 0.5 / 1.5 + 1.0) / 10)


def test_repeated_strings_count_once_per_line() -> None:
    gold = [{"name": {"张三": [[0, 1], [5, 6]]}}]
    predicted = [{"name": {"张三": [[0, 1]]}}]
    result = score_cluener(predicted, gold)
    assert result["per_type"]["name"]["f1"] == 1.0
    assert result["strict"]["per_type"]["name"]["recall"] == 0.5


def test_line_count_mismatch_is_an_error(tmp_path: Path, shared_data: Path) -> None:
    source = shared_data / "cluener2020" / "baseline_predictions" / "ner_predict_dev.json"
    short = tmp_path / "short.json"
    short.write_text("\n".join(source.read_text(encoding="utf-8").splitlines()[:-1]),
                     encoding="utf-8")
    with pytest.raises(InputError, match="1342 records .*dev.json has 1343"):
        evaluate(short, shared_data / "cluener2020" / "dev.json")


def test_bad_label_shape_names_the_line(tmp_path: Path, shared_data: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"label": {"name": {"x": [[0, 1]]}}}) + "\n"
                   + json.dumps({"label": {"name": ["x"]}}) + "\n")
    with pytest.raises(InputError) as caught:
        evaluate(bad, shared_data / "cluener2020" / "dev.json", task="cluener")
    assert str(caught.value).startswith(f"{bad}:2: ")


def test_unlabelled_test_split_as_gold_is_an_error(shared_data: Path) -> None:
    root = shared_data / "cluener2020"
    with pytest.raises(InputError, match=r"test.json:1: gold line has no \"label\""):
        evaluate(root / "baseline_predictions" / "ner_predict_dev.json", root / "test.json",
                 task="cluener")
