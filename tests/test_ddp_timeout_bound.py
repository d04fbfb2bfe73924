"""--ddp-timeout too large for the process group: exit 2 before any work, not an
OverflowError raised on every rank by datetime.timedelta when the group is joined."""

from __future__ import annotations

import datetime

import pytest
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.train.options import MAX_DDP_TIMEOUT_S

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
