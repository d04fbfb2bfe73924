"""Training against hostile or changed run folders and bad options (issue 11, train side).

`--resume` never unpickles, notices a changed training file, cleans up after killed
writers; a NaN stop keeps a checkpoint from before the divergence and its advice
(`--resume --lr`) works; bad numbers and paths are one line before any model loads.
"""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import SHARED_DATA
from train_support import (
    TINY_BERT,
    one_error_line,
    read_log,
    tiny_config,
    write_classification_records,
    write_squad_records,
)
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.errors import InputError
from bertkit.train.trainer import NonFiniteLossError, TrainOptions, train
from bertkit.train.training_state import STATE_JSON, STATE_TENSORS, load_checkpoint

# One torch thread for every test here (conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train_args(data: Path, run: Path, *extra: str) -> list[str]:
    return ["train", "--task", "squad", "--train-file", str(data), "-o", str(run),
            "--config", str(TINY_BERT / "config.json"), "--max-steps", "2", "--batch-size", "4",
            "--device", "cpu", *extra]


def _options(tmp_path: Path, run_name: str, **changes: object) -> TrainOptions:
    data = tmp_path / "data" / "train.tf_record"
    if not data.exists():
        write_squad_records(data, 48, seq_length=32)
    base: dict[str, object] = {
        "task": "squad", "train_file": data, "output_dir": tmp_path / run_name,
        "config_file": tiny_config(tmp_path / "cfg"), "max_steps": 4, "batch_size": 4,
        "lr": 2e-3, "device": "cpu", "save_steps": 2, "seed": 11, "quiet": True}
    base.update(changes)
    return TrainOptions(**base)  # type: ignore[arg-type]


# --- item 1: no pickle is ever loaded ------------------------------------------------------


class _Payload:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_resume_never_unpickles_an_old_format_state(tmp_path):
    run = tmp_path / "run"
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 16)
    CliRunner().invoke(app, _train_args(data, run, "--save-steps", "2"))
    checkpoint = run / "checkpoint-2"
    assert (checkpoint / STATE_JSON).is_file() and not (checkpoint / "training_state.pt").exists()
    # A crafted run folder: the checkpoint holds only a pickle, as older bertkit wrote it.
    (checkpoint / STATE_JSON).unlink()
    (checkpoint / STATE_TENSORS).unlink()
    marker = tmp_path / "code-ran"
    torch.save({"step": _Payload(marker)}, checkpoint / "training_state.pt")

    line = one_error_line(_train_args(data, run, "--save-steps", "2", "--resume"))
    assert not marker.exists()
    assert str(checkpoint / "training_state.pt") in line and "pickle" in line


@pytest.mark.parametrize("damaged", [STATE_JSON, STATE_TENSORS])
def test_garbage_training_state_names_the_file(tmp_path, damaged):
    run = tmp_path / "run"
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 16)
    CliRunner().invoke(app, _train_args(data, run, "--save-steps", "2"))
    target = run / "checkpoint-2" / damaged
    target.write_bytes(os.urandom(300))
    line = one_error_line(_train_args(data, run, "--save-steps", "2", "--resume"))
    assert str(target) in line


def test_state_round_trips_every_type_it_holds(tmp_path):
    train(_options(tmp_path, "run", max_steps=2))
    state = load_checkpoint(tmp_path / "run" / "checkpoint-2")
    python_rng = state["rng"][0]["python"]
    assert isinstance(python_rng, tuple) and isinstance(python_rng[1], tuple)
    assert state["rng"][0]["numpy"][1].dtype.name == "uint32"
    assert set(state["optimizer"]["state"]) == set(range(len(state["optimizer"]["state"])))
    assert state["config"]["lr_changes"] == []


# --- item 4: a changed training file -------------------------------------------------------


def test_resume_refuses_a_training_file_of_another_size(tmp_path):
    options = _options(tmp_path, "run", max_steps=2)
    train(options)
    write_squad_records(options.train_file, 56, seq_length=32)  # re-prepped under the same name
    with pytest.raises(InputError) as caught:
        train(_options(tmp_path, "run", max_steps=4, resume=True))
    message = str(caught.value)
    assert str(options.train_file.resolve()) in message and "changed" in message
    assert "size was" in message


def test_resume_refuses_same_size_other_content(tmp_path):
    data = tmp_path / "d" / "train.tf_record"
    write_classification_records(data, 16, ["a", "b"], label_ids=[0, 1] * 8)
    config = tiny_config(tmp_path / "cfg")
    common = {"task": "classification", "train_file": data, "output_dir": tmp_path / "run",
              "config_file": config, "batch_size": 4, "device": "cpu", "save_steps": 2,
              "quiet": True}
    train(TrainOptions(max_steps=2, **common))  # type: ignore[arg-type]
    size = data.stat().st_size
    write_classification_records(data, 16, ["a", "b"], label_ids=[1, 0] * 8)
    assert data.stat().st_size == size
    with pytest.raises(InputError, match="content fingerprint"):
        train(TrainOptions(max_steps=4, resume=True, **common))  # type: ignore[arg-type]


# --- item 8: temporaries of killed writers -------------------------------------------------


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_checkpoint_temporaries_are_removed_and_reported(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 16)
    run = tmp_path / "run"
    run.mkdir()
    dead = _dead_pid()
    stale = run / f".checkpoint-2.tmp-{dead}"
    stale.mkdir()
    (stale / STATE_TENSORS).write_bytes(b"\0" * 1000)  # what a SIGKILL mid-write leaves
    stale_file = run / f".run_config.json.tmp-{dead}"
    stale_file.write_text("{")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = run / f".checkpoint-4.tmp-{sleeper.pid}"  # a writer still at work: untouched
        live.mkdir()
        result = CliRunner().invoke(app, _train_args(data, run))
        assert result.exit_code == 0, result.output
        assert not stale.exists() and not stale_file.exists()
        assert live.is_dir()
    finally:
        sleeper.kill()
        sleeper.wait()
    said = " ".join(result.stderr.split())
    assert f"removed {stale}" in said and f"process {dead}" in said


# --- item 9: the NaN stop's advice can be followed ------------------------------------------


def test_nan_stop_keeps_the_checkpoint_before_the_divergence_and_resume_with_lower_lr(tmp_path):
    def explode(step, record, model):
        with torch.no_grad():
            if step == 5:  # the loss climbs from step 6 on; checkpoint-6 has huge weights
                model.qa_outputs.weight.mul_(1e4)
            if step == 7:
                model.qa_outputs.weight.fill_(math.nan)

    with pytest.raises(NonFiniteLossError) as caught:
        train(_options(tmp_path, "run", max_steps=10), on_step=explode)
    message = str(caught.value)
    run = tmp_path / "run"
    assert "training stopped at step 8: loss is nan" in message
    assert "the loss began to diverge at step 6" in message
    assert f"kept {run / 'checkpoint-4'}" in message and "removed checkpoint-6" in message
    assert "--resume --lr 0.0002" in message and "\n" not in message
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]

    resumed = train(_options(tmp_path, "run", max_steps=10, lr=2e-4, resume=True))
    assert resumed.global_step == 10
    rows = read_log(run)
    assert [row["step"] for row in rows] == list(range(1, 11))
    assert all(math.isfinite(row["loss"]) for row in rows)
    config = json.loads((run / "run_config.json").read_text())
    assert config["lr"] == 2e-4
    assert config["lr_changes"] == [{"step": 4, "from": 2e-3, "to": 2e-4}]
    # The schedule goes on from step 4 at the new peak: lr(step 5) = 2e-4 * (10-4)/(10-1).
    assert rows[4]["lr"] == pytest.approx(2e-4 * 6 / 9)


def test_a_checkpoint_with_non_finite_weights_is_never_saved(tmp_path):
    def poison_an_unused_row(step, record, model):
        if step == 3:  # token id 5 is in no record: the loss stays finite, the weights do not
            with torch.no_grad():
                model.bert.embeddings.word_embeddings.weight[5] = math.inf

    with pytest.raises(NonFiniteLossError) as caught:
        train(_options(tmp_path, "run", max_steps=8), on_step=poison_an_unused_row)
    run = tmp_path / "run"
    assert "training stopped at step 4: the weights are not finite" in str(caught.value)
    assert f"kept {run / 'checkpoint-2'}" in str(caught.value)
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2"]


@pytest.mark.parametrize(("losses", "start"), [
    ([3.0, 2.5, 2.0, 1.8], 5),  # a sudden NaN after normal losses: the climb is step 5 alone
    ([3.0, 2.5, 2.0, 9.0, 4e8], 4),  # the climb starts where the loss leaves 2x its best
    ([3.0, 1.0, 2.5, 1.5, 1e3], 5),  # 2.5 was noise: the climb is the last stretch only
])
def test_divergence_start(losses, start):
    from bertkit.train.training_state import divergence_start

    by_step = {step: loss for step, loss in enumerate(losses, start=1)}
    assert divergence_start(by_step, len(losses) + 1) == start


def test_resume_without_lr_keeps_the_runs_own(tmp_path):
    train(_options(tmp_path, "run", max_steps=2))
    train(_options(tmp_path, "run", max_steps=2, lr=None, resume=True))
    config = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert config["lr"] == 2e-3 and config["lr_changes"] == []


# --- one clear line for every bad input --------------------------------------------------


@pytest.mark.parametrize(("option", "value"), [
    ("--lr", "nan"), ("--lr", "inf"), ("--lr", "-1"), ("--lr", "0"),
    ("--epochs", "-1"), ("--epochs", "nan"), ("--epochs", "inf"),
    ("--batch-size", "0"), ("--grad-accum", "0"),
    ("--warmup-proportion", "1.5"), ("--warmup-proportion", "-0.1"),
    ("--warmup-proportion", "nan"), ("--weight-decay", "-1"), ("--max-grad-norm", "nan"),
    ("--workers", "-1"),
])
def test_invalid_numbers_are_option_errors_before_any_model_loads(tmp_path, option, value):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    args = ["train", "--task", "squad", "--train-file", str(data), "-o", str(tmp_path / "run"),
            "--init-checkpoint", str(tmp_path / "no-such-checkpoint"), "--device", "cpu",
            *(["--max-steps", "2"] if option != "--epochs" else []), option, value]
    line = one_error_line(args, code=2)
    assert option in line
    assert not (tmp_path / "run").exists()


def test_output_that_is_a_file_is_named_before_the_model_loads(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    target = tmp_path / "taken"
    target.write_text("not a folder")
    line = one_error_line(["train", "--task", "squad", "--train-file", str(data), "-o", str(target),
                      "--init-checkpoint", str(tmp_path / "no-such-checkpoint")], code=2)
    assert str(target) in line and "not a directory" in line


@pytest.mark.parametrize("command", ["export", "predict"])
def test_export_and_predict_to_a_file_name_it_before_reading_the_run(tmp_path, command):
    target = tmp_path / "taken"
    target.write_text("x")
    extra = ["--eval-file", str(tmp_path)] if command == "predict" else []
    line = one_error_line([command, str(tmp_path / "no-run"), *extra, "-o", str(target)], code=2)
    assert str(target) in line and "not a directory" in line


def test_random_bytes_tf_checkpoint_is_one_line_without_tensorflow_noise(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    prefix = tmp_path / "ckpt" / "x.ckpt"
    prefix.parent.mkdir()
    Path(f"{prefix}.index").write_bytes(os.urandom(4096))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(os.urandom(4096))
    (prefix.parent / "bert_config.json").write_text((TINY_BERT / "config.json").read_text())
    result = subprocess.run(
        [sys.executable, "-m", "bertkit", "train", "--task", "squad", "--train-file", str(data),
         "-o", str(tmp_path / "run"), "--init-checkpoint", str(prefix), "--max-steps", "1",
         "--batch-size", "4", "--device", "cpu"],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "COLUMNS": "400"})
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"{prefix}.index" in lines[0] and "not a TensorFlow checkpoint index" in lines[0]


def test_random_bin_init_checkpoint_is_one_line(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 8)
    weights = tmp_path / "ckpt" / "pytorch_model.bin"
    weights.parent.mkdir()
    weights.write_bytes(os.urandom(2048))
    (weights.parent / "config.json").write_text((TINY_BERT / "config.json").read_text())
    line = one_error_line(["train", "--task", "squad", "--train-file", str(data), "-o",
                      str(tmp_path / "run"), "--init-checkpoint", str(weights.parent),
                      "--max-steps", "1", "--batch-size", "4", "--device", "cpu"])
    assert str(weights) in line


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_mindspore_tensor_bytes_not_fitting_its_dtype_name_the_tensor(tmp_path):
    from bertkit.train.checkpoints.mindspore import read_mindspore_checkpoint

    tensor = (_varint(1 << 3) + _varint(3)  # dims [3]
              + _field(2, b"Float32") + _field(3, b"\0" * 10))  # 10 bytes: not 4-byte floats
    path = tmp_path / "odd.ckpt"
    path.write_bytes(_field(1, _field(1, b"bert.word_embeddings") + _field(2, tensor)))
    with pytest.raises(InputError) as caught:
        read_mindspore_checkpoint(path)
    assert str(path) in str(caught.value) and "'bert.word_embeddings'" in str(caught.value)
    assert "10 bytes" in str(caught.value)


def test_corrupted_record_names_the_file_once(tmp_path):
    data = write_squad_records(tmp_path / "d" / "train.tf_record", 16)
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # a data byte in the middle: that record's CRC fails
    data.write_bytes(bytes(raw))
    line = one_error_line(_train_args(data, tmp_path / "run"))
    assert line.count(str(data)) == 1 and "record" in line


def test_train_file_may_be_the_prep_folder(tmp_path):
    data = write_squad_records(tmp_path / "prep" / "train.tf_record", 16)
    result = CliRunner().invoke(app, _train_args(data.parent, tmp_path / "run", "--json"))
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert config["train_file"] == str(data.resolve())
    line = one_error_line(_train_args(tmp_path, tmp_path / "run2"))
    assert f"{tmp_path}: no train.tf_record in this directory" in line


# --- a new user's first hour -------------------------------------------------------------


def test_train_prints_a_summary_with_scores_and_paths(shared_data, tmp_path):
    source = SHARED_DATA / "tnews"
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, count in (("train.json", 48), ("dev.json", 16)):
        with open(source / name, encoding="utf-8") as handle:
            (raw / name).write_text("".join(next(handle) for _ in range(count)), encoding="utf-8")
    prep = tmp_path / "prep"
    result = CliRunner().invoke(app, [
        "prep", "tnews", str(raw / "train.json"), str(raw / "dev.json"), "-o", str(prep),
        "--vocab", str(TINY_BERT / "vocab.txt"), "--max-seq-length", "32", "--workers", "1"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "train", "--task", "classification", "--train-file", str(prep), "--init-checkpoint",
        str(TINY_BERT), "-o", str(run), "--max-steps", "3", "--batch-size", "8",
        "--device", "cpu", "--do-eval", "--eval-file", str(prep)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # people's output goes to stderr; stdout is for --json
    said = " ".join(result.stderr.split())
    assert "trained 3 steps in" in said and "seq/s" in said and "final loss" in said
    assert f"model: {run / 'model'}" in said and f"report: {run / 'report.md'}" in said
    assert f"predictions: {run / 'eval' / 'predictions.tsv'}" in said
    results = json.loads((run / "eval" / "eval_results.json").read_text())
    assert f"{results['accuracy']:.4f}" in said  # the scores, as `bertkit eval` prints them


def test_safetensors_files_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        train(_options(tmp_path, "run", max_steps=2))
        from bertkit.train.export import export_run

        export_run(tmp_path / "run", tmp_path / "export")
    finally:
        os.umask(previous)
    for path in (tmp_path / "run" / "model" / "model.safetensors",
                 tmp_path / "run" / "checkpoint-2" / STATE_TENSORS,
                 tmp_path / "export" / "model.safetensors",
                 tmp_path / "run" / "model" / "config.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


@pytest.mark.distributed
def test_bad_input_under_torchrun_is_the_same_one_line(tmp_path):
    missing = tmp_path / "missing.tf_record"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "bertkit", "train", "--task", "squad", "--train-file", str(missing), "-o",
         str(tmp_path / "run"), "--config", str(TINY_BERT / "config.json"), "--device", "cpu"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
        env=dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="400"))
    assert done.returncode == 1, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {missing}: TFRecord file not found"], done.stderr[-3000:]
    # torchrun's own failure report remains; no worker traceback goes into it.
    assert "bertkit/" not in done.stderr and "InputError" not in done.stderr
