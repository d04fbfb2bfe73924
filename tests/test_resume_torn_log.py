"""--resume (and a torchrun restart, which resumes the same way) after a kill that cut
log.jsonl's last line mid-write: the torn line is dropped, not a JSONDecodeError that fails
every later attempt; a bad line elsewhere is one line naming log.jsonl and its line."""

from __future__ import annotations

import pytest
from train_support import read_log, tiny_config, write_squad_records

from bertkit.errors import InputError
from bertkit.train.trainer import TrainOptions, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Interrupted(Exception):
    pass


def _options(tmp_path, **changes):
    data = tmp_path / "data" / "train.tf_record"
    if not data.exists():
        write_squad_records(data, 16, seq_length=32)
    base = {"task": "squad", "train_file": data, "output_dir": tmp_path / "run",
            "config_file": tiny_config(tmp_path / "cfg"), "max_steps": 4, "batch_size": 4,
            "lr": 1e-3, "device": "cpu", "save_steps": 2, "seed": 3, "quiet": True}
    base.update(changes)
    return TrainOptions(**base)


def _interrupted_at_step_3(tmp_path):
    def stop(step, record, model):
        if step == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(_options(tmp_path), on_step=stop)
    return tmp_path / "run" / "log.jsonl"


def test_torn_last_log_line_is_dropped_on_resume(tmp_path):
    log = _interrupted_at_step_3(tmp_path)
    text = log.read_text(encoding="utf-8")
    log.write_text(text[: len(text) - 25], encoding="utf-8")  # step 3's line cut mid-write
    resumed = train(_options(tmp_path, resume=True))
    assert resumed.global_step == 4
    assert [row["step"] for row in read_log(tmp_path / "run")] == [1, 2, 3, 4]


def test_bad_log_line_before_the_last_names_the_file_and_line(tmp_path):
    log = _interrupted_at_step_3(tmp_path)
    lines = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join(["garbage", *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"log\.jsonl:1: not a step record"):
        train(_options(tmp_path, resume=True))
