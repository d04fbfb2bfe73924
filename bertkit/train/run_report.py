"""What a finished training run leaves for a human: `learning_curve.png` and `report.md`.

Both are drawn from files the run already wrote (``log.jsonl``, the resolved config, prep's
manifest beside the train file) plus the figures the trainer returns, so a report can also
be rebuilt later for an old run directory. matplotlib is a dependency of bertkit, but an
install without it (``--no-deps``, a trimmed image) only skips the PNG, and the report says
so: training never fails for want of a plot.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertkit.errors import InputError
from bertkit.fsutil import atomic_path, write_text_atomic
from bertkit.train.reporting import accuracy_keys

LOG_NAME = "log.jsonl"
CURVE_NAME = "learning_curve.png"
REPORT_NAME = "report.md"
# The metric shown on the curve: the first of these the scorer returned.
HEADLINE_METRICS = ("f1", "exact_match", "accuracy", "corr", "macro_f1", "mcc")
# Scorer output that is bookkeeping, not a figure for the report.
_NOT_METRICS = {"task", "predictions", "gold", "warnings", "missing_ids", "unknown_ids",
                "confusion_matrix", "per_type", "splits", "na_prob_file"}
# Options that decide the trajectory, shown in this order under "Hyperparameters".
HYPERPARAMETERS = ("task", "epochs", "max_steps", "total_steps", "warmup_steps", "lr",
                   "batch_size", "grad_accum", "global_batch", "world_size", "warmup_proportion",
                   "weight_decay", "max_grad_norm", "precision", "seed", "seq_length",
                   "num_labels", "use_crf")
_PLOT_MISSING = ("learning_curve.png not drawn: matplotlib is not installed "
                 "(pip install matplotlib)")


@dataclass(frozen=True)
class StepRecord:
    step: int
    loss: float
    lr: float
    step_time: float
    seq_per_s: float
    # Training accuracies a task logs beside the loss (pretraining: mlm_accuracy, nsp_accuracy).
    accuracies: dict[str, float] = field(default_factory=dict)


def read_step_log(path: Path) -> list[StepRecord]:
    """The per-step records of ``log.jsonl``; a damaged line is an InputError naming it."""
    if not path.is_file():
        raise InputError(path, "training log not found")
    records: list[StepRecord] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            records.append(StepRecord(step=int(raw["step"]), loss=float(raw["loss"]),
                                      lr=float(raw["lr"]), step_time=float(raw["step_time"]),
                                      seq_per_s=float(raw["seq_per_s"]),
                                      accuracies={key: float(raw[key])
                                                  for key in accuracy_keys(raw)}))
        except (ValueError, KeyError, TypeError) as error:
            raise InputError(path, f"not a step record ({error})", number) from None
    return records


def headline_metric(eval_results: Mapping[str, Any] | None) -> tuple[str, float] | None:
    """(name, value) of the metric worth plotting, or None when nothing was scored."""
    if not eval_results:
        return None
    for name in HEADLINE_METRICS:
        value = eval_results.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return name, float(value)
    return None


def draw_learning_curve(records: Sequence[StepRecord], path: Path,
                        metric: tuple[str, float] | None) -> Path | None:
    """Loss against step (and the final eval metric on a second axis); None without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg", force=True)  # files only: never needs a display
    from matplotlib.figure import Figure

    # A Figure not registered with pyplot: nothing global to clean up, safe in threads.
    figure = Figure(figsize=(7, 4), dpi=100)
    axes = figure.add_subplot()
    steps = [r.step for r in records]
    losses = [r.loss for r in records]
    window = len(records) // 20
    if window >= 2:
        # Per-step losses of small batches are noisy: draw them faint, the trend on top.
        axes.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8,
                  label="training loss")
        axes.plot(steps, moving_average(losses, window), color="tab:blue", linewidth=1.6,
                  label=f"mean of last {window} steps")
    else:
        axes.plot(steps, losses, color="tab:blue", linewidth=1.2, marker=".",
                  label="training loss")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss")
    axes.grid(True, alpha=0.3)
    accuracy_names = sorted({name for record in records for name in record.accuracies})
    if accuracy_names:
        # Training accuracies (fractions) on a right-hand axis; a task that logs them has
        # no separate eval step to mark.
        right = axes.twinx()
        for name, color in zip(accuracy_names, ("tab:green", "tab:orange", "tab:purple")):
            values = [r.accuracies.get(name, math.nan) for r in records]
            if window >= 2:
                values = moving_average(values, window)
            right.plot(steps, values, color=color, linewidth=1.4, label=name.replace("_", " "))
        right.set_ylabel("training accuracy")
        right.set_ylim(0, 1.0)
        handles = axes.get_legend_handles_labels()
        extra = right.get_legend_handles_labels()
        legend_entries = (handles[0] + extra[0], handles[1] + extra[1])
    elif metric is not None and steps:
        name, value = metric
        right = axes.twinx()
        right.plot([steps[-1]], [value], marker="*", markersize=14, color="tab:red",
                   linestyle="none", label=f"eval {name}")
        right.annotate(f"{name} {value:.2f}", (steps[-1], value), textcoords="offset points",
                       xytext=(-10, 8), ha="right", color="tab:red")
        right.set_ylabel(f"eval {name}", color="tab:red")
        # Scores are percentages (0-100) or fractions (0-1); show the whole range.
        right.set_ylim(0, 100 if value > 1.0 else 1.0)
        handles = axes.get_legend_handles_labels()
        extra = right.get_legend_handles_labels()
        legend_entries = (handles[0] + extra[0], handles[1] + extra[1])
    else:
        legend_entries = axes.get_legend_handles_labels()
    # Above the plot, so it never hides the curve or the metric's label.
    axes.legend(*legend_entries, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3,
                frameon=False)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Mean of each value and the ``window - 1`` before it (fewer at the start)."""
    out: list[float] = []
    total = 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        out.append(total / min(index + 1, window))
    return out


def describe_data(resolved_config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rows about the training data: file, records, and what prep's manifest says of it."""
    rows: list[tuple[str, str]] = []
    train_file = resolved_config.get("train_file")
    if not train_file:
        return rows
    train_path = Path(str(train_file))
    rows.append(("train file", f"`{train_path}`"))
    index = train_path.with_name(train_path.name + ".index")
    if index.is_file():  # one line per record, written by TFRecordWriter
        with index.open(encoding="utf-8") as handle:
            rows.append(("records", f"{sum(1 for line in handle if line.strip()):,}"))
    # A prep pretrain folder holds its manifest; a record file has it beside it.
    folder = train_path if train_path.is_dir() else train_path.parent
    manifest = _read_json(folder / "manifest.json")
    if manifest:
        rows.append(("prepared by", f"`bertkit {manifest.get('command', '?')}`"))
        sources = [str(entry.get("path")) for entry in manifest.get("inputs") or []]
        if sources:
            rows.append(("source", ", ".join(f"`{source}`" for source in sources)))
        counts = manifest.get("counts") or {}
        split = train_path.name.split(".")[0]
        # GLUE-style manifests count per split; SQuAD's counts the one file it wrote.
        per_split = counts.get(split)
        split_counts: dict[str, Any] = per_split if isinstance(per_split, dict) else counts
        for key in ("examples", "features", "instances"):
            if isinstance(split_counts.get(key), int):
                rows.append((f"source {key}", f"{split_counts[key]:,}"))
    if resolved_config.get("eval_file"):
        rows.append(("eval file", f"`{resolved_config['eval_file']}`"))
    return rows


def describe_checkpoint(resolved_config: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    init = resolved_config.get("init_checkpoint")
    rows.append(("init checkpoint", f"`{init}`" if init else "none (random initialisation)"))
    if resolved_config.get("config_file"):
        rows.append(("network config", f"`{resolved_config['config_file']}`"))
    network = resolved_config.get("bert_config") or {}
    shape = [f"{key} {network[key]}" for key in
             ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size")
             if key in network]
    if shape:
        rows.append(("network", ", ".join(shape)))
    return rows


def throughput_figures(records: Sequence[StepRecord],
                       train_results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Seq/s and step time; the steady state leaves out step 1 (warm-up allocations)."""
    rows: list[tuple[str, str]] = []
    steady = list(records[1:]) or list(records)
    if steady:
        times = sorted(r.step_time for r in steady)
        mean_time = sum(times) / len(times)
        median = times[len(times) // 2]
        spread = f"steps 2+, median {_step_time(median)}"
        rows.append(("mean step time", f"{_step_time(mean_time)} ({spread})"))
        mean_rate = sum(r.seq_per_s for r in steady) / len(steady)
        rows.append(("throughput", f"{mean_rate:.1f} sequences/s (mean over steps 2+)"))
    if isinstance(train_results.get("seq_per_s"), (int, float)):
        rows.append(("throughput, whole run", f"{train_results['seq_per_s']:.1f} sequences/s"))
    runtime = train_results.get("train_runtime")
    if isinstance(runtime, (int, float)):
        rows.append(("wall time (training loop)", format_duration(float(runtime))))
    return rows


def _step_time(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1.0 else f"{seconds:.2f} s"


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return str(seconds)
    minutes, rest = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours} h {minutes:02d} min {rest:04.1f} s"
    if minutes:
        return f"{minutes} min {rest:04.1f} s"
    return f"{rest:.1f} s"


def render_report(*, records: Sequence[StepRecord], train_results: Mapping[str, Any],
                  resolved_config: Mapping[str, Any], eval_results: Mapping[str, Any] | None,
                  curve: Path | None, notes: Sequence[str]) -> str:
    run_dir = train_results.get("run_dir") or ""
    lines = [f"# Training run {Path(str(run_dir)).name or ''}".rstrip(), ""]
    lines += _section("Data", describe_data(resolved_config))
    lines += _section("Checkpoint", describe_checkpoint(resolved_config))
    lines += _section("Hyperparameters", [
        (key, _format_value(resolved_config[key])) for key in HYPERPARAMETERS
        if key in resolved_config and resolved_config[key] is not None])

    final = [("steps", f"{train_results.get('global_step', len(records))}")]
    if records:
        final.append(("final training loss", f"{records[-1].loss:.4f}"))
        lowest = min(records, key=lambda r: r.loss)
        final.append(("lowest training loss", f"{lowest.loss:.4f} (step {lowest.step})"))
        for name, value in records[-1].accuracies.items():
            final.append((f"final training {name.replace('_', ' ')}", f"{value:.4f}"))
    if isinstance(train_results.get("mean_loss"), (int, float)):
        final.append(("mean training loss", f"{train_results['mean_loss']:.4f}"))
    for name, value in (eval_results or {}).items():
        if name not in _NOT_METRICS and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            final.append((f"eval {name}", _format_value(value)))
    if eval_results is None:
        final.append(("eval", "not run (train --do-eval --eval-file ... scores the model)"))
    lines += _section("Final metrics", final)
    lines += _section("Throughput and time", throughput_figures(records, train_results))
    if curve is not None:
        lines += [f"![learning curve]({curve.name})", ""]
    for note in notes:
        lines.append(f"> {note}")
    if notes:
        lines.append("")
    return "\n".join(lines)


def write_run_report(run_dir: Path, *, train_results: dict[str, Any],
                     resolved_config: dict[str, Any], eval_results: dict[str, Any] | None,
                     notes: list[str] | None = None) -> list[Path]:
    """Write RUN_DIR/learning_curve.png (when matplotlib is there) and RUN_DIR/report.md.

    Returns the files written. Anything skipped is explained in report.md and appended to
    ``notes`` when the caller passes a list (so a CLI can print it).
    """
    run_dir = Path(run_dir)
    records = read_step_log(run_dir / LOG_NAME)
    skipped: list[str] = []
    written: list[Path] = []
    curve = draw_learning_curve(records, run_dir / CURVE_NAME, headline_metric(eval_results))
    if curve is None:
        skipped.append(_PLOT_MISSING)
    else:
        written.append(curve)
    report = render_report(records=records, train_results={"run_dir": str(run_dir),
                                                           **train_results},
                           resolved_config=resolved_config, eval_results=eval_results,
                           curve=curve, notes=skipped)
    written.append(write_text_atomic(run_dir / REPORT_NAME, report))
    if notes is not None:
        notes.extend(skipped)
    return written


def _section(title: str, rows: Sequence[tuple[str, str]]) -> list[str]:
    if not rows:
        return []
    out = [f"## {title}", "", "| | |", "| --- | --- |"]
    out += [f"| {name} | {value} |" for name, value in rows]
    return out + [""]


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-2 and value != 0 else f"{value:.4f}".rstrip(
            "0").rstrip(".")
    return str(value)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None
