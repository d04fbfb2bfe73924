"""A saved model folder whose config.json was edited by hand: predict stops with one line
naming config.json (exit 1), before any eval data is read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from train_support import TINY_BERT
from typer.testing import CliRunner

from bertkit.cli import app


@pytest.mark.parametrize(("edit", "said"), [
    ({"bertkit": [1]}, '"bertkit" must be an object'),
    ({"bertkit": None, "architectures": 5}, '"architectures" must be a list'),
    ({"id2label": {"a": "x"}}, '"id2label" must be an object whose keys are label ids'),
    ({"id2label": ["x"]}, '"id2label" must be an object whose keys are label ids'),
    ({"bertkit": {"task": "classification", "num_labels": -1}}, '"num_labels" must be'),
    ({"bertkit": {"task": "classification", "num_labels": "3"}}, '"num_labels" must be'),
    ({"bertkit": {"task": "nosuch"}}, "unknown task 'nosuch'"),
], ids=["bertkit-list", "architectures-number", "id2label-keys", "id2label-list",
        "num-labels-negative", "num-labels-string", "task-unknown"])
def test_odd_config_json_is_one_line_naming_it(tmp_path: Path, edit: dict, said: str) -> None:
    """These were AttributeError/TypeError/ValueError lines with no file named, or exit 2
    ("num_labels must be at least 1") though no option was wrong."""
    model = tmp_path / "model"
    shutil.copytree(TINY_BERT, model)
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config.update(architectures=["BertForSequenceClassification"],
                  bertkit={"task": "classification", "num_labels": 2})
    config.update(edit)
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    result = CliRunner().invoke(app, ["predict", str(model), "--eval-file",
                                      str(tmp_path / "absent"), "-o", str(tmp_path / "out"),
                                      "--device", "cpu"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(model / "config.json") in lines[0] and said in lines[0], lines[0]
    assert not (tmp_path / "out").exists()
