"""`bertkit train`: fine-tune BERT on prep's TFRecords, on one device or under torchrun.

The loop is written to be read top to bottom (nanoGPT's style): set up the process
group, the model and the data into one `TrainState`; then for each optimizer step run
`grad_accum` micro-batches (gradient sync only on the last, via `no_sync`), clip, step,
and every `save_steps` write a resume checkpoint. Each step's loss stays on the device
until the loop reads it back (every step on the CPU, every few on an accelerator, see
`STEPS_PER_READ`) and logs one JSON line per step. The global batch is per-device batch x
world size x accumulation, so adding devices at fixed accumulation grows it, and the same
global batch on 1 or N processes gives the same losses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bertkit.console import info
from bertkit.errors import BertkitError, InputError, UsageError
from bertkit.fsutil import write_json_atomic
from bertkit.train import data as train_data
from bertkit.train import elastic, training_state
from bertkit.train.distributed import (
    DistContext,
    PeerFailureError,
    barrier,
    broadcast_object,
    cleanup,
    gather_objects,
    mean_over_ranks,
    peer_failures_reported,
    setup_distributed,
)
from bertkit.train.options import DEFAULT_LR, TrainOptions, validate_options
from bertkit.train.optim import clip_global_norm, make_optimizer, make_scheduler, warmup_steps_for
from bertkit.train.reporting import StepReporter
from bertkit.train.run_setup import (
    autocast_for,
    check_head_matches_labels,
    find_vocab,
    initial_model,
    resolve_bert_config,
    seed_everything,
)
from bertkit.train.tasks import get_task
from bertkit.train.tasks.base import StepMetrics, Task

# Options that shape the trajectory: a resumed run must use the same values. The learning
# rate may change on resume when given explicitly (a way out of divergence): the change is
# recorded in the run config as {"step", "from", "to"} under "lr_changes".
_RESUME_MUST_MATCH = ("task", "train_file", "epochs", "max_steps", "batch_size",
                      "grad_accum", "warmup_proportion", "weight_decay", "max_grad_norm",
                      "precision", "seed", "use_crf", "world_size")


class NonFiniteLossError(BertkitError):
    """Training diverged (NaN or inf); the last good checkpoint is kept."""


@dataclass
class TrainResult:
    run_dir: Path
    global_step: int
    total_steps: int
    global_batch: int
    world_size: int
    final_loss: float
    mean_loss: float
    train_runtime: float
    mean_step_time: float
    seq_per_s: float
    files: list[Path] = field(default_factory=list)
    eval_results: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_dir"] = str(self.run_dir)
        out["files"] = [str(path) for path in self.files]
        return out


StepCallback = Callable[[int, dict[str, float], nn.Module], None]


@dataclass
class _UnreadStep:
    """A finished optimizer step whose loss and gradient norm are still on the device."""

    step: int
    loss: torch.Tensor
    grad_norm: torch.Tensor
    lr: float
    started: float  # time.perf_counter() when the step began
    metrics: StepMetrics | None = None  # the task's figures besides the loss, if it has any


@dataclass
class TrainState:
    """What the loop and its helpers share: the run's parts and how far it has come.

    ``model`` is what the forward runs through (DistributedDataParallel under torchrun);
    ``raw_model`` is the bare module whose state dict is saved, exported and evaluated.
    ``resolved`` is the run config, saved in every checkpoint and as run_config.json.
    ``task`` is ``options.task``'s Task, looked up once for the run.
    """

    options: TrainOptions
    task: Task
    context: DistContext
    run_dir: Path
    resolved: dict[str, Any]
    model: nn.Module
    raw_model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    step: int = 0  # optimizer steps done
    unread: list[_UnreadStep] = field(default_factory=list)

    @property
    def global_batch(self) -> int:
        return self.resolved["global_batch"]


def _model_inputs(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {name: tensor.to(device, non_blocking=True) for name, tensor in batch.items()
            if name != "unique_ids"}


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------


def train(options: TrainOptions, *, on_step: StepCallback | None = None) -> TrainResult:
    """Fine-tune as the options say; returns the figures and every file written (rank 0)."""
    progress = {"training": False}
    try:
        validate_options(options)
        context = setup_distributed(options.device, options.ddp_timeout)
        try:
            with peer_failures_reported(context, options.ddp_timeout):
                return _train(options, context, on_step, progress)
        finally:
            cleanup(context)
    except BertkitError as error:
        # Checks before the first step see the same options and files on every rank.
        alike = (not progress["training"] and not isinstance(error, PeerFailureError)) \
            or isinstance(error, NonFiniteLossError)
        error.alike_on_every_rank = alike  # type: ignore[attr-defined]
        raise


def _train(options: TrainOptions, context: DistContext, on_step: StepCallback | None,
           progress: dict[str, bool]) -> TrainResult:
    main = context.is_main
    say = info if (main and not options.quiet) else (lambda message: None)
    run_dir = Path(options.output_dir)
    task = get_task(options.task)
    options = dataclasses.replace(options, train_file=task.resolve_train_file(options.train_file))

    # --- config and data, checked against each other before any weights are loaded
    if main:
        for path, pid in training_state.remove_stale_temporaries(run_dir):
            say(f"removed {path}, left behind by process {pid}, which is no longer running")
    barrier(context)
    # Restarted by torchrun (--max-restarts), the run resumes by itself: see elastic.py.
    attempt = broadcast_object(elastic.plan_attempt(run_dir, options.resume) if main else None,
                               context)
    if attempt.note:
        say(attempt.note)
    _check_run_dir(run_dir, attempt.resume or attempt.own_restart)
    options = dataclasses.replace(options, resume=attempt.resume)
    if options.do_eval:
        from bertkit.train.prediction_files import recorded_contract
        from bertkit.train.predict import resolve_eval_file

        # The eval data's contract too: a bad one stops the run before training, not after.
        eval_file = resolve_eval_file(Path(options.eval_file),  # type: ignore[arg-type]
                                      options.task)
        recorded_contract(eval_file, scorers=task.scorers)
    bert_config, config_path = resolve_bert_config(options.config_file, options.init_checkpoint)
    layout = task.layout(training=True)
    id_limits = train_data.id_limits_for(bert_config)
    probe = task.open_train_data(options.train_file, layout, task=options.task,
                                 id_limits=id_limits)
    if probe.seq_length > bert_config.max_position_embeddings:
        raise InputError(
            options.train_file,
            f"sequence length {probe.seq_length} is larger than the model's "
            f"max_position_embeddings {bert_config.max_position_embeddings} ({config_path})",
        )
    num_labels, id2label = task.resolve_labels(options.train_file, probe)
    check_head_matches_labels(options.init_checkpoint, options.train_file, num_labels)
    # The probe is the dataset unless labels were found (a head sized from the data):
    # opening a set of pretraining shards reads every shard's index.
    dataset = probe if num_labels is None else task.open_train_data(
        options.train_file, layout, task=options.task, num_labels=num_labels,
        id_limits=id_limits)
    dataset.check_all_labels()
    dataset.check_ids(limit=train_data.IDS_CHECKED_UPFRONT)

    world = context.world_size
    global_batch = options.batch_size * world * options.grad_accum
    micro_per_epoch = train_data.batches_per_epoch(len(dataset), batch_size=options.batch_size,
                                                   world_size=world)
    steps_per_epoch = micro_per_epoch // options.grad_accum
    if steps_per_epoch == 0:
        raise InputError(options.train_file,
                         f"{len(dataset)} records are fewer than one global batch of "
                         f"{global_batch}")
    total_steps = options.max_steps or max(1, int(options.epochs * steps_per_epoch))
    warmup_steps = warmup_steps_for(total_steps, options.warmup_proportion)

    resolved = {
        **{k: (str(Path(v).resolve()) if isinstance(v, Path) else v)
           for k, v in asdict(options).items()},
        "lr": options.lr if options.lr is not None else DEFAULT_LR, "lr_changes": [],
        "train_file_fingerprint": task.train_file_fingerprint(options.train_file),
        "world_size": world, "global_batch": global_batch, "total_steps": total_steps,
        "warmup_steps": warmup_steps, "steps_per_epoch": steps_per_epoch,
        "seq_length": dataset.seq_length, "num_labels": num_labels,
        "id2label": id2label, "bert_config": bert_config.to_dict(),
        "config_file": str(config_path),
    }
    resolved.pop("quiet")

    # --- model: identical initial weights on every rank (seeded before building)
    model, report = initial_model(options.task, bert_config, seed=options.seed,
                                  num_labels=num_labels, use_crf=options.use_crf,
                                  init_checkpoint=None if options.resume
                                  else options.init_checkpoint)
    if report is not None:
        say(report.summary())
    if options.mlm_bias_init == "unigram" and not options.resume:
        assert task.init_output_bias is not None  # validate_options: a masked-LM task
        say(task.init_output_bias(model, dataset, report))
    model.to(context.device)
    raw_model = model
    if context.is_distributed:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[context.local_rank] if context.device.type == "cuda" else None)

    optimizer = make_optimizer(raw_model, lr=resolved["lr"], weight_decay=options.weight_decay)
    scheduler = make_scheduler(optimizer, warmup_steps=warmup_steps, total_steps=total_steps)
    scaler = torch.amp.GradScaler(context.device.type, enabled=options.precision == "fp16")
    state = TrainState(options, task, context, run_dir, resolved, model, raw_model, optimizer,
                       scheduler, scaler)

    # --- resume: weights, optimizer, scheduler, scaler and RNG of the latest checkpoint
    if options.resume:
        _resume(state, say)
        if state.step >= total_steps:
            finished = _finished_results(run_dir)
            if finished is not None:
                say(f"nothing to do: the run is complete at step {state.step}; "
                    f"{run_dir / 'train_results.json'} is kept as it was")
                return finished
    # Dropout masks differ per rank (nanoGPT offsets the seed by rank); a resume restores them.
    if state.step == 0:
        seed_everything(options.seed + context.rank)

    say(f"global batch {global_batch} = {options.batch_size} per device x {world} "
        f"device(s) x {options.grad_accum} accumulation; {total_steps} steps "
        f"({steps_per_epoch}/epoch), warmup {warmup_steps}; device {context.device}, "
        f"{options.precision}")

    trim_multiple_of = options.pad_to_multiple_of if options.trim_batches and \
        task.trims_training_batches else None
    log_path = run_dir / "log.jsonl"
    if main:
        elastic.mark_run_dir(run_dir)
    reporter = StepReporter(run_dir, total_steps, state.step, enabled=main, quiet=options.quiet)
    read_every = _steps_per_read(context.device)
    started = time.perf_counter()
    progress["training"] = True
    try:
        while state.step < total_steps:
            epoch, done_in_epoch = divmod(state.step, steps_per_epoch)
            micro_batches = _micro_batches(state, dataset, epoch, done_in_epoch,
                                           trim_multiple_of)
            for _ in range(done_in_epoch, min(steps_per_epoch,
                                              done_in_epoch + total_steps - state.step)):
                _one_step(state, micro_batches)
                saving = bool(options.save_steps) and state.step % options.save_steps == 0
                # Everything that writes or hands out the weights reads the loss first, so a
                # non-finite step stops the run before it can reach a checkpoint or a caller.
                if saving or on_step is not None or state.step % read_every == 0 \
                        or state.step == total_steps:
                    record = _read_back(state, reporter)
                if saving:
                    _save(state)
                elastic.inject_test_fault(state.step, context.rank)
                if on_step is not None:
                    on_step(state.step, record, raw_model)
    except BaseException:
        _read_back_after_error(state, reporter)
        raise
    finally:
        reporter.close()
    step = state.step
    losses, step_times = reporter.losses, reporter.step_times
    if not losses:  # a resume that had nothing left to train: the run's own log has them
        losses = [loss for _, loss in sorted(_logged_losses(run_dir).items())]

    runtime = time.perf_counter() - started
    files: list[Path] = []
    eval_results = None
    if main:
        files = _finish(state, bert_config, num_labels, id2label, log_path)
    barrier(context)
    if options.do_eval:
        eval_results = _evaluate_after_training(state, files, id2label)

    mean_step = sum(step_times) / len(step_times) if step_times else 0.0
    result = TrainResult(
        run_dir=run_dir, global_step=step, total_steps=total_steps, global_batch=global_batch,
        world_size=world, final_loss=losses[-1] if losses else float("nan"),
        mean_loss=sum(losses) / len(losses) if losses else float("nan"),
        train_runtime=runtime, mean_step_time=mean_step,
        seq_per_s=global_batch / mean_step if mean_step else 0.0, files=files,
        eval_results=eval_results)
    if main:
        # JSON has no NaN: a figure that does not exist is null.
        results_path = write_json_atomic(run_dir / "train_results.json", {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in result.to_json().items() if k not in ("files", "eval_results")})
        result.files.append(results_path)
        from bertkit.train.run_report import write_run_report

        notes: list[str] = []
        result.files.extend(write_run_report(
            run_dir, train_results=result.to_json(), resolved_config=resolved,
            eval_results=eval_results, notes=notes))
        for note in notes:
            say(note)
    return result


def _finished_results(run_dir: Path) -> TrainResult | None:
    """The figures a complete run recorded, or None when it has none (killed before)."""
    path = run_dir / "train_results.json"
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        names = [f.name for f in dataclasses.fields(TrainResult)
                 if f.name not in ("files", "eval_results")]
        figures = {name: recorded[name] for name in names}
        figures.update({name: math.nan for name in ("final_loss", "mean_loss")
                        if figures[name] is None})
        figures["run_dir"] = run_dir
        return TrainResult(**figures, files=[path])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def _check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse to start a fresh run over an old one: its checkpoints would mix with ours."""
    if resume:
        return
    old = training_state.latest_checkpoint(run_dir)
    if old is not None or (run_dir / "log.jsonl").exists():
        where = old if old is not None else run_dir / "log.jsonl"
        raise UsageError(f"{run_dir} already holds a run ({where.name}); pass --resume to "
                         "continue it, or choose another -o")


def _micro_batches(state: TrainState, dataset: Any, epoch: int, done_in_epoch: int,
                   trim_multiple_of: int | None) -> Iterator[dict[str, torch.Tensor]]:
    """This epoch's micro-batches from the point where the run stands (mid-epoch on resume)."""
    options, context = state.options, state.context
    steps_per_epoch, world = state.resolved["steps_per_epoch"], context.world_size
    batches = train_data.epoch_batches(
        dataset, batch_size=options.batch_size, seed=options.seed, epoch=epoch,
        rank=context.rank, world_size=world) if not options.group_by_length else \
        train_data.length_grouped_batches(
            dataset.lengths(), batch_size=options.batch_size, seed=options.seed,
            epoch=epoch, rank=context.rank, world_size=world)
    loader = train_data.training_loader(
        dataset, batches[done_in_epoch * options.grad_accum:
                         steps_per_epoch * options.grad_accum],
        num_workers=options.num_workers, pin_memory=context.device.type == "cuda",
        seed=options.seed + epoch, trim_multiple_of=trim_multiple_of)
    return iter(loader)


def _one_step(state: TrainState, micro_batches: Iterator[dict[str, torch.Tensor]]) -> None:
    """One optimizer step over grad_accum micro-batches; its loss and gradient norm stay on
    the device, in ``state.unread``, until the loop reads them back (``_read_back``)."""
    options, context, model, scaler = state.options, state.context, state.model, state.scaler
    started = time.perf_counter()
    model.train()
    loss_sum = torch.zeros((), device=context.device)
    new_metrics = state.task.step_metrics
    metrics = new_metrics() if new_metrics is not None else None
    for micro in range(options.grad_accum):
        batch = _model_inputs(next(micro_batches), context.device)
        last = micro == options.grad_accum - 1
        # Gradients are all-reduced only on the last micro-batch of the step.
        sync = contextlib.nullcontext() if last or not context.is_distributed else model.no_sync()
        with sync:
            with autocast_for(options.precision, context.device):
                outputs = model(**batch)
                loss = outputs["loss"] / options.grad_accum
            scaler.scale(loss).backward()
        if metrics is not None:
            metrics.add(outputs)
        loss_sum += loss.detach().float()
    scaler.unscale_(state.optimizer)
    grad_norm = clip_global_norm(state.raw_model.parameters(), options.max_grad_norm)
    lr = state.scheduler.get_last_lr()[0]
    scaler.step(state.optimizer)
    scaler.update()
    state.optimizer.zero_grad(set_to_none=True)
    state.scheduler.step()
    state.step += 1
    state.unread.append(_UnreadStep(state.step, mean_over_ranks(loss_sum, context),
                                    torch.as_tensor(grad_norm, device=context.device), lr,
                                    started, metrics))


# Steps between reads of the loss back to the host (each read waits for the device).
# Every step is still logged: a read reports all the steps it finds, and the loop also reads
# before each checkpoint, each `on_step` call and the end. A non-finite loss or gradient norm
# is detected at the read, so on an accelerator a diverged step can be followed by up to
# STEPS_PER_READ - 1 more optimizer steps on broken weights; those weights never reach a
# checkpoint, a caller or the model folder (they all come after a read), and `_read_back`
# stops at the first bad step exactly as a per-step check would: the same message, the same
# log lines, the same checkpoints kept. On the CPU the value is there as soon as the op
# returns; reading every step costs nothing and keeps one line per step as it ends.
STEPS_PER_READ = 10


def _steps_per_read(device: torch.device) -> int:
    return 1 if device.type == "cpu" else STEPS_PER_READ


def _read_back(state: TrainState, reporter: StepReporter) -> dict[str, float]:
    """Read the unread steps' figures from the device in one sync and report them in order;
    at the first non-finite one, stop the run as that step. Returns the last step's record."""
    unread, state.unread = state.unread, []
    losses = torch.stack([entry.loss.float() for entry in unread]).tolist()
    norms = torch.stack([entry.grad_norm.float() for entry in unread]).tolist()
    # Wall time from the first step's start to now, shared evenly: with one step per read
    # (the CPU), each step's own time, sync included.
    step_time = (time.perf_counter() - unread[0].started) / len(unread)
    record: dict[str, float] = {}
    for entry, loss, norm in zip(unread, losses, norms):
        if not math.isfinite(loss):
            _stop_diverged(state, f"loss is {loss}", entry.step)
        if not math.isfinite(norm) and state.options.precision != "fp16":
            # With fp16 the scaler skips such a step and lowers the scale; otherwise it is
            # divergence.
            _stop_diverged(state, f"gradient norm is {norm}", entry.step)
        record = {"step": entry.step, "loss": loss, "lr": entry.lr, "step_time": step_time,
                  "seq_per_s": state.global_batch / step_time}
        if entry.metrics is not None:
            record.update(entry.metrics.finish(
                state.context.world_size, lambda sums: mean_over_ranks(sums, state.context)))
        reporter.report(record)
    return record


def _read_back_after_error(state: TrainState, reporter: StepReporter) -> None:
    """On the way out of a failed or interrupted loop, log the steps that did finish, as a
    per-step read would have; a divergence among them is the error to report."""
    if not state.unread:
        return
    try:
        _read_back(state, reporter)
    except NonFiniteLossError:
        raise
    except Exception:  # noqa: BLE001 -- the error already on its way out is the one to see
        pass


def _logged_losses(run_dir: Path) -> dict[int, float]:
    """step -> loss from log.jsonl (the whole run, resumed parts included)."""
    losses: dict[int, float] = {}
    path = run_dir / "log.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                row = json.loads(line)
                losses[int(row["step"])] = float(row["loss"])
    return losses


def _stop_diverged(state: TrainState, what: str, step: int) -> None:
    """Keep the last checkpoint whose weights still gave a normal loss, and say how to go on.

    checkpoint-k holds the weights after step k, which step k+1's loss is computed on. If
    the climb begins at step d, checkpoint-(d-1) already holds weights that gave the
    diverging loss, so only checkpoints up to d-2 are kept; the others are removed, so that
    `--resume` starts from the kept one. Every checkpoint has finite weights (`_save`
    refuses others).
    """
    run_dir, context, peak_lr = state.run_dir, state.context, state.resolved["lr"]
    losses = _logged_losses(run_dir)
    losses[step] = math.nan
    start = training_state.divergence_start(losses, step)
    checkpoints = training_state.list_checkpoints(run_dir)
    good = [(saved, path) for saved, path in checkpoints if saved + 1 < start]
    late = [path for saved, path in checkpoints if saved + 1 >= start]
    barrier(context)  # every rank has read the log before rank 0 changes the folder
    if context.is_main:
        for path in late:
            shutil.rmtree(path, ignore_errors=True)
    began = (f"the loss began to diverge at step {start}" if start < step
             else "the loss was normal before this step")
    removed = (f"; removed {', '.join(path.name for path in late)}, saved while diverging"
               if late else "")
    if good:
        saved, path = good[-1]
        advice = (f"kept {path}, saved at step {saved}, whose weights gave a normal loss at "
                  f"step {saved + 1}{removed}; continue "
                  f"from it with a lower learning rate: --resume --lr {peak_lr / 10:g} "
                  f"(was {peak_lr:g})")
    else:
        advice = (f"no checkpoint was saved before that{removed}; start again in a new -o "
                  f"with a lower --lr than {peak_lr:g}, e.g. --lr {peak_lr / 10:g}")
    raise NonFiniteLossError(f"training stopped at step {step}: {what}; {began}; {advice}")


def _save(state: TrainState) -> None:
    """checkpoint-<step>/: what `--resume` needs to go on as if never stopped."""
    # Weights are identical on every rank, so all ranks stop here together.
    if not training_state.state_is_finite(state.raw_model.state_dict()):
        _stop_diverged(state, "the weights are not finite", state.step)
    rng_states = gather_objects(training_state.capture_rng(), state.context)  # dropout RNGs
    if state.context.is_main:
        training_state.save_checkpoint(state.run_dir, state.step, {
            "step": state.step,
            "model": state.raw_model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict(),
            "scaler": state.scaler.state_dict(),
            "rng": rng_states,
            "config": state.resolved,
        })
    barrier(state.context)


def _resume(state: TrainState, say: Callable[[str], None]) -> None:
    """Restore the latest checkpoint into ``state``; ``--lr``, when it differs from the
    checkpoint's, rescales the schedule from there on."""
    run_dir, resolved, explicit_lr = state.run_dir, state.resolved, state.options.lr
    directory = training_state.latest_checkpoint(run_dir)
    if directory is None:
        raise UsageError(f"--resume: no checkpoint-<step>/ in {run_dir} to resume from")
    saved_state = training_state.load_checkpoint(directory)
    saved = saved_state["config"]
    if not isinstance(saved, dict):
        raise InputError(directory / training_state.STATE_JSON, "the run config is not an object")
    _check_same_train_file(saved, resolved, directory)
    for key in _RESUME_MUST_MATCH:
        if saved.get(key) != resolved.get(key):
            raise UsageError(f"--resume: {key} was {saved.get(key)!r} in {directory}, "
                             f"now {resolved.get(key)!r}; resume with the same settings")
    step = saved_state["step"]  # a positive int equal to the folder's step (load_checkpoint)
    if step > resolved["total_steps"]:
        raise InputError(directory / training_state.STATE_JSON,
                         f"step {step} is beyond the run's {resolved['total_steps']} steps")
    try:
        state.raw_model.load_state_dict(saved_state["model"])
        state.optimizer.load_state_dict(saved_state["optimizer"])
        state.scheduler.load_state_dict(saved_state["scheduler"])
        state.scaler.load_state_dict(saved_state["scaler"])
        training_state.restore_rng(saved_state["rng"][state.context.rank])
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as error:
        # load_state_dict names the keys on the lines after its first: keep them, on one line.
        reason = " ".join(str(error).split()) or type(error).__name__
        if len(reason) > 400:
            reason = reason[:400] + "..."
        raise InputError(directory / training_state.STATE_JSON,
                         f"cannot restore the training state: {reason}") from None
    resolved["lr_changes"] = list(saved.get("lr_changes") or [])
    saved_lr = saved.get("lr")
    if isinstance(saved_lr, bool) or not isinstance(saved_lr, (int, float)) \
            or not math.isfinite(saved_lr) or saved_lr <= 0:
        raise InputError(directory / training_state.STATE_JSON,
                         f'the run config\'s "lr" is {saved_lr!r}, not a positive number')
    saved_lr = float(saved_lr)
    if explicit_lr is None or explicit_lr == saved_lr:
        resolved["lr"] = saved_lr
    else:
        _change_peak_lr(state.optimizer, state.scheduler, explicit_lr)
        resolved["lr_changes"].append({"step": step, "from": saved_lr, "to": explicit_lr})
        say(f"learning rate changed from {saved_lr:g} to {explicit_lr:g} at step {step} "
            "(recorded in run_config.json)")
    # The bias was set when the run began; the run's record keeps saying how.
    began_with = saved.get("mlm_bias_init", "zeros")
    if state.options.mlm_bias_init != began_with:
        say(f"--mlm-bias-init {state.options.mlm_bias_init} ignored: it sets a run's first "
            f"weights, and this run began with {began_with}")
    resolved["mlm_bias_init"] = began_with
    say(f"resumed from {directory} at step {step}")
    state.step = step


def _check_same_train_file(saved: dict[str, Any], resolved: dict[str, Any],
                           directory: Path) -> None:
    """The file at the same path must still hold the data the checkpoint was trained on."""
    before, now = saved.get("train_file_fingerprint"), resolved["train_file_fingerprint"]
    if saved.get("train_file") != resolved.get("train_file") or before == now:
        return  # another path is reported by the settings check
    if not isinstance(before, dict) or before.get("size") != now["size"]:
        what = (f"its size was {before.get('size') if isinstance(before, dict) else '?'} "
                f"bytes, now {now['size']}")
    else:
        what = "same size, but its content fingerprint (sha256) differs"
    raise InputError(resolved["train_file"],
                     f"--resume: the training file changed since {directory.name} was saved "
                     f"({what}); resume with the data the run started on, or start a new run")


def _change_peak_lr(optimizer: torch.optim.Optimizer, scheduler: Any, peak_lr: float) -> None:
    """Scale the warmup/decay schedule to a new peak from the current step on."""
    scheduler.base_lrs = [peak_lr for _ in scheduler.base_lrs]
    factors = [factor(scheduler.last_epoch) for factor in scheduler.lr_lambdas]
    for group, factor in zip(optimizer.param_groups, factors):
        group["initial_lr"] = peak_lr
        group["lr"] = peak_lr * factor
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]


def _finish(state: TrainState, bert_config: Any, num_labels: int | None,
            id2label: dict[int, str] | None, log_path: Path) -> list[Path]:
    from bertkit.train.export import save_model_dir

    options, run_dir = state.options, state.run_dir
    # The run directory's model/ is what `bertkit predict` and `bertkit export` read.
    model_dir = run_dir / "model"
    save_model_dir(state.raw_model, bert_config, model_dir, task=options.task,
                   num_labels=num_labels, id2label=id2label, use_crf=options.use_crf,
                   vocab_path=find_vocab(options.train_file, options.init_checkpoint))
    config_path = write_json_atomic(run_dir / "run_config.json", state.resolved)
    return [log_path, config_path, model_dir]


def _evaluate_after_training(state: TrainState, files: list[Path],
                             id2label: dict[int, str] | None) -> dict[str, Any] | None:
    """`--do-eval`: predict and score on rank 0 while the others wait."""
    from bertkit.train.predict import PredictOptions, predict_with_model

    options, run_dir, raw_model, context = (state.options, state.run_dir, state.raw_model,
                                            state.context)
    outcome: Any = None
    if context.is_main:
        try:
            result = predict_with_model(
                raw_model, PredictOptions(model_dir=run_dir / "model",
                                          eval_file=Path(options.eval_file),  # type: ignore[arg-type]
                                          output_dir=run_dir / "eval", device=options.device,
                                          precision=options.precision, quiet=options.quiet),
                device=context.device, id2label=id2label)
            files.extend(result.files)
            outcome = result.scores
        except BertkitError as error:
            outcome = error
    outcome = broadcast_object(outcome, context)
    if isinstance(outcome, BertkitError):
        raise outcome
    return outcome
