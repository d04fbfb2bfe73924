"""predict on a prep folder whose manifest's "eval" block was edited by hand: one line naming
the manifest, exit 1, before the model runs (nothing written); a relative gold path is the
manifest's folder's, not the output folder's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from train_support import TINY_BERT
from typer.testing import CliRunner

from bertkit.cli import app

runner = CliRunner()

# One torch thread for every test here (conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tnews_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a TNEWS prep folder of 16 dev lines, a run trained one step on them)."""
    import torch

    root = tmp_path_factory.mktemp("tnews")
    lines = (SHARED_DATA / "tnews" / "dev.json").read_text(encoding="utf-8").splitlines()[:16]
    raw = root / "raw" / "tnews_dev.json"
    raw.parent.mkdir()
    raw.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prep = root / "prep"
    result = runner.invoke(app, ["prep", "tnews", str(raw), "--split", "dev", "-o", str(prep),
                                 "--vocab", str(TINY_BERT / "vocab.txt"),
                                 "--max-seq-length", "32", "--workers", "1"])
    assert result.exit_code == 0, result.output
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = runner.invoke(app, ["train", "--task", "classification", "--train-file",
                                     str(prep / "dev.tf_record"), "--init-checkpoint",
                                     str(TINY_BERT), "-o", str(root / "run"), "--max-steps",
                                     "1", "--batch-size", "8", "--device", "cpu"])
    finally:
        torch.set_num_threads(before)
    assert result.exit_code == 0, result.output
    return prep, root / "run"


def _predict_with_block(tnews_run: tuple[Path, Path], tmp_path: Path, edit) -> tuple:
    prep, run = tnews_run
    copy = tmp_path / "prep"
    shutil.copytree(prep, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    edit(manifest["eval"]) if callable(edit) else manifest.update(eval=edit)
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(run), "--eval-file", str(copy), "-o", str(out),
                                 "--device", "cpu", "--json"])
    return result, copy / "manifest.json", out


@pytest.mark.parametrize("edit", [
    lambda block: block.update(scorer=["tnews"]),
    lambda block: block.update(scorer="nosuch"),
    lambda block: block.update(scorer="squad"),  # another task's scorer
    lambda block: block.update(gold=["a"]),
    lambda block: block.update(gold={"dev": 5}),
    lambda block: block.update(format=7),
    "tnews",  # not an object at all
], ids=["scorer-list", "scorer-unknown", "scorer-of-squad", "gold-list", "gold-number",
        "format-number", "block-string"])
def test_malformed_eval_block_is_one_line_before_predicting(tnews_run, tmp_path, edit):
    """These ran the model, then failed as exit 2 'unknown task', 'needs --gold', a file
    named "5", or a scoring error under the wrong scorer; or were silently ignored."""
    result, manifest, out = _predict_with_block(tnews_run, tmp_path, edit)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(manifest) in lines[0] and '"eval"' in lines[0]
    assert not (out / "predictions.tsv").exists()


@pytest.mark.parametrize("content, problem", [
    (b'{"command": "prep tnews", "eval": {', "not valid JSON: Expecting property name"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"command": "\xff"}', "not UTF-8 (byte 13)"),
    (b"[" * 100_000, "nests too deeply"),
    (None, "cannot read prep's manifest: Is a directory"),
], ids=["truncated", "a-list", "not-utf8", "too-deep", "a-directory"])
def test_damaged_manifest_is_one_line_naming_it_before_predicting(tnews_run, tmp_path, content,
                                                                   problem):
    """It was taken as absent: predictions written but not scored, exit 0, and nothing said
    of the manifest that lost its eval contract."""
    prep, run = tnews_run
    copy = tmp_path / "prep"
    shutil.copytree(prep, copy)
    manifest = copy / "manifest.json"
    if content is None:
        manifest.unlink()
        manifest.mkdir()
    else:
        manifest.write_bytes(content)
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(run), "--eval-file", str(copy), "-o", str(out),
                                 "--device", "cpu", "--json"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"error: {manifest}") and problem in lines[0], lines[0]
    assert not (out / "predictions.tsv").exists()


def test_relative_gold_path_is_the_manifests_folders(tnews_run, tmp_path):
    """It was copied as is into eval_meta.json, and read relative to the output folder."""
    def relative(block: dict) -> None:
        block["gold"]["dev"] = "../raw/tnews_dev.json"
    shutil.copytree(tnews_run[0].parent / "raw", tmp_path / "raw")
    result, _, out = _predict_with_block(tnews_run, tmp_path, relative)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scores"]["examples"] == 16
    gold = json.loads((out / "eval_meta.json").read_text(encoding="utf-8"))["gold"]
    assert Path(gold).is_absolute() and Path(gold).resolve() == tmp_path / "raw" / "tnews_dev.json"


def test_train_do_eval_checks_the_block_before_training(tnews_run, tmp_path):
    """It trained the whole run first, then failed in the prediction step."""
    prep, _ = tnews_run
    copy = tmp_path / "prep"
    shutil.copytree(prep, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["eval"]["scorer"] = "cluener"
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = runner.invoke(app, ["train", "--task", "classification", "--train-file",
                                 str(copy / "dev.tf_record"), "--init-checkpoint",
                                 str(TINY_BERT), "-o", str(tmp_path / "run"), "--max-steps",
                                 "1", "--batch-size", "8", "--device", "cpu", "--do-eval",
                                 "--eval-file", str(copy)])
    assert result.exit_code == 1, result.output
    assert str(copy / "manifest.json") in result.stderr and "'cluener'" in result.stderr
    assert not (tmp_path / "run" / "log.jsonl").exists()


def test_records_renamed_after_prep_are_predicted_not_scored(tnews_run, tmp_path):
    """The manifest's gold map has no entry for custom.tf_record: predict used to end with
    exit 2, 'task tnews needs --gold' (an option predict does not have), after predicting."""
    prep, run = tnews_run
    copy = tmp_path / "prep"
    shutil.copytree(prep, copy)
    for name in ("tf_record", "tf_record.index"):
        if (copy / f"dev.{name}").exists():
            (copy / f"dev.{name}").rename(copy / f"custom.{name}")
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(run), "--eval-file",
                                 str(copy / "custom.tf_record"), "-o", str(out),
                                 "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    predicted = json.loads(result.stdout)
    assert predicted["scores"] is None and "--gold" in predicted["note"]
    assert (out / "predictions.tsv").is_file() and not (out / "eval_results.json").exists()
