"""Where each training step's record goes, on rank 0: log.jsonl, TensorBoard, the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from bertkit.console import info, make_progress, progress_enabled
from bertkit.errors import InputError
from bertkit.fsutil import atomic_path


class StepReporter:
    """Where each step's record goes: log.jsonl, TensorBoard, the progress bar, a plain line.

    Only rank 0 reports. The plain line is printed every 5% of the run, so logs captured
    off a terminal (where the bar is hidden) still show progress.
    """

    def __init__(self, run_dir: Path, total_steps: int, first_step: int, *, enabled: bool,
                 quiet: bool):
        self.enabled = enabled
        self.quiet = quiet
        self.total_steps = total_steps
        self.print_every = max(1, total_steps // 20)
        self.losses: list[float] = []
        self.step_times: list[float] = []
        self.log_file = open_log(run_dir / "log.jsonl", first_step) if enabled else None
        self.board = tensorboard_writer(run_dir) if enabled else None
        self.progress = make_progress(enabled and not quiet and progress_enabled(False))
        self.progress.start()
        self.bar = self.progress.add_task("training", total=total_steps, completed=first_step)

    def report(self, record: dict[str, float]) -> None:
        self.losses.append(record["loss"])
        self.step_times.append(record["step_time"])
        if not self.enabled:
            return
        step = int(record["step"])
        assert self.log_file is not None
        self.log_file.write(json.dumps(record) + "\n")
        self.log_file.flush()
        if self.board is not None:
            for key in ("loss", "lr", "step_time", "seq_per_s", *accuracy_keys(record)):
                self.board.add_scalar(f"train/{key}", record[key], step)
        self.progress.update(self.bar, advance=1,
                             description=f"training loss {record['loss']:.4f}")
        if not self.quiet and (step % self.print_every == 0 or step == self.total_steps):
            accuracy = "".join(f"{key} {record[key]:.3f} " for key in accuracy_keys(record))
            info(f"step {step}/{self.total_steps} loss {record['loss']:.4f} {accuracy}"
                 f"lr {record['lr']:.3g} {record['step_time'] * 1000:.0f} ms/step "
                 f"{record['seq_per_s']:.1f} seq/s")

    def close(self) -> None:
        self.progress.stop()
        if self.log_file is not None:
            self.log_file.close()
        if self.board is not None:
            self.board.close()


def accuracy_keys(record: dict[str, float]) -> list[str]:
    """The training accuracies a task logs beside the loss (pretraining: masked LM, NSP)."""
    return [key for key in record if key.endswith("_accuracy")]


def open_log(log_path: Path, resumed_step: int) -> IO[str]:
    """log.jsonl for appending; on resume, lines after the checkpoint's step are dropped."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    if resumed_step and log_path.is_file():
        lines = log_path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                step = json.loads(line)["step"]
                if not isinstance(step, int):
                    raise TypeError
            except (ValueError, TypeError, KeyError):
                if number == len(lines):  # the last line of a killed run, cut mid-write
                    continue
                raise InputError(log_path, "not a step record (a JSON object with a step)",
                                 number) from None
            if step <= resumed_step:
                kept.append(line + "\n")
    with atomic_path(log_path) as tmp:
        tmp.write_text("".join(kept), encoding="utf-8")
    return open(log_path, "a", encoding="utf-8")  # closed by StepReporter.close()


def tensorboard_writer(run_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(log_dir=str(run_dir / "runs"))
