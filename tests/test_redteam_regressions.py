"""Red-team regressions against the merged issue-11 fixes (train and prep side).

Each test states the behaviour issue 11 asks for; those that fail today are marked
`xfail(strict=True)` so that the fix turns them into passing tests (and must then drop
the marker).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from train_support import TINY_BERT, read_log, write_squad_records
from typer.testing import CliRunner

from bertkit.cli import app

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parent.parent


def _train_args(data: Path, run: Path, *extra: str) -> list[str]:
    return ["train", "--task", "squad", "--train-file", str(data), "-o", str(run),
            "--config", str(TINY_BERT / "config.json"), "--batch-size", "4",
            "--device", "cpu", *extra]


def _one_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


# --- item 9: the kept checkpoint must predate the divergence -----------------------------


def test_nan_stop_keeps_no_checkpoint_whose_weights_already_diverged(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 48, seq_length=32)
    run = tmp_path / "run"
    result = CliRunner().invoke(app, _train_args(data, run, "--max-steps", "4",
                                                 "--save-steps", "1", "--lr", "1e5"))
    assert result.exit_code == 1, result.output
    losses = {entry["step"]: entry["loss"] for entry in read_log(run)}
    first = losses[1]
    for child in run.glob("checkpoint-*"):
        step = int(child.name.split("-")[1])
        # checkpoint-k holds the weights that the loss of step k+1 is computed on.
        after = losses.get(step + 1)
        assert after is None or (math.isfinite(after) and after <= 2 * first), (
            f"{child.name} kept, yet the loss on its weights is {after}")
    # With nothing worth resuming, the advice is a fresh start, not a --resume that loops.
    if not list(run.glob("checkpoint-*")):
        said = " ".join(result.stderr.split())
        assert "start again" in said and "--resume" not in said, said


# --- item 1 / "garbage training_state": one line naming the file -------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("run")
    data = write_squad_records(base / "d" / "train.tf_record", 16, seq_length=32)
    run = base / "run"
    result = CliRunner().invoke(app, _train_args(data, run, "--max-steps", "4",
                                                 "--save-steps", "2"))
    assert result.exit_code == 0, result.output
    (run / "checkpoint-4").rename(base / "checkpoint-4-aside")
    return data, run


def _copy_run(finished_run, tmp_path) -> tuple[Path, Path]:
    import shutil

    data, run = finished_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return data, copy


def test_deeply_nested_training_state_names_the_file(finished_run, tmp_path):
    data, run = _copy_run(finished_run, tmp_path)
    target = run / "checkpoint-2" / "training_state.json"
    target.write_text('{"format": "bertkit-training-state", "version": 1, "state": '
                      + "[" * 200_000 + "]" * 200_000 + "}")
    line = _one_line(CliRunner().invoke(app, _train_args(data, run, "--max-steps", "4",
                                                         "--save-steps", "2", "--resume")), 1)
    assert str(target) in line


def _resume_with_step(finished_run, tmp_path, step: object) -> tuple[object, Path]:
    """Resume a copy of the finished run whose checkpoint-2 claims ``step``."""
    data, run = _copy_run(finished_run, tmp_path)
    target = run / "checkpoint-2" / "training_state.json"
    document = json.loads(target.read_text())
    document["state"]["step"] = step
    target.write_text(json.dumps(document))
    result = CliRunner().invoke(app, _train_args(data, run, "--max-steps", "4",
                                                 "--save-steps", "2", "--resume"))
    return result, target


def test_training_state_with_a_string_step_names_the_file(finished_run, tmp_path):
    result, target = _resume_with_step(finished_run, tmp_path, "abc")
    assert str(target) in _one_line(result, 1)


@pytest.mark.parametrize("step", [-5, 0, 1e30, 10**30, 3, True, None])
def test_training_state_with_an_impossible_step_is_refused(finished_run, tmp_path, step):
    result, target = _resume_with_step(finished_run, tmp_path, step)
    line = _one_line(result, 1)
    assert str(target) in line and '"step"' in line
    assert not list(target.parent.parent.glob("checkpoint-*-*"))


def test_training_state_with_a_swapped_model_key_names_the_key(finished_run, tmp_path):
    data, run = _copy_run(finished_run, tmp_path)
    target = run / "checkpoint-2" / "training_state.json"
    document = json.loads(target.read_text())
    model = document["state"]["model"]
    key = next(name for name in model if name.endswith("qa_outputs.weight"))
    model["renamed.weight"] = model.pop(key)
    target.write_text(json.dumps(document))
    line = _one_line(CliRunner().invoke(app, _train_args(data, run, "--max-steps", "4",
                                                         "--save-steps", "2", "--resume")), 1)
    assert str(target) in line and "renamed.weight" in line and key in line


# --- item 8: stale temporaries ---------------------------------------------------------


def test_temporary_with_an_impossible_pid_is_not_a_crash(finished_run, tmp_path):
    data, run = _copy_run(finished_run, tmp_path)
    (run / ".x.tmp-99999999999999999999").write_text("x")
    result = CliRunner().invoke(app, _train_args(data, run, "--max-steps", "4",
                                                 "--save-steps", "2", "--resume"))
    assert result.exit_code == 0, result.output
    assert (run / ".x.tmp-99999999999999999999").read_text() == "x"  # not ours: left alone


# --- "-o that is an existing file": its variations ---------------------------------------


def test_train_output_under_a_file_is_an_option_error(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    line = _one_line(CliRunner().invoke(app, _train_args(data, blocker / "run",
                                                         "--max-steps", "1")), 2)
    assert str(blocker) in line


def test_train_output_dangling_symlink_is_an_option_error(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    line = _one_line(CliRunner().invoke(app, _train_args(data, link, "--max-steps", "1")), 2)
    assert str(link) in line


def test_prep_output_under_a_file_is_an_option_error(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = CliRunner().invoke(app, [
        "prep", "tnews", str(SHARED_DATA / "tnews" / "dev.json"), "-o", str(blocker / "out"),
        "--vocab", str(SHARED_DATA / "vocab" / "bert-base-chinese" / "vocab.txt")])
    assert str(blocker) in _one_line(result, 2)


def test_prep_output_dangling_symlink_message_is_true(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    result = CliRunner().invoke(app, [
        "prep", "tnews", str(SHARED_DATA / "tnews" / "dev.json"), "-o", str(link),
        "--vocab", str(SHARED_DATA / "vocab" / "bert-base-chinese" / "vocab.txt")])
    assert result.exit_code != 0
    assert "parent is a file" not in result.stderr


# --- option errors before heavy work ---------------------------------------------------


@pytest.mark.parametrize("bad", [("--lr", "nan"), ("--lr", "1e400"), ("--epochs", "-1"),
                                 ("--batch-size", "0"), ("--device", "x"),
                                 ("--warmup-proportion", "inf"), ("--ddp-timeout", "1"),
                                 # a masked-LM option for a span head; an unknown choice
                                 ("--mlm-bias-init", "unigram"), ("--mlm-bias-init", "prior")])
def test_train_option_error_comes_before_torch_is_imported(tmp_path, bad):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bertkit",
         *_train_args(data, tmp_path / "run", *bad)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "torch" not in imported
    assert bad[0] in [line for line in result.stderr.splitlines()
                      if line.startswith("error:")][0]


def test_pretrain_do_eval_is_refused_before_torch_is_imported(tmp_path):
    """It was refused by the trainer, after torch loaded (seconds) and the shards were read."""
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    args = _train_args(data, tmp_path / "run", "--do-eval", "--eval-file", str(data))
    args[args.index("squad")] = "pretrain"
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "bertkit", *args],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: the pretrain task has no prediction step (predict, train "
                      "--do-eval)"], errors
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "torch" not in imported
    assert not (tmp_path / "run").exists()


def test_train_output_in_the_training_data_folder_is_refused(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    before = sorted(child.name for child in data.parent.iterdir())
    for output in (data.parent, data):
        line = _one_line(CliRunner().invoke(app, _train_args(data, output, "--max-steps", "1")),
                         2)
        assert str(output) in line and str(data) in line
    assert sorted(child.name for child in data.parent.iterdir()) == before


@pytest.mark.parametrize("command", ["export", "predict"])
@pytest.mark.parametrize("kind", ["under-a-file", "dangling-link"])
def test_export_and_predict_output_that_cannot_be_a_folder(tmp_path, command, kind):
    if kind == "under-a-file":
        (tmp_path / "afile").write_text("x")
        output, named = tmp_path / "afile" / "out", tmp_path / "afile"
    else:
        output = named = tmp_path / "link"
        output.symlink_to(tmp_path / "nowhere")
    run = tmp_path / "missing-run"
    args = ([command, str(run), "-o", str(output)] if command == "export" else
            [command, str(run), "--eval-file", str(run), "-o", str(output)])
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "bertkit", *args],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(named) in errors[0], errors
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "torch" not in imported


# --- item 2: labelled or not comes from the data, not the name's prefix ------------------


def test_glue_labelled_file_named_test_keeps_its_labels_or_fails(tmp_path):
    lines = (SHARED_DATA / "glue" / "MRPC" / "train.tsv").read_text(
        encoding="utf-8-sig").splitlines()[:21]
    source = tmp_path / "my_test_rows.tsv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "prep", "glue", "MRPC", str(source), "-o", str(out),
        "--vocab", str(SHARED_DATA / "vocab" / "bert-base-uncased" / "vocab.txt")])
    assert result.exit_code == 0, result.output  # labelled data: its labels are kept
    manifest = json.loads((out / "manifest.json").read_text())
    counts = next(iter(manifest["counts"].values()))
    assert counts["labels"], "20 labelled rows were written without their labels"
    assert sum(counts["labels"].values()) == 20


# --- a bad SQuAD file: one line naming the file ----------------------------------------


def test_deeply_nested_squad_json_names_the_file(tmp_path):
    source = tmp_path / "deep.json"
    source.write_text('{"version": "1.1", "data": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = CliRunner().invoke(app, [
        "prep", "squad", str(source), "-o", str(tmp_path / "out"), "--split", "eval",
        "--vocab", str(SHARED_DATA / "vocab" / "bert-base-uncased" / "vocab.txt")])
    assert str(source) in _one_line(result, 1)


# --- nothing written over an input -----------------------------------------------------


def test_prep_never_replaces_its_own_input(tmp_path):
    source = tmp_path / "squad_eval.json"
    document = json.loads((SHARED_DATA / "squad_v1.1" / "dev-v1.1.json").read_text())
    article = document["data"][0]
    article["paragraphs"] = article["paragraphs"][:1]
    document["data"] = [article]
    source.write_text(json.dumps(document))
    before = source.read_bytes()
    result = CliRunner().invoke(app, [
        "prep", "squad", str(source), "-o", str(tmp_path), "--split", "eval",
        "--vocab", str(SHARED_DATA / "vocab" / "bert-base-uncased" / "vocab.txt")])
    assert source.read_bytes() == before
    line = _one_line(result, 2)
    assert f"would replace the input {source}" in line
    assert not (tmp_path / "eval.tf_record").exists()  # nothing of the set was published


# --- --resume of a finished run --------------------------------------------------------


def test_resuming_a_finished_run_keeps_its_results(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 16, seq_length=32)
    run = tmp_path / "run"
    args = _train_args(data, run, "--max-steps", "2", "--save-steps", "2")
    assert CliRunner().invoke(app, args).exit_code == 0
    before = json.loads((run / "train_results.json").read_text())
    resumed = CliRunner().invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "nothing to do: the run is complete" in " ".join(resumed.stderr.split())

    def strict(constant: str) -> None:
        raise ValueError(f"train_results.json holds {constant}")

    after = json.loads((run / "train_results.json").read_text(), parse_constant=strict)
    assert after["final_loss"] == before["final_loss"]


# --- MindSpore: a tensor whose dims do not fit names the file and the tensor ------------


def _varint(number: int) -> bytes:
    number &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _length_delimited(field: int, data: bytes) -> bytes:
    return _varint((field << 3) | 2) + _varint(len(data)) + data


def _mindspore_checkpoint(path: Path, tag: str, dims: list[int], content: bytes) -> Path:
    tensor = b"".join(_varint(1 << 3) + _varint(dim) for dim in dims)
    tensor += _length_delimited(2, b"Float32") + _length_delimited(3, content)
    value = _length_delimited(1, tag.encode()) + _length_delimited(2, tensor)
    path.write_bytes(_length_delimited(1, value))
    return path


@pytest.mark.parametrize("dims, content", [([-2, -2], bytes(16)), ([1 << 32, 1 << 32], b"")],
                         ids=["negative", "overflowing"])
def test_mindspore_impossible_dims_name_the_file_and_tensor(tmp_path, dims, content):
    tag = "bert.bert_embedding_lookup.embedding_table"
    checkpoint = _mindspore_checkpoint(tmp_path / "bad.ckpt", tag, dims, content)
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    line = _one_line(CliRunner().invoke(app, _train_args(
        data, tmp_path / "run", "--max-steps", "1", "--init-checkpoint", str(checkpoint))), 1)
    assert str(checkpoint) in line and tag in line


# --- random-bytes TF checkpoint: one line, no TensorFlow noise ---------------------------

TABLE_MAGIC = 0xDB4775248B80FB57


def test_tf_index_with_valid_magic_but_garbage_is_one_line(tmp_path):
    import random
    import struct

    prefix = tmp_path / "model.ckpt"
    body = random.Random(0).randbytes(2000)
    Path(f"{prefix}.index").write_bytes(body + bytes(40) + struct.pack("<Q", TABLE_MAGIC))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(random.Random(1).randbytes(100))
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    result = subprocess.run(
        [sys.executable, "-m", "bertkit", *_train_args(data, tmp_path / "run", "--max-steps", "1",
                                                       "--init-checkpoint", str(prefix))],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, check=False)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {prefix}.index"), result.stderr


def test_tf_bundle_block_checksum_decides_between_foreign_and_unsupported():
    import struct

    import crc32c

    from bertkit.train.checkpoints import tf_bundle

    block = bytes(4)  # no entries, no restarts
    good = tf_bundle._mask_crc(crc32c.crc32c(block + b"\x01"))
    with pytest.raises(tf_bundle.BundleFeatureError):  # a real snappy block: TensorFlow's job
        tf_bundle._read_block(block + b"\x01" + struct.pack("<I", good), 0, 4)
    with pytest.raises(tf_bundle.BundleFormatError) as caught:
        tf_bundle._read_block(block + b"\x01" + struct.pack("<I", good ^ 1), 0, 4)
    assert not isinstance(caught.value, tf_bundle.BundleFeatureError)


# --- records that do not fit the model: one line naming the file --------------------------


def test_token_ids_beyond_the_vocabulary_name_the_file(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8, vocab_size=30000)
    line = _one_line(CliRunner().invoke(app, _train_args(data, tmp_path / "run",
                                                         "--max-steps", "1")), 1)
    config = json.loads((TINY_BERT / "config.json").read_text())
    assert str(data) in line and "vocab_size" in line and str(config["vocab_size"]) in line


# --- a full disk while training: the message names the file -------------------------------


def test_checkpoint_write_failure_names_the_file(tmp_path):
    import resource

    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    run = tmp_path / "run"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (500_000, 500_000))

    result = subprocess.run(
        [sys.executable, "-m", "bertkit",
         *_train_args(data, run, "--max-steps", "1", "--save-steps", "1")],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, check=False, preexec_fn=limit)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {run / 'checkpoint-1'}") and "File too large" in last, last
    assert not [child for child in run.iterdir() if ".tmp-" in child.name]
