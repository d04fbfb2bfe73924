"""A Chinese model from raw text to a scored NER model: does bertkit's pretraining help?

The chain (issue 14), every step through the bertkit CLI in a fresh process:
1. corpus: CMRC 2018 (dev, trial) and DRCD (dev, test) contexts, one document per paragraph,
   split into sentences; CLUENER *train* and TNEWS train sentences, in documents of
   ``--lines-per-document`` consecutive lines. CLUENER dev is never read before scoring.
2. ``bertkit prep pretrain --whole-word-mask jieba`` on that corpus.
3. ``bertkit train --task pretrain`` of a small BERT (default 4 layers, hidden 128) from random
   initialisation (``--config`` only): 10,000 steps of 64 sequences, about 53 minutes on 2
   cores.
4. ``bertkit prep cluener`` on CLUENER train and dev, then ``bertkit train --task ner`` twice
   with the same recipe and seed: from the pretrained model, and from random initialisation.
5. Both scored on CLUENER dev with bertkit's CLUENER metric (``train --do-eval``).

Each stage keeps its output in --work-dir and is skipped when that output is complete, so the
chain can be resumed (an interrupted pretraining run continues with --resume). Prints the two
F1s, the MLM accuracy curve and the stage times; --json-out writes them as JSON.

The defaults are run 4's recipe (bench/results/chinese_chain.md), the first in which
pretraining clearly helps. Hidden 128 rather than 256: per hour the 2 cores then see about 1.8x
the sequences, and masked-LM progress on this corpus follows the sequences seen, not the
steps. `--dupe-factor 10` (Google's default) gives 555k instances, so the hour's 640k
sequences meet each static mask about once (at `--dupe-factor 2`, almost six times).

Run: python bench/chinese_chain.py --work-dir /tmp/zh-chain [--pretrain-steps 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BERTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
sys.path.insert(0, str(REPO))

from bertkit.prep.pretrain.corpus import split_sentences  # noqa: E402

ARMS = ("pretrained", "from_scratch")


def squad_style_contexts(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [paragraph["context"] for article in data for paragraph in article["paragraphs"]]


def json_lines_field(path: Path, field: str) -> list[str]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)[field].strip() for line in lines if line.strip()]


def write_corpus(path: Path, lines_per_document: int) -> dict[str, int]:
    """The pretraining corpus, one sentence per line, a blank line between documents."""
    documents: list[list[str]] = []
    for source in (SHARED / "cmrc2018" / "cmrc2018_dev.json",
                   SHARED / "cmrc2018" / "cmrc2018_trial.json",
                   SHARED / "drcd" / "DRCD_dev.json", SHARED / "drcd" / "DRCD_test.json"):
        for paragraph in squad_style_contexts(source):
            sentences = [s for line in paragraph.splitlines() for s in split_sentences(line, "zh")]
            if sentences:
                documents.append(sentences)
    # CLUENER and TNEWS lines are single sentences; consecutive lines make up a document so
    # that sequences are filled as in Google's recipe.
    for lines in (json_lines_field(SHARED / "cluener2020" / "train.json", "text"),
                  json_lines_field(SHARED / "tnews" / "train.json", "sentence")):
        lines = [line for line in lines if line]
        for start in range(0, len(lines), lines_per_document):
            documents.append(lines[start:start + lines_per_document])
    text = "\n\n".join("\n".join(document) for document in documents) + "\n"
    path.write_text(text, encoding="utf-8")
    return {"documents": len(documents), "lines": sum(map(len, documents)),
            "bytes": len(text.encode("utf-8")), "characters": len(text)}


def bertkit(*args: str, log: Path) -> float:
    """Runs one bertkit command, its output to ``log``; returns the wall seconds."""
    command = [sys.executable, "-m", "bertkit", *args]
    print("$ bertkit " + " ".join(args), flush=True)
    began = time.perf_counter()
    with log.open("w") as out:
        completed = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": str(REPO)})
    if completed.returncode != 0:
        sys.exit(f"failed ({completed.returncode}): see {log}")
    return time.perf_counter() - began


def small_config(args: argparse.Namespace, vocab: Path) -> dict:
    vocab_size = sum(1 for _ in vocab.open(encoding="utf-8"))
    return {"vocab_size": vocab_size, "hidden_size": args.hidden,
            "num_hidden_layers": args.layers, "num_attention_heads": args.hidden // 64,
            "intermediate_size": 4 * args.hidden, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02}


def model_dir_from_checkpoint(checkpoint: Path, config: Path, out: Path) -> Path:
    """The weights of a pretraining checkpoint as a model folder `--init-checkpoint` reads
    (config.json + model.safetensors, Hugging Face names): for a run stopped early."""
    if (out / "model.safetensors").exists():
        return out
    from safetensors.torch import save_file

    from bertkit.train.training_state import load_checkpoint

    weights = load_checkpoint(checkpoint)["model"]
    out.mkdir(parents=True, exist_ok=True)
    # The MLM decoder is the word-embedding matrix; safetensors stores each tensor once.
    save_file({name: tensor.contiguous() for name, tensor in weights.items()
               if not name.startswith("cls.predictions.decoder")},
              str(out / "model.safetensors"))
    (out / "config.json").write_text(config.read_text())
    return out


def curve(run_dir: Path, name: str) -> list[tuple[int, float]]:
    points = []
    for line in (run_dir / "log.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if name in entry:
            points.append((entry["step"], entry[name]))
    return points


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--lines-per-document", type=int, default=8)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--pretrain-seq-length", type=int, default=64,
                        help="CLUENER sentences are at most 50 characters")
    parser.add_argument("--max-predictions-per-seq", type=int, default=None,
                        help="default: --pretrain-seq-length x --masked-lm-prob, rounded "
                             "(Google's rule of thumb; 13 at 64 and 0.2)")
    parser.add_argument("--masked-lm-prob", type=float, default=0.2)
    parser.add_argument("--dupe-factor", type=int, default=10)
    parser.add_argument("--pretrain-steps", type=int, default=10000)
    parser.add_argument("--pretrain-batch-size", type=int, default=64)
    parser.add_argument("--pretrain-lr", type=float, default=1e-3)
    parser.add_argument("--mlm-bias-init", default="unigram", choices=("zeros", "unigram"),
                        help="train --mlm-bias-init for the pretraining run (zeros: Google's)")
    parser.add_argument("--from-checkpoint", type=int, default=None,
                        help="fine-tune from the pretraining run's checkpoint-N (a run stopped "
                             "early) instead of its final model/")
    parser.add_argument("--finetune-epochs", type=float, default=5.0)
    parser.add_argument("--finetune-lr", type=float, default=1e-3)
    parser.add_argument("--finetune-batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=0, help="prep --workers")
    parser.add_argument("--arms", default=",".join(ARMS),
                        help="which fine-tuning runs; from_scratch alone skips pretraining")
    parser.add_argument("--json-out", type=Path, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.max_predictions_per_seq is None:
        args.max_predictions_per_seq = round(args.pretrain_seq_length * args.masked_lm_prob)
    wanted = [arm.strip() for arm in args.arms.split(",") if arm.strip()]
    unknown = sorted(set(wanted) - set(ARMS))
    if unknown:
        sys.exit(f"--arms: unknown {', '.join(unknown)} (choose from {', '.join(ARMS)})")
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    vocab = SHARED / "vocab" / "bert-base-chinese" / "vocab.txt"
    times: dict[str, float] = {}
    figures: dict = {"config": small_config(args, vocab),
                     "args": {k: str(v) for k, v in vars(args).items()}}

    corpus = work / "corpus.txt"
    if not corpus.exists():
        began = time.perf_counter()
        figures["corpus"] = write_corpus(work / "corpus.txt.tmp", args.lines_per_document)
        (work / "corpus.txt.tmp").rename(corpus)
        times["corpus"] = time.perf_counter() - began
    config = work / "bert_config.json"
    config.write_text(json.dumps(figures["config"], indent=2) + "\n")

    pretrain_data = work / "pretrain-data"
    pretrain_run = work / "pretrain-run"
    pretrained = pretrain_run / "model"
    if "pretrained" in wanted:
        if not (pretrain_data / "manifest.json").exists():
            times["prep_pretrain"] = bertkit(
                "prep", "pretrain", str(corpus), "--vocab", str(vocab), "--whole-word-mask",
                "jieba", "--max-seq-length", str(args.pretrain_seq_length),
                "--max-predictions-per-seq", str(args.max_predictions_per_seq),
                "--masked-lm-prob", str(args.masked_lm_prob), "--dupe-factor",
                str(args.dupe_factor), "--workers", str(args.workers),
                "-o", str(pretrain_data), log=work / "prep_pretrain.log")
        if args.from_checkpoint is not None:
            pretrained = model_dir_from_checkpoint(
                pretrain_run / f"checkpoint-{args.from_checkpoint}", config,
                work / f"pretrained-step-{args.from_checkpoint}")
        elif not pretrained.exists():
            times["pretrain"] = bertkit(
                "train", "--task", "pretrain", "--train-file", str(pretrain_data), "--config",
                str(config), "--max-steps", str(args.pretrain_steps), "--batch-size",
                str(args.pretrain_batch_size), "--lr", str(args.pretrain_lr),
                "--warmup-proportion", "0.05", "--seed", str(args.seed), "--save-steps", "250",
                "--mlm-bias-init", args.mlm_bias_init,
                "-o", str(pretrain_run), *(["--resume"] if pretrain_run.exists() else []),
                log=work / "pretrain.log")

    cluener = work / "cluener"
    if not (cluener / "manifest.json").exists():
        times["prep_cluener"] = bertkit(
            "prep", "cluener", str(SHARED / "cluener2020" / "train.json"),
            str(SHARED / "cluener2020" / "dev.json"), "--vocab", str(vocab),
            "--max-seq-length", "64", "-o", str(cluener), log=work / "prep_cluener.log")

    recipe = ["--task", "ner", "--train-file", str(cluener), "--eval-file", str(cluener),
              "--do-eval", "--epochs", str(args.finetune_epochs), "--lr", str(args.finetune_lr),
              "--batch-size", str(args.finetune_batch_size), "--seed", str(args.seed)]
    starts = {"pretrained": ["--init-checkpoint", str(pretrained)],
              "from_scratch": ["--config", str(config)]}
    for arm in wanted:
        run = work / f"ner-{arm}"
        if not (run / "eval" / "eval_results.json").exists():
            times[f"finetune_{arm}"] = bertkit("train", *recipe, *starts[arm], "-o", str(run),
                                               log=work / f"ner-{arm}.log")
        figures[arm] = json.loads((run / "eval" / "eval_results.json").read_text())

    scores = {arm: {"macro_f1": figures[arm]["macro_f1"],
                    "strict_micro_f1": figures[arm]["strict"]["micro"]["f1"]} for arm in wanted}
    figures["scores"] = scores
    print("CLUENER dev (bertkit's CLUENER metric):", json.dumps(scores, indent=2))
    if "pretrained" in wanted and (pretrain_run / "log.jsonl").exists():
        figures["mlm_accuracy"] = curve(pretrain_run, "mlm_accuracy")
        figures["nsp_accuracy"] = curve(pretrain_run, "nsp_accuracy")
        print("MLM accuracy:", ", ".join(f"{step}: {value:.3f}"
                                         for step, value in figures["mlm_accuracy"][::100]))
    figures["times_s"] = times
    print("times (s):", json.dumps({k: round(v) for k, v in times.items()}))
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
