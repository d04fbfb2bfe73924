"""`bertkit train`'s options and their checks, free of torch.

Option errors must come before any heavy work: importing torch alone takes seconds, so
the command validates here first and imports the trainer only for options that make sense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from bertkit.errors import UsageError
from bertkit.train import tasks

# One -o check for every command (fsutil); predict and export import it from here.
from bertkit.fsutil import check_output_dir as check_output_dir

PRECISIONS = ("fp32", "fp16", "bf16")
DEVICE_CHOICES = ("auto", "cpu", "cuda")
DEFAULT_LR = 3e-5
# The masked-LM output bias of a pretraining run from scratch: Google's zeros, or the
# labels' unigram log shares (tasks/pretrain.py says why).
MLM_BIAS_INITS = ("zeros", "unigram")
# How long a rank waits in a collective for the others before the run stops (torch's own
# gloo default). It must outlast what rank 0 does alone while the others wait: saving the
# model, --do-eval.
DEFAULT_DDP_TIMEOUT_S = 1800.0
# Below this, healthy runs would stop: the ranks join the group and reach each collective
# seconds apart (each imports torch and opens the data at its own pace; rank 0 writes each
# checkpoint while the others wait), and the wait bounds all of them.
MIN_DDP_TIMEOUT_S = 5.0
# Past this, the process group's timedelta overflows (1e15 s) or its clocks' nanosecond
# deadlines do (~292 years): a usage error here, not an OverflowError on every rank.
MAX_DDP_TIMEOUT_S = 365 * 24 * 3600.0


@dataclass
class TrainOptions:
    task: str
    train_file: Path
    output_dir: Path
    init_checkpoint: Path | None = None
    config_file: Path | None = None
    epochs: float = 2.0
    max_steps: int | None = None
    lr: float | None = None  # None: DEFAULT_LR for a new run, the checkpoint's on --resume
    batch_size: int = 12
    grad_accum: int = 1
    warmup_proportion: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    precision: str = "fp32"
    seed: int = 42
    save_steps: int | None = None
    resume: bool = False
    device: str = "auto"
    use_crf: bool = False
    eval_file: Path | None = None
    do_eval: bool = False
    num_workers: int = 0
    # Batching: batches of similar lengths (opt-in); trim each batch's padded tail (a no-op
    # on the results, see data.trim_batch), its length rounded up to pad_to_multiple_of.
    group_by_length: bool = False
    trim_batches: bool = True
    pad_to_multiple_of: int = 1
    ddp_timeout: float = DEFAULT_DDP_TIMEOUT_S  # seconds; see DEFAULT_DDP_TIMEOUT_S
    mlm_bias_init: str = "zeros"  # one of MLM_BIAS_INITS
    quiet: bool = False  # no human output (library use, --json keeps the log line off stdout)


def check_output_apart_from_inputs(output: Path, inputs: dict[str, Path | None]) -> None:
    """-o must not be an input's prep folder (or the input itself): outputs would mix with it."""
    out = Path(output).resolve()
    for option, given in inputs.items():
        if given is None:
            continue
        source = Path(given).resolve()
        folder = source if source.is_dir() else source.parent
        if out in (source, folder):
            raise UsageError(f"-o {output} is where {option} {given} lives; write the run "
                             "to its own folder")


def _check_number(option: str, value: float | None, *, low: float, low_inclusive: bool,
                  high: float | None = None, high_inclusive: bool = True) -> None:
    """A finite number within bounds, or a usage error naming the option (nan, inf, -1...)."""
    if value is None:
        return
    inside = math.isfinite(value) and (value >= low if low_inclusive else value > low)
    if high is not None:
        inside = inside and (value <= high if high_inclusive else value < high)
    if not inside:
        bound = (f"{'at least' if low_inclusive else 'greater than'} {low:g}" if high is None
                 else f"in {'[' if low_inclusive else '('}{low:g}, {high:g}"
                      f"{']' if high_inclusive else ')'}")
        raise UsageError(f"{option} must be a finite number {bound}, got {value}")


def validate_options(options: TrainOptions) -> None:
    """Contradicting or impossible options: usage errors before torch or any file is read."""
    _check_number("--lr", options.lr, low=0.0, low_inclusive=False)
    _check_number("--epochs", options.epochs, low=0.0, low_inclusive=False)
    _check_number("--warmup-proportion", options.warmup_proportion, low=0.0,
                  low_inclusive=True, high=1.0, high_inclusive=False)
    _check_number("--weight-decay", options.weight_decay, low=0.0, low_inclusive=True)
    _check_number("--max-grad-norm", options.max_grad_norm, low=0.0, low_inclusive=True)
    if math.isfinite(options.ddp_timeout) and options.ddp_timeout < MIN_DDP_TIMEOUT_S:
        raise UsageError(f"--ddp-timeout must be at least {MIN_DDP_TIMEOUT_S:g} s, got "
                         f"{options.ddp_timeout:g}: ranks join and reach each collective "
                         "seconds apart (startup, rank 0 saving), so a shorter wait stops "
                         "healthy runs")
    _check_number("--ddp-timeout", options.ddp_timeout, low=MIN_DDP_TIMEOUT_S,
                  low_inclusive=True)  # nan, inf
    if options.ddp_timeout > MAX_DDP_TIMEOUT_S:
        raise UsageError(f"--ddp-timeout must be at most {MAX_DDP_TIMEOUT_S:g} s (a year), "
                         f"got {options.ddp_timeout:g}")
    if options.num_workers < 0:
        raise UsageError("--workers must be 0 or more")
    if options.seed < 0:
        raise UsageError("--seed must be 0 or more")
    if options.task not in tasks.TASK_NAMES:
        raise UsageError(f"--task must be one of {', '.join(tasks.TASK_NAMES)}, "
                         f"got {options.task!r}")
    if options.precision not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}")
    if options.device not in DEVICE_CHOICES:
        raise UsageError(f"--device must be one of {', '.join(DEVICE_CHOICES)}, "
                         f"got {options.device!r}")
    for name in ("batch_size", "grad_accum"):
        if getattr(options, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if options.max_steps is not None and options.max_steps < 1:
        raise UsageError("--max-steps must be at least 1")
    if options.save_steps is not None and options.save_steps < 1:
        raise UsageError("--save-steps must be at least 1")
    if options.do_eval and options.task in tasks.TASKS_WITHOUT_PREDICTION:
        raise tasks.no_prediction_step(options.task)
    if options.mlm_bias_init not in MLM_BIAS_INITS:
        raise UsageError(f"--mlm-bias-init must be one of {', '.join(MLM_BIAS_INITS)}, "
                         f"got {options.mlm_bias_init!r}")
    if options.mlm_bias_init != "zeros" and options.task not in tasks.TASKS_WITH_MLM_HEAD:
        raise UsageError(f"--mlm-bias-init is for a masked-LM head "
                         f"(--task {', '.join(tasks.TASKS_WITH_MLM_HEAD)}), not --task "
                         f"{options.task}")
    if options.do_eval and options.eval_file is None:
        raise UsageError("--do-eval needs --eval-file")
    if options.init_checkpoint is None and options.config_file is None:
        raise UsageError("give --init-checkpoint (and optionally --config), or --config alone "
                         "to train from random weights")
    if options.use_crf and options.task != "ner":
        raise UsageError("--use-crf applies to --task ner only")
    if options.pad_to_multiple_of < 1:
        raise UsageError("pad_to_multiple_of must be at least 1")
    check_output_dir(Path(options.output_dir))
    check_output_apart_from_inputs(Path(options.output_dir), {
        "--train-file": options.train_file, "--eval-file": options.eval_file})
