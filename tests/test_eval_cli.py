"""`bertkit eval` as a command: output channels, -o, eval_meta.json, detection, one-line
errors for bad input, and no torch/tensorflow import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_in_fresh_interpreter
from eval_support import error_line as _error_line
from eval_support import run_eval as _eval


@pytest.fixture(scope="module")
def squad(shared_data: Path) -> Path:
    return shared_data / "squad_v1.1"


def test_json_on_stdout_table_on_stderr_and_output_file(squad: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "eval_results.json"
    result = _eval(squad / "predictions" / "bert_ensemble_google_ai_language.json",
                   "--gold", squad / "dev-v1.1.json", "--json", "-o", target)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["exact_match"] == pytest.approx(86.20624408703878, abs=1e-9)
    assert printed["output"] == str(target)
    assert json.loads(target.read_text()) == printed
    assert "exact_match" in result.stderr  # the rich table
    assert sorted(p.name for p in target.parent.iterdir()) == ["eval_results.json"]


def test_output_folder_gets_eval_results_json(squad: Path, tmp_path: Path) -> None:
    result = _eval(squad / "predictions" / "logistic_regression_baseline_stanford.json",
                   "--gold", squad / "dev-v1.1.json", "-o", tmp_path)
    assert result.exit_code == 0
    written = json.loads((tmp_path / "eval_results.json").read_text())
    assert written["missing_count"] == 13 and len(written["missing_ids"]) == 13
    assert "13 questions unanswered" in result.stderr  # a warning, not a crash


def test_eval_meta_json_beside_predictions(squad: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    source = squad / "predictions" / "bert_ensemble_google_ai_language.json"
    (run / "predictions.json").write_text(source.read_text())
    (run / "eval_meta.json").write_text(json.dumps({
        "task": "squad", "gold": str(squad / "dev-v1.1.json"), "predictions": "predictions.json"}))
    for target in (run / "predictions.json", run):
        result = _eval(target, "--json")
        assert result.exit_code == 0, result.output
        printed = json.loads(result.stdout)
        assert printed["f1"] == pytest.approx(92.19557978351145, abs=1e-9)
        assert printed["gold"] == str(squad / "dev-v1.1.json")


def test_eval_meta_na_prob_file_is_relative_to_the_run(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "squad_v2.0" / "cs224n-dev-v2.0.json"
    ids = [qa["id"] for article in json.loads(gold.read_text())["data"]
           for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    (tmp_path / "predictions.json").write_text(json.dumps({qid: "" for qid in ids}))
    (tmp_path / "null_odds.json").write_text(json.dumps({qid: 0.5 for qid in ids}))
    (tmp_path / "eval_meta.json").write_text(json.dumps({
        "task": "squad2", "gold": str(gold), "predictions": "predictions.json",
        "na_prob_file": "null_odds.json"}))
    result = _eval(tmp_path / "predictions.json", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["task"] == "squad2" and "best_f1_thresh" in printed


def test_predictions_that_do_not_fit_the_gold_task_name_both_files(squad: Path,
                                                                    shared_data: Path) -> None:
    # The gold file decides the task (tnews); SQuAD answers do not fit it: exit 1, both named.
    predictions = squad / "predictions" / "bert_ensemble_google_ai_language.json"
    gold = shared_data / "tnews" / "dev.json"
    result = _eval(predictions, "--gold", gold)
    assert result.exit_code == 1
    line = _error_line(result)
    assert line.startswith(f"error: {predictions}: ") and str(gold) in line


def test_gold_of_no_known_layout_asks_for_task(squad: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.json"
    gold.write_text('{"something": "else"}')
    result = _eval(squad / "predictions" / "bert_ensemble_google_ai_language.json",
                   "--gold", gold)
    assert result.exit_code == 2
    assert "pass --task" in _error_line(result) and str(gold) in _error_line(result)


def test_gold_needed_without_meta(squad: Path) -> None:
    result = _eval(squad / "predictions" / "bert_ensemble_google_ai_language.json")
    assert result.exit_code == 2
    assert "--gold" in _error_line(result)


def test_contradicting_options_are_usage_errors(squad: Path, tmp_path: Path) -> None:
    result = _eval(tmp_path / "does-not-matter.json", "--task", "squad",
                   "--na-prob-file", tmp_path / "x.json")
    assert result.exit_code == 2
    assert "--na-prob-file" in _error_line(result)
    result = _eval(tmp_path / "x.json", "--task", "nosuchtask")
    assert result.exit_code == 2 and "unknown task" in _error_line(result)


@pytest.mark.parametrize("content, expected", [
    ("{\"a\": \"x\",\n \"b\": }", ":2:7: not valid JSON"),
    ("[\"x\", \"y\"]", "a JSON list does not fit the squad gold file"),
    ("{\"56be4db0acb8001400a502ec\": 3}", ":id 56be4db0acb8001400a502ec: answer is a number"),
])
def test_bad_squad_predictions_are_one_line(squad: Path, tmp_path: Path, content: str,
                                            expected: str) -> None:
    path = tmp_path / "predictions.json"
    path.write_text(content)
    result = _eval(path, "--gold", squad / "dev-v1.1.json", "--task", "squad")
    assert result.exit_code == 1
    assert expected in _error_line(result)


def test_bad_json_lines_name_the_line(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "ner_predict.json"
    path.write_text('{"label": {}}\n{"label": {}\n')
    result = _eval(path, "--gold", shared_data / "cluener2020" / "dev.json", "--task", "cluener")
    assert result.exit_code == 1
    assert f"{path}:2:" in _error_line(result)


def test_nan_na_prob_through_the_cli(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"x": ""}')
    (tmp_path / "na.json").write_text('{"x": NaN}')
    result = _eval(tmp_path / "p.json", "--gold", shared_data / "squad_v2.0" / "cs224n-dev-v2.0.json",
                   "--na-prob-file", tmp_path / "na.json")
    assert result.exit_code == 1
    assert "id x: na-prob is NaN" in _error_line(result)


def test_verbose_prints_a_confusion_matrix(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "glue" / "WNLI" / "dev.tsv"
    labels = [row.split("\t")[-1] for row in gold.read_text().splitlines()[1:]]
    path = tmp_path / "WNLI.tsv"
    path.write_text("index\tprediction\n" + "".join(f"{i}\t0\n" for i in range(len(labels))))
    result = _eval(path, "--gold", gold, "--verbose")
    assert result.exit_code == 0
    assert "confusion matrix" in result.stderr
    assert f"{labels.count('0')}" in result.stderr


def test_ner_table_has_a_row_per_type(shared_data: Path) -> None:
    root = shared_data / "cluener2020"
    result = _eval(root / "baseline_predictions" / "ner_predict_dev.json", "--gold",
                   root / "dev.json")
    assert result.exit_code == 0
    for entity_type in ("address", "organization", "scene", "micro"):
        assert entity_type in result.stderr


def test_eval_imports_neither_torch_nor_tensorflow(squad: Path) -> None:
    argv = ["eval", str(squad / "predictions" / "bert_ensemble_google_ai_language.json"),
            "--gold", str(squad / "dev-v1.1.json"), "--json"]
    printed, loaded = run_in_fresh_interpreter(argv)
    assert '"exact_match"' in printed
    assert loaded == {"torch": False, "tensorflow": False}


def test_mode_strict_with_a_detected_non_conll_task_is_a_usage_error(shared_data: Path) -> None:
    root = shared_data / "cluener2020"
    result = _eval(root / "baseline_predictions" / "ner_predict_dev.json", "--gold",
                   root / "dev.json", "--mode", "strict")
    assert result.exit_code == 2
    assert "only apply to conll, not cluener" in _error_line(result)


def test_conll_strict_mode_through_the_cli(tmp_path: Path) -> None:
    # seqeval's strict mode is --mode strict; --strict is the missing/unknown id check.
    path = tmp_path / "tags.txt"
    path.write_text("a B-NP I-NP\nb I-NP I-NP\nc O O\n")
    default = json.loads(_eval(path, "--json").stdout)
    strict = json.loads(_eval(path, "--json", "--mode", "strict", "--scheme", "IOB2").stdout)
    assert (default["f1"], strict["f1"]) == (1.0, 0.0)
    assert strict["mode"] == "strict" and strict["scheme"] == "IOB2"


def test_two_column_tag_file_alone_asks_for_gold(shared_data: Path) -> None:
    gold = shared_data / "chinese_ner" / "example.dev"
    result = _eval(gold)
    assert result.exit_code == 1
    assert "2 column(s): pass --gold" in _error_line(result)
