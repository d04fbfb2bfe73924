"""--ddp-timeout too large for the process group: exit 2 before any work, not an
OverflowError raised on every rank by datetime.timedelta when the group is joined; too
small to outlast the ranks' ordinary skew: exit 2 too, not a healthy run stopped."""

from __future__ import annotations

import datetime

import pytest
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.train.options import (
    MAX_DDP_TIMEOUT_S,
    MIN_DDP_TIMEOUT_S,
    TrainOptions,
    validate_options,
)

# One torch thread for every test here (conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_bound_is_one_timedelta_holds() -> None:
    assert datetime.timedelta(seconds=MAX_DDP_TIMEOUT_S).total_seconds() == MAX_DDP_TIMEOUT_S
    with pytest.raises(OverflowError):
        datetime.timedelta(seconds=1e15)


@pytest.mark.parametrize("value", ["1e15", "1e300"])
def test_huge_ddp_timeout_is_an_option_error(tmp_path, value) -> None:
    result = CliRunner().invoke(app, ["train", "--task", "squad", "--train-file",
                                      str(tmp_path / "absent.tf_record"), "-o",
                                      str(tmp_path / "run"), "--ddp-timeout", value])
    assert result.exit_code == 2, result.output
    assert "--ddp-timeout must be at most" in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["0", "-1", "0.5", "1", "4.9"])
def test_tiny_ddp_timeout_is_an_option_error_saying_why(tmp_path, value) -> None:
    """0 was refused, but 1 s was taken: the first collective the ranks reach a moment apart
    stopped a healthy run as 'another rank did not answer'."""
    result = CliRunner().invoke(app, ["train", "--task", "squad", "--train-file",
                                      str(tmp_path / "absent.tf_record"), "-o",
                                      str(tmp_path / "run"), "--ddp-timeout", value])
    assert result.exit_code == 2, result.output
    line = [line for line in result.stderr.splitlines() if line.startswith("error:")][0]
    assert f"--ddp-timeout must be at least 5 s, got {float(value):g}: ranks join" in line
    assert not (tmp_path / "run").exists()


def test_the_smallest_ddp_timeout_is_accepted(tmp_path) -> None:
    validate_options(TrainOptions(task="squad", train_file=tmp_path / "t.tf_record",
                                  output_dir=tmp_path / "run", config_file=tmp_path / "c.json",
                                  ddp_timeout=MIN_DDP_TIMEOUT_S))
