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
