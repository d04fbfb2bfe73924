"""`bertkit train`: fine-tune BERT on prep's TFRecords (one device, or N under torchrun)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bertkit.commands._common import JsonOption, OutputDirOption, VerboseOption, guarded, print_json
from bertkit.train.options import DEFAULT_DDP_TIMEOUT_S  # torch-free, like every option check
from bertkit.train.tasks import TASK_NAMES

HELP = """Fine-tune BERT for SQuAD, classification or NER on TFRecords written by `bertkit prep`.

Writes RUN_DIR/log.jsonl (one line per step: step, loss, lr, step_time, seq_per_s),
checkpoint-<step>/ every --save-steps (model, optimizer, scheduler, grad scaler, RNG,
config, as safetensors + JSON: --resume continues with the same losses; --resume --lr X
lowers or raises the peak learning rate from that step on, recorded in run_config.json),
model/ (the fine-tuned model that `bertkit predict` and `bertkit export` read),
run_config.json, train_results.json, report.md and learning_curve.png. --train-file and
--eval-file take the TFRecord or the prep folder holding it.
Multi-device: torchrun --nproc_per_node N -m bertkit train ... (--batch-size is per device).
Under torchrun --max-restarts N, a restarted worker group resumes from the latest complete
checkpoint by itself (no --resume). A rank that dies or hangs stops the run within
--ddp-timeout seconds.
Under torchrun a failure prints the worker's one error: line, then torchrun's own report
(traceback, exit code 1); the error: line is the one that says what went wrong.
"""


def command(
    task: Annotated[str, typer.Option("--task", help=f"{', '.join(TASK_NAMES)}.")],
    train_file: Annotated[Path, typer.Option(
        "--train-file", help="Training TFRecord from prep (or the prep folder holding train.tf_record); "
                             "pretrain: a prep pretrain folder, shard files, globs or a comma list.")],
    output: OutputDirOption,
    init_checkpoint: Annotated[Path | None, typer.Option(
        "--init-checkpoint", help="Pretrained BERT: HF dir/safetensors/bin, Google TF or MindSpore ckpt.")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="bert_config.json / config.json (default: the one next to the checkpoint).")] = None,
    epochs: Annotated[float, typer.Option("--epochs", help="Passes over the data.")] = 2.0,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after N optimizer steps (overrides --epochs).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Peak learning rate [default: 3e-5; on --resume the run's own, or a new one recorded as a change].")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Sequences per device per micro-batch.")] = 12,
    grad_accum: Annotated[int, typer.Option("--grad-accum", help="Micro-batches per optimizer step.")] = 1,
    warmup_proportion: Annotated[float, typer.Option("--warmup-proportion", help="Share of steps with linear warmup.")] = 0.1,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="AdamW decay (not on biases/LayerNorm).")] = 0.01,
    max_grad_norm: Annotated[float, typer.Option("--max-grad-norm", help="Global-norm clip; 0 disables.")] = 1.0,
    precision: Annotated[str, typer.Option("--precision", help="fp32, fp16 (grad scaler) or bf16.")] = "fp32",
    seed: Annotated[int, typer.Option("--seed", help="Seed for head init, data order and dropout.")] = 42,
    save_steps: Annotated[int | None, typer.Option("--save-steps", help="Write checkpoint-<step>/ every N steps.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the latest checkpoint in RUN_DIR.")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    use_crf: Annotated[bool, typer.Option("--use-crf", help="NER: linear-chain CRF on the tags.")] = False,
    eval_file: Annotated[Path | None, typer.Option("--eval-file", help="Eval TFRecord (or its prep dir) for --do-eval.")] = None,
    do_eval: Annotated[bool, typer.Option("--do-eval", help="Predict and score --eval-file after training.")] = False,
    num_workers: Annotated[int, typer.Option("--workers", "--num-workers", help="DataLoader worker processes (--num-workers is the old name).")] = 0,
    group_by_length: Annotated[bool, typer.Option(
        "--group-by-length", help="Batch records of similar length together (epoch order stays random; less padding to compute).")] = False,
    ddp_timeout: Annotated[float, typer.Option(
        "--ddp-timeout", help="Under torchrun: seconds a rank waits for the others before the run stops with an error (must outlast saving the model and --do-eval on rank 0).")] = DEFAULT_DDP_TIMEOUT_S,
    mlm_bias_init: Annotated[str, typer.Option(
        "--mlm-bias-init", help="pretrain from scratch: the masked-LM output bias starts at zeros (Google) or at the labels' unigram log shares (keeps rare tokens' tied embedding rows from drifting together on a small corpus).")] = "zeros",
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    def run() -> None:
        from bertkit.train.options import TrainOptions, validate_options

        options = TrainOptions(
            task=task, train_file=train_file, output_dir=output, init_checkpoint=init_checkpoint,
            config_file=config, epochs=epochs, max_steps=max_steps, lr=lr, batch_size=batch_size,
            grad_accum=grad_accum, warmup_proportion=warmup_proportion,
            weight_decay=weight_decay, max_grad_norm=max_grad_norm, precision=precision,
            seed=seed, save_steps=save_steps, resume=resume, device=device, use_crf=use_crf,
            eval_file=eval_file, do_eval=do_eval, num_workers=num_workers,
            group_by_length=group_by_length, ddp_timeout=ddp_timeout,
            mlm_bias_init=mlm_bias_init)
        validate_options(options)  # option errors before torch loads (seconds)

        from bertkit.train.distributed import launched_by_torchrun
        from bertkit.train.trainer import train

        if launched_by_torchrun():
            result = _train_under_torchrun(train, options)
        else:
            result = train(options)
        if not _is_rank_zero():
            return
        if json_output:
            print_json(result.to_json())
        else:
            print_summary(result)

    guarded(verbose, run)


def _train_under_torchrun(train, options):  # noqa: ANN001, ANN202 -- torch stays a lazy import
    """Bad input is one line and exit 1, as in one process, not a traceback in torchrun's report.

    Only unexpected failures go through record() (their traceback is what torchrun's failure
    summary is for). An error every rank hits alike, before training starts, is printed by
    rank 0 alone; the other ranks just exit 1.
    """
    from torch.distributed.elastic.multiprocessing.errors import record

    from bertkit.errors import BertkitError

    caught: list[BertkitError] = []

    def run_recorded():  # noqa: ANN202
        try:
            return train(options)
        except BertkitError as error:
            caught.append(error)
            return None

    result = record(run_recorded)()
    if caught:
        if not _is_rank_zero() and getattr(caught[0], "alike_on_every_rank", False):
            raise typer.Exit(caught[0].exit_code)
        raise caught[0]
    return result


def print_summary(result) -> None:  # noqa: ANN001 -- a TrainResult (torch-free import here)
    """What a run did and where its outputs are, for a person (stderr; --json is for tools)."""
    from bertkit.console import info, stderr_console

    from bertkit.train.run_report import format_duration

    info(f"trained {result.global_step} steps in {format_duration(result.train_runtime)} "
         f"({result.seq_per_s:.1f} seq/s, global batch {result.global_batch}); "
         f"final loss {result.final_loss:.4f}, mean loss {result.mean_loss:.4f}")
    run_dir = Path(result.run_dir)
    places = [("model", run_dir / "model"), ("report", run_dir / "report.md"),
              ("learning curve", run_dir / "learning_curve.png")]
    eval_dir = run_dir / "eval"
    places += [("predictions", path) for path in result.files
               if Path(path).parent == eval_dir and "prediction" in Path(path).name]
    for label, path in places:
        if Path(path).exists():
            info(f"{label + ':':<16}{path}")
    if result.eval_results:
        # The same table as `bertkit eval` prints, so scores read alike everywhere.
        from bertkit.evaluate.report import result_tables

        for table in result_tables(result.eval_results):
            stderr_console.print(table)


def _is_rank_zero() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


command.__doc__ = HELP
