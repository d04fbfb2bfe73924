"""`bertkit eval` cannot be fooled (issue 11): the gold file decides the task, predictions
that do not fit it are an error naming both files, and a missing prediction counts as wrong
in every task, with `--strict` turning missing or unknown ids into exit 1.

Expected figures are computed here from the real dev files, not by bertkit's scorers.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from eval_support import error_line as _error_line
from eval_support import run_eval as _eval

from bertkit.evaluate import evaluate


def _squad_ids(gold: Path) -> list[tuple[str, list[str]]]:
    data = json.loads(gold.read_text(encoding="utf-8"))["data"]
    return [(qa["id"], [a["text"] for a in qa["answers"]])
            for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]]


def _glue_rows(gold: Path, label_column: int) -> list[str]:
    rows = gold.read_text(encoding="utf-8-sig").splitlines()[1:]
    return [row.split("\t")[label_column] for row in rows if row]


# --- item 3: the gold file decides the task ---------------------------------------------

@pytest.mark.parametrize("name, content", [
    ("hello.json", '"hello"'),
    ("garbage.bin", bytes(random.Random(11).randrange(256) for _ in range(400))),
    ("notes.txt", "some text here\nand more text\n"),
    ("list.json", '["a", "b"]'),
    ("empty.json", ""),
])
def test_predictions_that_do_not_fit_squad_gold_exit_1_naming_both(
        shared_data: Path, tmp_path: Path, name: str, content: str | bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    gold = shared_data / "squad_v1.1" / "dev-v1.1.json"
    result = _eval(path, "--gold", gold)
    assert result.exit_code == 1  # was 0 with a CoNLL score of 0, --gold ignored
    line = _error_line(result)
    assert line.startswith(f"error: {path}: ") and f"squad gold file {gold}" in line


def test_text_against_cluener_gold_blames_the_predictions(shared_data: Path,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "predictions.txt"
    path.write_text("彭小军 认为\n温格 的 球队\n", encoding="utf-8")
    gold = shared_data / "cluener2020" / "dev.json"
    result = _eval(path, "--gold", gold)
    assert result.exit_code == 1
    line = _error_line(result)
    # It used to be read as CoNLL and the error named the gold file as the broken one.
    assert line.startswith(f"error: {path}: ") and f"cluener gold file {gold}" in line


def test_explicit_task_still_checks_the_predictions_fit(shared_data: Path,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('"hello"')
    gold = shared_data / "squad_v1.1" / "dev-v1.1.json"
    result = _eval(path, "--gold", gold, "--task", "conll")
    assert result.exit_code == 1 and str(gold) in _error_line(result)


def test_headerless_glue_predictions_tsv_scores(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "glue" / "MRPC" / "dev.tsv"
    labels = _glue_rows(gold, 0)
    path = tmp_path / "MRPC.tsv"  # id<TAB>label from the first line, no header
    flipped = {3, 10, 200}
    path.write_text("".join(f"{i}\t{1 - int(v) if i in flipped else v}\n"
                            for i, v in enumerate(labels)))
    result = _eval(path, "--gold", gold, "--json", "--verbose")
    assert result.exit_code == 0, result.stderr
    scored = json.loads(result.stdout)
    assert scored["task"] == "glue-mrpc"
    assert scored["accuracy"] == (len(labels) - len(flipped)) / len(labels)
    # --verbose says which detection rule fired.
    assert "detection: from the gold file: gold TSV in a folder named MRPC" in result.stderr


def test_gold_tag_file_decides_conll(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "chinese_ner" / "example.dev"
    path = tmp_path / "predictions.json"
    path.write_text('{"0": "x"}')
    result = _eval(path, "--gold", gold)
    assert result.exit_code == 1
    assert f"conll gold file {gold}" in _error_line(result)
    same = _eval(gold, "--gold", gold, "--json")
    assert same.exit_code == 0 and json.loads(same.stdout)["f1"] == 1.0


def test_garbage_without_gold_is_not_scored_as_conll(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_text("lorem ipsum dolor\nsit amet consectetur\n")
    result = _eval(path)
    assert result.exit_code == 2 and "--gold" in _error_line(result)


# --- item 6: missing predictions count as wrong, --strict -----------------------------

def test_mrpc_half_the_predictions_missing(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "glue" / "MRPC" / "dev.tsv"
    labels = _glue_rows(gold, 0)
    kept = list(range(0, len(labels), 2))  # every other example predicted, all correct
    path = tmp_path / "MRPC.tsv"
    path.write_text("index\tprediction\n" + "".join(f"{i}\t{labels[i]}\n" for i in kept))
    result = _eval(path, "--gold", gold, "--json")
    assert result.exit_code == 0
    scored = json.loads(result.stdout)
    assert scored["accuracy"] == len(kept) / len(labels)  # it was 1.0
    true_positive = sum(1 for i in kept if labels[i] == "1")
    precision, recall = 1.0, true_positive / labels.count("1")
    assert scored["f1"] == pytest.approx(2 * precision * recall / (precision + recall), abs=1e-12)
    assert (scored["missing_count"], scored["unknown_count"]) == (len(labels) - len(kept), 0)
    assert f"{len(labels) - len(kept)} gold examples without a prediction, counted as wrong" \
        in result.stderr
    strict = _eval(path, "--gold", gold, "--strict")
    assert strict.exit_code == 1
    line = _error_line(strict)
    assert str(path) in line and f"{len(labels) - len(kept)} gold example(s)" in line


def test_unknown_ids_with_strict_exit_1(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "glue" / "RTE" / "dev.tsv"
    labels = _glue_rows(gold, 3)
    path = tmp_path / "RTE.tsv"
    path.write_text("index\tprediction\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(labels))
                    + "99999\tentailment\n")
    loose = evaluate(path, gold)
    assert loose["accuracy"] == 1.0 and loose["unknown_count"] == 1
    strict = _eval(path, "--gold", gold, "--strict")
    assert strict.exit_code == 1 and "1 prediction id(s) not in" in _error_line(strict)
    assert _eval(path, "--gold", gold, "--strict", "--task", "rte").exit_code == 1


def test_tnews_partial_predictions_match_sklearn(shared_data: Path, tmp_path: Path) -> None:
    from sklearn.metrics import f1_score

    gold_path = shared_data / "tnews" / "dev.json"
    gold = [json.loads(line)["label"] for line in gold_path.read_text().splitlines() if line]
    rng = random.Random(5)
    codes = sorted(set(gold))
    predicted: dict[int, str] = {}
    for index, label in enumerate(gold):
        if rng.random() < 0.3:
            continue  # missing
        predicted[index] = label if rng.random() < 0.6 else rng.choice(codes)
    path = tmp_path / "tnews_predict.json"
    path.write_text("".join(json.dumps({"id": i, "label": v}) + "\n"
                            for i, v in predicted.items()))
    result = evaluate(path, gold_path)
    with_gaps = [predicted.get(i, "none") for i in range(len(gold))]
    assert result["accuracy"] == sum(p == g for p, g in zip(with_gaps, gold)) / len(gold)
    assert result["macro_f1"] == pytest.approx(f1_score(
        gold, with_gaps, average="macro", labels=sorted(set(gold) | set(predicted.values()))),
        abs=1e-12)
    assert result["missing_count"] == len(gold) - len(predicted)


def test_sts_b_missing_predictions_are_an_error(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "glue" / "STS-B" / "dev.tsv"
    scores = _glue_rows(gold, 9)
    path = tmp_path / "STS-B.tsv"
    path.write_text("index\tprediction\n" + "".join(f"{i}\t{v}\n" for i, v in
                                                     enumerate(scores[:-5])))
    result = _eval(path, "--gold", gold)
    assert result.exit_code == 1 and "5 of" in _error_line(result)


def test_cluener_missing_lines_by_id_count_as_wrong(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "cluener2020"
    source = (root / "baseline_predictions" / "ner_predict_dev.json").read_text(
        encoding="utf-8").splitlines()
    dropped = set(range(0, len(source), 3))
    partial = tmp_path / "partial.json"
    partial.write_text("".join(json.dumps({"id": i, **json.loads(line)}, ensure_ascii=False)
                               + "\n" for i, line in enumerate(source) if i not in dropped),
                       encoding="utf-8")
    emptied = tmp_path / "emptied.json"  # the same lines predicting no entity at all
    emptied.write_text("".join((json.dumps({"label": {}}) if i in dropped else line) + "\n"
                               for i, line in enumerate(source)), encoding="utf-8")
    result = evaluate(partial, root / "dev.json")
    assert result["missing_count"] == len(dropped) and result["unknown_count"] == 0
    assert result["macro_f1"] == evaluate(emptied, root / "dev.json")["macro_f1"]
    assert result["macro_f1"] < evaluate(root / "baseline_predictions" / "ner_predict_dev.json",
                                         root / "dev.json")["macro_f1"]
    strict = _eval(partial, "--gold", root / "dev.json", "--strict")
    assert strict.exit_code == 1 and f"{len(dropped)} gold example(s)" in _error_line(strict)


def test_cluener_without_ids_and_a_short_file_names_both(shared_data: Path,
                                                         tmp_path: Path) -> None:
    root = shared_data / "cluener2020"
    source = (root / "baseline_predictions" / "ner_predict_dev.json").read_text(
        encoding="utf-8").splitlines()
    short = tmp_path / "short.json"
    short.write_text("\n".join(source[:100]) + "\n", encoding="utf-8")
    result = _eval(short, "--gold", root / "dev.json")
    assert result.exit_code == 1
    line = _error_line(result)
    assert str(short) in line and str(root / "dev.json") in line


def test_cmrc_missing_answers_count_as_wrong(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "cmrc2018" / "cmrc2018_dev.json"
    questions = _squad_ids(gold)
    kept = {qid: answers[0] for n, (qid, answers) in enumerate(questions) if n % 3}
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
    result = evaluate(path, gold)
    assert result["task"] == "cmrc"
    assert result["EM"] == pytest.approx(100.0 * len(kept) / len(questions), abs=1e-9)
    assert result["missing_count"] == len(questions) - len(kept)
    assert _eval(path, "--gold", gold, "--strict").exit_code == 1


def test_squad_missing_answers_with_strict(shared_data: Path) -> None:
    root = shared_data / "squad_v1.1"
    predictions = root / "predictions" / "logistic_regression_baseline_stanford.json"
    loose = _eval(predictions, "--gold", root / "dev-v1.1.json")
    assert loose.exit_code == 0
    strict = _eval(predictions, "--gold", root / "dev-v1.1.json", "--strict")
    assert strict.exit_code == 1 and "13 gold example(s)" in _error_line(strict)


def test_squad2_missing_answers_count_as_wrong(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "squad_v2.0" / "cs224n-dev-v2.0.json"
    questions = _squad_ids(gold)
    kept = {qid: (answers[0] if answers else "") for n, (qid, answers) in enumerate(questions)
            if n % 2}
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(kept))
    result = evaluate(path, gold)
    assert result["task"] == "squad2" and result["total"] == len(questions)
    assert result["exact"] == pytest.approx(100.0 * len(kept) / len(questions), abs=1e-9)
    has_answer = sum(1 for _, answers in questions if answers)
    kept_has_answer = sum(1 for n, (_, answers) in enumerate(questions) if n % 2 and answers)
    assert result["HasAns_exact"] == pytest.approx(100.0 * kept_has_answer / has_answer,
                                                   abs=1e-9)
    assert _eval(path, "--gold", gold, "--strict").exit_code == 1


def test_conll_takes_strict_and_reports_the_counts(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "chinese_ner" / "example.dev"
    result = _eval(gold, "--gold", gold, "--strict", "--json")
    assert result.exit_code == 0
    scored = json.loads(result.stdout)
    assert (scored["missing_count"], scored["unknown_count"]) == (0, 0)
    short = tmp_path / "short.txt"
    text = gold.read_text(encoding="utf-8")
    short.write_text(text[: text.index("\n\n") + 2], encoding="utf-8")  # the first sentence
    cut = _eval(short, "--gold", gold)
    assert cut.exit_code == 1
    assert str(short) in _error_line(cut) and str(gold) in _error_line(cut)


def test_option_errors_come_before_the_fit_check(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('"hello"')
    result = _eval(path, "--gold", shared_data / "squad_v1.1" / "dev-v1.1.json", "--mode",
                   "strict")
    assert result.exit_code == 2 and "only apply to conll" in _error_line(result)


def test_a_tag_file_with_an_odd_label_still_scores(tmp_path: Path) -> None:
    path = tmp_path / "tags.txt"  # conlleval layout; "X" is a BERT sub-word label
    path.write_text("EU B-ORG B-ORG\nrejects O O\nGer B-MISC B-MISC\n##man I-MISC X\n\n")
    result = _eval(path, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["sentences"] == 1


@pytest.mark.parametrize("content", ["{}", '{"not-a-question": "x"}'])
def test_answers_matching_no_question_are_an_error(shared_data: Path, tmp_path: Path,
                                                   content: str) -> None:
    path = tmp_path / "predictions.json"
    path.write_text(content)
    for gold in (shared_data / "squad_v1.1" / "dev-v1.1.json",
                 shared_data / "cmrc2018" / "cmrc2018_dev.json"):
        result = _eval(path, "--gold", gold)
        assert result.exit_code == 1  # was exit 0 with EM 0
        assert f"no prediction id matches an id of {gold}" in _error_line(result)


@pytest.fixture(scope="module")
def small_squad_gold(shared_data: Path, tmp_path_factory) -> Path:
    """Two real dev articles: the same layout, a fraction of the reading time."""
    dataset = json.loads((shared_data / "squad_v1.1" / "dev-v1.1.json").read_text())
    dataset["data"] = dataset["data"][:2]
    path = tmp_path_factory.mktemp("gold") / "dev-small-v1.1.json"
    path.write_text(json.dumps(dataset))
    return path


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6)


@settings(max_examples=40, deadline=None)
@given(content=st.one_of(st.binary(max_size=300),
                         st.text(max_size=300).map(lambda text: text.encode("utf-8")),
                         _JSON_VALUES.map(lambda value: json.dumps(value).encode())))
def test_no_garbage_scores_against_squad_gold(small_squad_gold: Path, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "predictions.json"
        path.write_bytes(content)
        result = _eval(path, "--gold", small_squad_gold)
    assert result.exit_code == 1, result.stderr
    assert str(path) in _error_line(result)
