"""eval_meta.json edited by hand, and --gold naming another file than eval_meta.json: bad
fields are one line naming eval_meta.json (exit 1), and the gold file given decides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_support import error_line, run_eval


def _tnews_run(shared_data: Path, folder: Path, **meta: object) -> Path:
    """A predict-like folder: predictions.tsv (every TNEWS label right) + eval_meta.json."""
    folder.mkdir()
    lines = (shared_data / "tnews" / "dev.json").read_text(encoding="utf-8").splitlines()[:20]
    gold = folder / "tnews_dev.json"
    gold.write_text("\n".join(lines) + "\n", encoding="utf-8")
    labels = [json.loads(line)["label"] for line in lines]
    predictions = folder / "predictions.tsv"
    predictions.write_text("index\tprediction\n" + "".join(
        f"{index}\t{label}\n" for index, label in enumerate(labels)), encoding="utf-8")
    contents = {"task": "tnews", "gold": str(gold), "format": "tnews-jsonl",
                "predictions": "predictions.tsv", **meta}
    (folder / "eval_meta.json").write_text(json.dumps(contents), encoding="utf-8")
    return predictions


def test_hand_written_eval_meta_is_read(shared_data: Path, tmp_path: Path) -> None:
    result = run_eval(_tnews_run(shared_data, tmp_path / "run"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0


@pytest.mark.parametrize(("field", "value"), [
    ("task", 5), ("task", ["tnews"]), ("gold", ["a"]), ("gold", {"dev": "x"}),
    ("predictions", 5), ("na_prob_file", 3), ("format", ["x"])])
def test_eval_meta_field_of_the_wrong_type_is_one_line(shared_data: Path, tmp_path: Path,
                                                       field: str, value: object) -> None:
    """These were AttributeError/TypeError lines (str.strip of an int, Path / list)."""
    predictions = _tnews_run(shared_data, tmp_path / "run", **{field: value})
    result = run_eval(predictions)
    assert result.exit_code == 1
    line = error_line(result)
    assert str(tmp_path / "run" / "eval_meta.json") in line
    assert f'"{field}" must be a string' in line


def test_eval_meta_naming_an_unknown_scorer_blames_the_file(shared_data: Path,
                                                            tmp_path: Path) -> None:
    """It was exit 2 (a usage error) with no file named, though no option was wrong."""
    predictions = _tnews_run(shared_data, tmp_path / "run", task="nosuch")
    result = run_eval(predictions)
    assert result.exit_code == 1
    line = error_line(result)
    assert str(tmp_path / "run" / "eval_meta.json") in line and "'nosuch'" in line


def test_gold_option_naming_another_file_decides_the_task(shared_data: Path,
                                                          tmp_path: Path) -> None:
    """eval_meta.json's task used to win over --gold: MRPC's dev.tsv was read as TNEWS JSON
    lines and blamed ("not valid JSON lines"). Issue 16: when --gold is given, it decides."""
    folder = tmp_path / "run"
    _tnews_run(shared_data, folder)
    mrpc = shared_data / "glue" / "MRPC" / "dev.tsv"
    rows = mrpc.read_text(encoding="utf-8").splitlines()[1:]
    predictions = folder / "predictions.tsv"  # the folder's eval_meta.json still says tnews
    predictions.write_text("index\tprediction\n" + "".join(
        f"{index}\t{row.split(chr(9))[0]}\n" for index, row in enumerate(rows)),
        encoding="utf-8")
    result = run_eval(predictions, "--gold", mrpc, "--json", "--verbose")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["task"] == "glue-mrpc" and scores["accuracy"] == 1.0
    # The contract's own gold file, named again, keeps the contract's task.
    _tnews_run(shared_data, tmp_path / "again")
    result = run_eval(tmp_path / "again" / "predictions.tsv", "--gold",
                      tmp_path / "again" / "tnews_dev.json", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["task"] == "tnews"


def test_na_prob_file_of_eval_meta_is_no_option_error_elsewhere(shared_data: Path,
                                                                tmp_path: Path) -> None:
    """A na_prob_file in a non-SQuAD-2 eval_meta.json was exit 2, '--na-prob-file only
    applies to squad2', though the user passed no such option."""
    predictions = _tnews_run(shared_data, tmp_path / "run", na_prob_file="null_odds.json")
    result = run_eval(predictions, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == 1.0
