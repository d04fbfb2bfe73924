"""What people read (issue 11): one score format, paths never broken across lines, the
top-level options (--version), tokenize --json, and help texts that agree."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.core import TyperArgument
from typer.testing import CliRunner

from bertkit import __version__
from bertkit.cli import app

PIPELINE_ORDER = ("prep", "train", "predict", "eval", "submit", "tokenize", "inspect", "export", "demo")

runner = CliRunner()


def _bertkit(*args: str | Path, columns: int = 30) -> subprocess.CompletedProcess:
    """The CLI in a fresh process whose stderr is a pipe (not a terminal), narrow COLUMNS."""
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("FORCE_COLOR", None)
    return subprocess.run([sys.executable, "-m", "bertkit", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _long_folder(root: Path) -> Path:
    folder = root / "a-rather-long-folder-name-for-results" / "run-2026-12-05-squad-v1.1-dev"
    folder.mkdir(parents=True)
    return folder


# --- scores ------------------------------------------------------------------------------

def test_one_score_format() -> None:
    from bertkit.evaluate.report import format_figure, format_score

    assert format_score(27.777777, percent=True) == "27.78"
    assert format_score(0.8620624, percent=False) == "0.8621"
    assert format_figure("squad", "exact_match", 2.5) == "2.50"  # was 2.500 / 2.5000
    assert format_figure("squad2", "best_f1_thresh", 0.25) == "0.2500"  # a probability
    assert format_figure("glue-mrpc", "accuracy", 0.5) == "0.5000"
    assert format_figure("squad", "total", 10570) == "10570"


def test_eval_table_shows_unknown_count_and_two_decimals(shared_data: Path,
                                                         tmp_path: Path) -> None:
    root = shared_data / "squad_v1.1"
    predictions = json.loads((root / "predictions" / "bert_ensemble_google_ai_language.json")
                             .read_text())
    predictions["not-a-question"] = "x"
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions))
    result = runner.invoke(app, ["eval", str(path), "--gold", str(root / "dev-v1.1.json")])
    assert result.exit_code == 0
    assert re.search(r"unknown_count\s*│\s*1\b", result.stderr)
    assert re.search(r"exact_match\s*│\s*86\.21\b", result.stderr)  # was 86.2062


def test_predict_table_lists_each_file_once_and_no_empty_warnings(capsys) -> None:
    from bertkit.commands.predict import _print_table

    files = [Path("/runs/x/eval/predictions.json"), Path("/runs/x/eval/eval_results.json"),
             Path("/runs/x/eval/eval_results.json")]
    scores = {"task": "squad", "exact_match": 2.5, "f1": 27.777777, "total": 72,
              "missing_count": 0, "unknown_count": 0, "warnings": [], "detection": "x"}
    _print_table(SimpleNamespace(task="squad", num_records=80, files=files, scores=scores,
                                 note=None))
    shown = capsys.readouterr().err
    assert shown.count("eval_results.json") == 1
    assert "warnings" not in shown and "[]" not in shown and "detection" not in shown
    assert "2.50" in shown and "27.78" in shown and "2.500" not in shown


def test_headline_rows_follow_the_scorer() -> None:
    from bertkit.evaluate.report import headline_rows

    rows = dict(headline_rows({"task": "cmrc", "AVERAGE": 50.0, "F1": 60.0, "EM": 40.0,
                               "TOTAL": 3, "SKIP": 1, "missing_count": 1, "unknown_count": 2}))
    assert rows == {"AVERAGE": "50.00", "F1": "60.00", "EM": "40.00", "TOTAL": "3", "SKIP": "1",
                    "missing_count": "1", "unknown_count": "2"}


# --- paths never break -------------------------------------------------------------------

def _whole_on_one_line(path: Path, text: str) -> bool:
    return any(str(path) in line for line in text.splitlines())


def test_eval_paths_stay_whole_on_a_narrow_pipe(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "squad_v1.1"
    folder = _long_folder(tmp_path)
    predictions = folder / "predictions-of-the-ensemble-model.json"
    predictions.write_text((root / "predictions" / "bert_ensemble_google_ai_language.json")
                           .read_text())
    target = folder / "eval_results_with_a_long_name.json"
    done = _bertkit("eval", predictions, "--gold", root / "dev-v1.1.json", "-o", target)
    assert done.returncode == 0, done.stderr
    for path in (predictions, root / "dev-v1.1.json", target):
        assert _whole_on_one_line(path, done.stderr), done.stderr


def test_table_titles_stay_whole_on_a_narrow_pipe(shared_data: Path, tmp_path: Path) -> None:
    gold = shared_data / "glue" / "WNLI" / "dev.tsv"
    rows = len(gold.read_text().splitlines()) - 1
    path = tmp_path / "WNLI.tsv"
    path.write_text("index\tprediction\n" + "".join(f"{i}\t0\n" for i in range(rows)))
    done = _bertkit("eval", path, "--gold", gold, "--verbose")
    assert done.returncode == 0, done.stderr
    assert any("confusion matrix (rows gold, columns predicted)" in line
               for line in done.stderr.splitlines()), done.stderr


def test_inspect_path_stays_whole_on_a_narrow_pipe(tmp_path: Path) -> None:
    from bertkit.tfrecord import TFRecordWriter

    path = _long_folder(tmp_path) / "eval-records-with-a-long-name.tf_record"
    with TFRecordWriter(path) as writer:
        writer.write({"input_ids": [101, 102, 0]})
    done = _bertkit("inspect", path)
    assert done.returncode == 0, done.stderr
    assert _whole_on_one_line(path, done.stderr), done.stderr


def test_predict_paths_stay_whole_on_a_narrow_console(tmp_path: Path) -> None:
    from rich.console import Console

    from bertkit import console
    from bertkit.commands import predict

    folder = _long_folder(tmp_path)
    files = [folder / "predictions.json", folder / "nbest_predictions.json"]
    narrow = Console(file=open(tmp_path / "out.txt", "w"), width=30, highlight=False)
    saved = console.stderr_console
    console.stderr_console = narrow
    try:
        predict._print_table(SimpleNamespace(task="squad", num_records=3, files=files,
                                             scores=None, note=None))
    finally:
        console.stderr_console = saved
        narrow.file.close()
    shown = (tmp_path / "out.txt").read_text()
    for path in files:
        assert _whole_on_one_line(path, shown), shown


# --- top level ----------------------------------------------------------------------------

def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"bertkit {__version__}\n"


def test_tokenize_json_is_one_object(shared_data: Path, tmp_path: Path) -> None:
    vocab = shared_data / "vocab" / "bert-base-uncased" / "vocab.txt"
    path = tmp_path / "in.txt"
    path.write_text("Hello, World!\nunaffable\n")
    lines = runner.invoke(app, ["tokenize", str(path), "--vocab", str(vocab)])
    whole = runner.invoke(app, ["tokenize", str(path), "--vocab", str(vocab), "--json"])
    assert whole.exit_code == 0, whole.stderr
    printed = json.loads(whole.stdout)
    assert printed["tokens"] == [json.loads(line) for line in lines.stdout.splitlines()]
    assert printed["lines"] == 2 and printed["input"] == str(path)
    ids = json.loads(runner.invoke(app, ["tokenize", str(path), "--vocab", str(vocab), "--json",
                                         "--ids"]).stdout)
    assert all(isinstance(i, int) for row in ids["ids"] for i in row)


def test_every_command_takes_json() -> None:
    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():
        leaves = command.commands.items() if hasattr(command, "commands") else [(name, command)]
        for leaf_name, leaf in leaves:
            if not any("--json" in getattr(param, "opts", ()) for param in leaf.params):
                missing.append(leaf_name)
    assert missing == []  # tokenize had none


def _commands_panel(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Commands" in line)
    return [line for line in lines[start + 1:] if line.startswith("│")]


def test_top_level_lists_the_pipeline_in_order() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    names = [row.strip("│ ").split()[0] for row in _commands_panel(result.stdout)]
    assert names == list(PIPELINE_ORDER)  # prep used to come last


def test_prep_listing_is_one_line_per_converter() -> None:
    result = runner.invoke(app, ["prep", "--help"], env={"COLUMNS": "200"})
    rows = _commands_panel(result.stdout)
    # Every row starts with a command name: no paragraph continues onto further lines.
    names = [row.strip("│ ").split()[0] for row in rows]
    assert sorted(names) == ["chinesener", "cluener", "glue", "pretrain", "squad", "tnews"]


@pytest.mark.parametrize("argv, usage", [
    (["predict"], "{RUN_DIR}"),
    (["export"], "{RUN_DIR}"),
    (["eval"], "{PREDICTIONS}"),
    (["tokenize"], "{FILE}"),
    (["inspect"], "{FILE}"),
])
def test_argument_placeholders_agree(argv: list[str], usage: str) -> None:
    result = runner.invoke(app, [*argv, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert usage in result.stdout


def test_argument_metavars_are_upper_case_and_typed() -> None:
    group = typer.main.get_command(app)
    for name in PIPELINE_ORDER:
        command = group.commands[name]
        if hasattr(command, "commands"):
            continue
        for param in command.params:
            if isinstance(param, TyperArgument):
                shown = param.metavar or param.name
                assert shown == shown.upper(), (name, shown)
    tokenize = runner.invoke(app, ["tokenize", "--help"], env={"COLUMNS": "200"}).stdout
    assert "<path>" in tokenize and "<str>" not in tokenize  # '{file}' typed <str> before
