"""SQuAD v2.0 scoring: one hand-computed case per rule of the official script, and runs on
the real v2-layout file (CS224n split of the official dev set)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bertkit.errors import InputError
from bertkit.evaluate import evaluate
from bertkit.evaluate.squad_v1 import GoldQuestion, iter_gold_questions
from bertkit.evaluate.squad_v2 import compute_f1, score_squad_v2


def _score(questions, predictions, na_probs=None, thresh=1.0):
    return score_squad_v2(questions, predictions, na_probs, thresh)


def test_empty_gold_needs_empty_prediction() -> None:
    questions = [GoldQuestion("n1", ()), GoldQuestion("n2", ())]
    result = _score(questions, {"n1": "", "n2": "Paris"})
    assert (result["exact"], result["f1"], result["total"]) == (50.0, 50.0, 2)
    assert result["NoAns_total"] == 2 and "HasAns_total" not in result


def test_answers_that_normalise_to_nothing_count_as_empty_gold() -> None:
    # "The" normalises to "", so the gold list becomes [""]; the question still has answers,
    # so it is in the HasAns bucket (the official script's qid_to_has_ans uses the raw list).
    questions = [GoldQuestion("q", ("The",))]
    assert _score(questions, {"q": ""})["HasAns_exact"] == 100.0
    assert _score(questions, {"q": "the"})["f1"] == 100.0
    assert _score(questions, {"q": "an answer"})["f1"] == 0.0


def test_empty_prediction_against_real_answer_scores_zero() -> None:
    result = _score([GoldQuestion("q", ("Denver Broncos",))], {"q": ""})
    assert result["exact"] == 0.0 and result["f1"] == 0.0
    assert compute_f1("", "") == 1 and compute_f1("a", "") == 1  # both normalise to nothing


def test_partial_overlap_f1_is_max_over_golds() -> None:
    questions = [GoldQuestion("q", ("Santa Clara, California", "Levi's Stadium"))]
    result = _score(questions, {"q": "Santa Clara"})
    assert result["f1"] == pytest.approx(80.0)  # P=1, R=2/3


def test_threshold_replaces_scores_only_above_it() -> None:
    questions = [GoldQuestion("has", ("Paris",)), GoldQuestion("none", ())]
    predictions = {"has": "Paris", "none": "London"}
    plain = _score(questions, predictions)
    assert plain["exact"] == 50.0
    above = _score(questions, predictions, {"has": 0.7, "none": 0.7}, thresh=0.5)
    # na_prob > thresh: answerable -> 0, unanswerable -> 1, whatever the text.
    assert above["HasAns_exact"] == 0.0 and above["NoAns_exact"] == 100.0
    equal = _score(questions, predictions, {"has": 0.5, "none": 0.5}, thresh=0.5)
    assert equal["exact"] == 50.0  # not strictly above: unchanged


def test_best_threshold_search_hand_computed() -> None:
    questions = [GoldQuestion("a", ("x",)), GoldQuestion("b", ("y z",)), GoldQuestion("n", ())]
    predictions = {"a": "x", "b": "y", "n": "something"}
    na_probs = {"a": 0.1, "n": 0.3, "b": 0.6}
    result = _score(questions, predictions, na_probs)
    # Start at 1 (n predicted null); a: +1 -> 2 (best, thresh 0.1); n: -1 -> 1;
    # b: +exact 0 -> 1 (exact) / +f1 2/3 -> 1.667 (f1 stays below 2).
    assert result["best_exact"] == pytest.approx(100 * 2 / 3)
    assert result["best_exact_thresh"] == 0.1
    assert result["best_f1"] == pytest.approx(100 * 2 / 3)
    assert result["best_f1_thresh"] == 0.1


def test_ties_among_na_probs_follow_the_na_prob_file_order() -> None:
    questions = [GoldQuestion("a", ("x",)), GoldQuestion("n", ())]
    predictions = {"a": "x", "n": "wrong"}
    # a first: 1 -> 2 (new best at 0.2) -> 1.  n first: 1 -> 0 -> 1 (never above 1).
    a_first = _score(questions, predictions, {"a": 0.2, "n": 0.2})
    n_first = _score(questions, predictions, {"n": 0.2, "a": 0.2})
    assert (a_first["best_exact"], a_first["best_exact_thresh"]) == (100.0, 0.2)
    assert (n_first["best_exact"], n_first["best_exact_thresh"]) == (50.0, 0.0)


def test_missing_predictions_count_as_wrong() -> None:
    # The official v2.0 script leaves "b" out of the total (100.0) and then fails in the
    # HasAns breakdown; a missing answer is wrong here, as in v1.1.
    questions = [GoldQuestion("a", ("x",)), GoldQuestion("b", ("y",)), GoldQuestion("n", ())]
    result = _score(questions, {"a": "x", "n": "", "zzz": "?"})
    assert result["total"] == 3 and result["exact"] == 100.0 * 2 / 3
    assert result["HasAns_total"] == 2 and result["HasAns_exact"] == 50.0
    assert result["missing_ids"] == ["b"] and result["unknown_ids"] == ["zzz"]
    assert result["HasAns_total"] + result["NoAns_total"] == result["total"]


def test_key_order_matches_official_output() -> None:
    questions = [GoldQuestion("a", ("x",)), GoldQuestion("n", ())]
    result = _score(questions, {"a": "x", "n": ""}, {"a": 0.0, "n": 0.5})
    assert list(result)[:13] == [
        "exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact",
        "NoAns_f1", "NoAns_total", "best_exact", "best_exact_thresh", "best_f1",
        "best_f1_thresh"]


# --- the real v2-layout file ------------------------------------------------------------

@pytest.fixture(scope="module")
def v2_gold(shared_data: Path) -> Path:
    return shared_data / "squad_v2.0" / "cs224n-dev-v2.0.json"


@pytest.fixture(scope="module")
def v2_questions(v2_gold: Path) -> list[GoldQuestion]:
    return list(iter_gold_questions(json.loads(v2_gold.read_text())["data"]))


def test_real_file_all_empty_predictions(tmp_path: Path, v2_gold: Path,
                                         v2_questions: list[GoldQuestion]) -> None:
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps({q.qid: "" for q in v2_questions}))
    na_probs = tmp_path / "null_odds.json"
    na_probs.write_text(json.dumps({q.qid: 0.0 for q in v2_questions}))
    result = evaluate(predictions, v2_gold, na_prob_file=na_probs)
    assert result["task"] == "squad2"
    assert result["total"] == 6078 and result["NoAns_total"] == 3168
    assert result["exact"] == pytest.approx(100 * 3168 / 6078, abs=1e-9)
    assert result["f1"] == pytest.approx(100 * 3168 / 6078, abs=1e-9)
    assert (result["HasAns_exact"], result["NoAns_exact"]) == (0.0, 100.0)
    assert result["best_exact"] == pytest.approx(100 * 3168 / 6078, abs=1e-9)
    assert result["best_exact_thresh"] == 0.0


def test_real_file_gold_first_answer_and_thresholding(tmp_path: Path, v2_gold: Path,
                                                      v2_questions: list[GoldQuestion]) -> None:
    predictions = {q.qid: (q.answers[0] if q.answers else "") for q in v2_questions}
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions))
    result = evaluate(path, v2_gold)
    assert (result["exact"], result["f1"]) == (100.0, 100.0)
    assert result["HasAns_total"] == 2910
    # Every question marked "no answer" by its na-prob: only unanswerable ones stay right.
    na_probs = tmp_path / "na.json"
    na_probs.write_text(json.dumps({q.qid: 0.9 for q in v2_questions}))
    thresholded = evaluate(path, v2_gold, na_prob_file=na_probs, na_prob_thresh=0.5)
    assert thresholded["exact"] == pytest.approx(100 * 3168 / 6078, abs=1e-9)
    # The search ends after every question with all scores raw: 100%, found at 0.9.
    assert (thresholded["best_exact"], thresholded["best_exact_thresh"]) == (100.0, 0.9)


def test_v2_scorer_equals_v1_on_v1_data(shared_data: Path) -> None:
    """On data without empty answers, the v2 rules reduce to v1.1 (real predictions)."""
    squad = shared_data / "squad_v1.1"
    predictions = json.loads(
        (squad / "predictions" / "bert_ensemble_google_ai_language.json").read_text())
    questions = list(iter_gold_questions(json.loads((squad / "dev-v1.1.json").read_text())["data"]))
    result = score_squad_v2(questions, predictions)
    assert result["exact"] == pytest.approx(86.20624408703878, abs=1e-9)
    assert result["f1"] == pytest.approx(92.19557978351145, abs=1e-9)


@pytest.mark.parametrize("content, problem", [
    ('{"q1": NaN}', "NaN"),
    ('{"q1": "0.3"}', "expected a number"),
    ('[0.1]', "expected an object"),
])
def test_bad_na_probs_are_one_line_errors(tmp_path: Path, content: str, problem: str) -> None:
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"version": "v2.0", "data": [{"paragraphs": [{"context": "c",
                    "qas": [{"id": "q1", "answers": [], "is_impossible": True}]}]}]}))
    predictions = tmp_path / "p.json"
    predictions.write_text('{"q1": ""}')
    na = tmp_path / "na.json"
    na.write_text(content)
    with pytest.raises(InputError, match=problem) as caught:
        evaluate(predictions, gold, task="squad2", na_prob_file=na)
    assert "\n" not in str(caught.value)


def test_missing_na_prob_is_an_error(tmp_path: Path, v2_gold: Path,
                                     v2_questions: list[GoldQuestion]) -> None:
    predictions = tmp_path / "p.json"
    predictions.write_text(json.dumps({q.qid: "" for q in v2_questions[:3]}))
    na = tmp_path / "na.json"
    na.write_text(json.dumps({v2_questions[0].qid: 0.1}))
    with pytest.raises(InputError, match=f"no na-prob for 2 .*{v2_questions[1].qid}"):
        evaluate(predictions, v2_gold, na_prob_file=na)
