"""The whole GPU check in one command: bertkit vs transformers, BERT-large SQuAD shapes.

Each setting times bertkit's model and transformers' BertForQuestionAnswering (same config,
same process, same batches; `--no-transformers` skips the peer), bf16 autocast with fp32
master weights:
1. training at length 384 (the SQuAD fine-tuning shape), batch --batch: seq/s and MFU;
2. training at batch 12 x length 512, the MindSpore/DeepSpark recipe's setting, whose
   published figure is 1.898 s/step on one Iluvatar BI-V100 (printed beside ours);
3. prediction on real SQuAD lengths: --predict-features feature lengths sampled from the SQuAD
   v1.1 dev features (bench/data/squad_dev_lengths.txt: `length count` lines, Google's
   converter at 384/128/64 with the bert-base-uncased vocab; a synthetic fallback when the file
   is missing), run as `bertkit predict` runs them -- sorted by length, each batch trimmed to
   its longest feature (and rounded up to a multiple of 8, the tensor-core friendly variant) --
   beside transformers at 384, as run_qa pads them.

A training step is forward, loss, backward, global-norm clip and fused AdamW step.

`--mode pretrain` times BertForPreTraining instead (masked LM + next sentence, BERT-large,
bf16): batch --pretrain-batch-128 at length 128 with 20 masked positions (phase 1 of Google's
and NVIDIA's recipes) and --pretrain-batch-512 at length 512 with 80 (phase 2), against
transformers' BertForPreTraining on the same records. bertkit computes the vocabulary logits
at the masked positions only (Google's run_pretraining.py); transformers at every position,
as its BertForPreTraining does. Both are credited the same model FLOPs: the decoder counts at
the masked positions (2 x hidden x vocab each, x3 with backward). `--mode all` runs both.

FLOPs. MFU = achieved model FLOP/s / the device's peak dense bf16 FLOP/s (--peak-tflops, or
a table of known devices). Model FLOPs per token are counted from the matmuls only: 2 x the
weights of every nn.Linear per token forward (x3 with backward), plus the attention term
2 x 2 x layers x hidden x length forward (scores and values; x3 with backward). Embedding
lookups are gathers, not matmuls, so the embedding tables are not counted; counting them
(6 x all parameters) would overstate BERT-large's FLOPs by about 10%. Biases and LayerNorm
are elementwise and not counted either. Trimmed batches count the FLOPs of the shape computed.

Run:  python bench/gpu_throughput.py            (needs a CUDA device; about 2-4 minutes)
      python bench/gpu_throughput.py --mode pretrain   (the pretraining shapes; 1-2 minutes)
      python bench/gpu_throughput.py --dry-run  (tiny model on CPU, 1 step: checks the script)
Results: printed, and as JSON in bench/results/gpu_throughput.json (--json-out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
LENGTHS_FILE = ROOT / "bench" / "data" / "squad_dev_lengths.txt"
# Dense bf16 peaks (TFLOP/s, without sparsity) of devices this may run on.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0,
                    "A10": 125.0, "V100": 125.0}
LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
         "intermediate_size": 4096}
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 128}
PUBLISHED_12X512_S = 1.898  # MindSpore/DeepSpark BERT-large SQuAD, one BI-V100


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((value for key, value in PEAK_BF16_TFLOPS.items() if key in name), None)


def matmul_parameters(model: torch.nn.Module) -> int:
    """Weights that take part in a matmul: every nn.Linear's weight matrix (no embeddings,
    biases or LayerNorm)."""
    return sum(module.weight.numel() for module in model.modules()
               if isinstance(module, torch.nn.Linear))


def flops_per_sequence(matmul_params: int, layers: int, hidden: int, seq: int,
                       training: bool = True) -> float:
    """Model FLOPs of one sequence of length ``seq``: 2 per matmul weight per token, plus
    attention's 2 x 2 x layers x hidden x seq per token; x3 for forward + backward."""
    forward = seq * (2 * matmul_params + 4 * layers * hidden * seq)
    return 3 * forward if training else forward


def squad_lengths(path: Path = LENGTHS_FILE) -> tuple[list[int], list[int], str]:
    """(lengths, counts, source) of SQuAD dev features; a synthetic stand-in when the file
    is missing (about SQuAD's shape: a third at the 384 cap, the rest spread 100-383)."""
    if path.is_file():
        pairs = [tuple(int(x) for x in line.split()) for line in
                 path.read_text(encoding="utf-8").splitlines() if line.strip()
                 and not line.startswith("#")]
        return [p[0] for p in pairs], [p[1] for p in pairs], str(path.relative_to(ROOT))
    lengths = list(range(100, 385))
    counts = [1] * (len(lengths) - 1) + [len(lengths) // 2]
    return lengths, counts, "synthetic (bench/data/squad_dev_lengths.txt missing)"


def sample_lengths(count: int, seed: int, cap: int) -> list[int]:
    lengths, counts, _ = squad_lengths()
    weights = torch.tensor(counts, dtype=torch.float64)
    drawn = torch.multinomial(weights, count, replacement=True,
                              generator=torch.Generator().manual_seed(seed))
    return [min(cap, lengths[int(i)]) for i in drawn]


def make_batch(batch: int, seq: int, vocab: int, device: torch.device,
               lengths: list[int] | None = None) -> dict:
    """Random ids; with ``lengths``, each row's mask covers its own length only."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, vocab, (batch, seq), generator=generator)
    starts = torch.randint(seq // 4, seq // 2, (batch,), generator=generator)
    mask = torch.ones_like(ids) if lengths is None else \
        (torch.arange(seq)[None, :] < torch.tensor(lengths)[:, None]).long()
    return {name: tensor.to(device) for name, tensor in {
        "input_ids": ids * mask, "attention_mask": mask,
        "token_type_ids": (torch.arange(seq)[None, :] >= seq // 4).long() * mask,
        "start_positions": starts, "end_positions": starts + 3}.items()}


def make_pretraining_batch(batch: int, seq: int, predictions: int, vocab: int,
                           device: torch.device, hf: bool) -> dict:
    """Random pretraining records: ``predictions`` distinct masked positions per row (never
    [CLS]), NSP labels alternating. transformers takes the masked ids as ``labels`` (-100
    elsewhere) and ``next_sentence_label``; bertkit takes prep pretrain's columns."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, vocab, (batch, seq), generator=generator)
    positions = torch.stack([torch.randperm(seq - 1, generator=generator)[:predictions] + 1
                             for _ in range(batch)]).sort(dim=1).values
    masked = ids.gather(1, positions)
    nsp = torch.arange(batch) % 2
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
              "token_type_ids": (torch.arange(seq)[None, :] >= seq // 2).long().expand(batch, -1)}
    if hf:
        labels = torch.full_like(ids, -100).scatter(1, positions, masked)
        inputs.update(labels=labels, next_sentence_label=nsp)
    else:
        inputs.update(masked_lm_positions=positions, masked_lm_ids=masked,
                      masked_lm_weights=torch.ones(batch, predictions),
                      next_sentence_labels=nsp[:, None])
    return {name: tensor.to(device) for name, tensor in inputs.items()}


def pretraining_runs(args: argparse.Namespace, config, device: torch.device,
                     peak: float | None) -> list[dict]:
    """BertForPreTraining training steps, bertkit and (by default) transformers."""
    from bertkit.train.tasks import build_model

    makers = [("bertkit", lambda: build_model("pretrain", config), False)]
    if args.with_transformers:
        from transformers import BertConfig as HFConfig
        from transformers import BertForPreTraining

        makers.append(("transformers", lambda: BertForPreTraining(
            HFConfig(**config.to_hf_dict())), True))
    layers, hidden, vocab = config.num_hidden_layers, config.hidden_size, config.vocab_size
    runs = []
    for name, make, hf in makers:
        torch.manual_seed(0)
        model = make().to(device)
        from bertkit.train.optim import make_optimizer

        optimizer = make_optimizer(model, lr=1e-4, weight_decay=0.01)
        # Every nn.Linear but a vocabulary-sized decoder (bertkit's is the tied embedding
        # matrix, not an nn.Linear; transformers' is one): the same count for both.
        matmul = sum(module.weight.numel() for module in model.modules()
                     if isinstance(module, torch.nn.Linear) and module.out_features != vocab)
        for batch, seq, predictions in [(args.pretrain_batch_128, 128, 20),
                                        (args.pretrain_batch_512, 512, 80)]:
            seconds = time_steps(model, optimizer, make_pretraining_batch(
                batch, seq, predictions, vocab, device, hf), args.steps, args.warmup, device, hf)
            per_sequence = flops_per_sequence(matmul, layers, hidden, seq) \
                + 3 * 2 * predictions * hidden * vocab
            flops = per_sequence * batch / seconds
            run = {"model": name, "mode": "pretrain", "batch": batch, "seq_length": seq,
                   "masked_positions": predictions, "step_time_s": round(seconds, 4),
                   "seq_per_s": round(batch / seconds, 1), "tflops": round(flops / 1e12, 2),
                   "mfu": round(flops / 1e12 / peak, 3) if peak else None}
            runs.append(run)
            print(f"{name:12s} pretrain batch {batch:3d} x {seq}: {seconds * 1000:8.1f} ms/step "
                  f"{batch / seconds:8.1f} seq/s {flops / 1e12:7.1f} TFLOP/s"
                  + (f"  MFU {flops / 1e12 / peak:.1%}" if peak else ""), flush=True)
        del model, optimizer
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return runs


def summarise_pretraining(runs: list[dict]) -> tuple[dict, list[str]]:
    summary: dict = {}
    lines = []
    for seq in (128, 512):
        ours = next((r for r in runs if r["model"] == "bertkit" and r["mode"] == "pretrain"
                     and r["seq_length"] == seq), None)
        peer = next((r for r in runs if r["model"] == "transformers"
                     and r["mode"] == "pretrain" and r["seq_length"] == seq), None)
        if ours is None:
            continue
        summary[f"pretrain_{seq}_seq_per_s"] = ours["seq_per_s"]
        summary[f"pretrain_{seq}_mfu"] = ours["mfu"]
        line = f"pretrain {ours['batch']} x {seq}: bertkit {ours['seq_per_s']} seq/s" + (
            f", MFU {ours['mfu']:.1%}" if ours["mfu"] is not None else "")
        if peer is not None:
            summary[f"ratio_pretrain_{seq}"] = round(ours["seq_per_s"] / peer["seq_per_s"], 2)
            line += (f"; transformers {peer['seq_per_s']} seq/s "
                     f"(ratio {summary[f'ratio_pretrain_{seq}']}x)")
        lines.append(line)
    return summary, lines


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_step(model, optimizer, batch: dict, *, hf: bool,
               autocast_device: str | None = None) -> None:
    """One full training step as both frameworks' trainers take it: forward (under bf16
    autocast when ``autocast_device`` is given), loss, backward, global-norm clip, AdamW
    step, zero_grad. bertkit's model returns a dict, transformers' an output object."""
    with torch.autocast(autocast_device or "cpu", dtype=torch.bfloat16,
                        enabled=autocast_device is not None):
        out = model(**batch)
    loss = out.loss if hf else out["loss"]
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def time_steps(model, optimizer, batch: dict, steps: int, warmup: int, device: torch.device,
               hf: bool) -> float:
    """Mean seconds per training step after ``warmup`` untimed steps."""
    model.train()
    for _ in range(warmup):
        train_step(model, optimizer, batch, hf=hf, autocast_device=device.type)
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimizer, batch, hf=hf, autocast_device=device.type)
    _sync(device)
    return (time.perf_counter() - started) / steps


def prediction_batches(lengths: list[int], batch: int, vocab: int, device: torch.device,
                       multiple_of: int | None) -> list[dict]:
    """bertkit predict's batching (longest first, trimmed, rounded up to ``multiple_of``),
    or run_qa's (``multiple_of`` None: file order, every batch at the longest length)."""
    cap = max(lengths)
    if multiple_of is None:
        groups = [lengths[i:i + batch] for i in range(0, len(lengths), batch)]
        return [make_batch(len(g), cap, vocab, device, g) for g in groups]
    ordered = sorted(lengths, reverse=True)
    out = []
    for start in range(0, len(ordered), batch):
        group = ordered[start:start + batch]
        seq = min(cap, -(-max(group) // multiple_of) * multiple_of)
        out.append(make_batch(len(group), seq, vocab, device, group))
    return out


def time_prediction(model, batches: list[dict], device: torch.device, rounds: int) -> float:
    """Median seconds for one pass over ``batches`` (eval mode, no grad, bf16 autocast)."""
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    model.eval()

    def one_pass() -> None:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
            for batch in batches:
                model(**{name: batch[name] for name in inputs})

    one_pass()  # warm-up (kernels for every shape)
    times = []
    for _ in range(rounds):
        _sync(device)
        started = time.perf_counter()
        one_pass()
        _sync(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--mode", choices=("squad", "pretrain", "all"), default="squad",
                        help="squad fine-tuning and prediction shapes, pretraining, or both")
    parser.add_argument("--pretrain-batch-128", type=int, default=64,
                        help="pretraining batch at length 128")
    parser.add_argument("--pretrain-batch-512", type=int, default=16,
                        help="pretraining batch at length 512")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model (smoke test)")
    parser.add_argument("--batch", type=int, default=32, help="training batch at length 384")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--predict-features", type=int, default=2048,
                        help="SQuAD-length features in the prediction run")
    parser.add_argument("--predict-batch", type=int, default=64)
    parser.add_argument("--predict-rounds", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--with-transformers", action=argparse.BooleanOptionalAction,
                        default=True, help="time transformers' model too (default: yes)")
    parser.add_argument("--json-out", type=Path,
                        default=ROOT / "bench" / "results" / "gpu_throughput.json")
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny model on CPU, 1 step: checks the script, figures meaningless")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.device, args.tiny, args.steps, args.warmup, args.batch = "cpu", True, 1, 1, 4
        args.predict_features, args.predict_batch, args.predict_rounds = 24, 8, 1
        args.pretrain_batch_128, args.pretrain_batch_512 = 4, 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_throughput: no CUDA device here (torch.cuda.is_available() is "
                         "False); run it on a GPU machine, or use --dry-run to check the script")
    sys.path.insert(0, str(ROOT))
    from bertkit.train.config import BertConfig
    from bertkit.train.tasks import build_model
    from bertkit.train.optim import make_optimizer

    started = time.perf_counter()
    device = torch.device(args.device)
    shape = TINY if args.tiny else LARGE
    vocab = 1024 if args.dry_run else 30522
    config = BertConfig(vocab_size=vocab, max_position_embeddings=512, **shape)
    peak = peak_tflops(device, args.peak_tflops)
    layers, hidden = shape["num_hidden_layers"], shape["hidden_size"]
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda"
                    else "cpu", "peak_bf16_tflops": peak, "config": shape,
                    "dry_run": args.dry_run, "torch": torch.__version__,
                    "flops": "matmul weights x 2 per token + attention 4 x layers x hidden x "
                             "length per token, x3 for training; no embedding lookups",
                    "runs": []}
    makers = [("bertkit", lambda: build_model("squad", config), False)]
    if args.mode == "pretrain":
        makers = []
    if args.with_transformers and makers:
        from transformers import BertConfig as HFConfig
        from transformers import BertForQuestionAnswering

        makers.append(("transformers", lambda: BertForQuestionAnswering(
            HFConfig(vocab_size=vocab, max_position_embeddings=512, **shape)), True))
    predict_lengths = sample_lengths(args.predict_features, seed=0, cap=384)
    report["predict_lengths"] = {"source": squad_lengths()[2],
                                 "mean": round(statistics.mean(predict_lengths), 1),
                                 "features": len(predict_lengths)}
    for name, make, hf in makers:
        torch.manual_seed(0)
        model = make().to(device)
        optimizer = make_optimizer(model, lr=3e-5, weight_decay=0.01)
        matmul = matmul_parameters(model)
        for batch, seq in [(args.batch, 384), (12, 512)]:
            seconds = time_steps(model, optimizer, make_batch(batch, seq, vocab, device),
                                 args.steps, args.warmup, device, hf)
            flops = flops_per_sequence(matmul, layers, hidden, seq) * batch / seconds
            run = {"model": name, "mode": "train", "batch": batch, "seq_length": seq,
                   "step_time_s": round(seconds, 4), "seq_per_s": round(batch / seconds, 1),
                   "tflops": round(flops / 1e12, 2),
                   "mfu": round(flops / 1e12 / peak, 3) if peak else None}
            report["runs"].append(run)
            print(f"{name:12s} train   batch {batch:3d} x {seq}: {seconds * 1000:8.1f} ms/step "
                  f"{batch / seconds:8.1f} seq/s {flops / 1e12:7.1f} TFLOP/s"
                  + (f"  MFU {flops / 1e12 / peak:.1%}" if peak else ""), flush=True)
        del optimizer
        variants = [("padded-384", None)] if hf else [("sorted-trimmed", 1),
                                                      ("sorted-trimmed-x8", 8)]
        for label, multiple in variants:
            batches = prediction_batches(predict_lengths, args.predict_batch, vocab, device,
                                         multiple)
            seconds = time_prediction(model, batches, device, args.predict_rounds)
            flops = sum(flops_per_sequence(matmul, layers, hidden, b["input_ids"].shape[1],
                                           training=False) * b["input_ids"].shape[0]
                        for b in batches) / seconds
            run = {"model": name, "mode": f"predict {label}", "batch": args.predict_batch,
                   "features": len(predict_lengths), "pass_s": round(seconds, 4),
                   "seq_per_s": round(len(predict_lengths) / seconds, 1),
                   "tflops": round(flops / 1e12, 2),
                   "mfu": round(flops / 1e12 / peak, 3) if peak else None}
            report["runs"].append(run)
            print(f"{name:12s} predict {label:17s}: {len(predict_lengths) / seconds:8.1f} "
                  f"seq/s {flops / 1e12:7.1f} TFLOP/s", flush=True)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if args.mode in ("pretrain", "all"):
        report["runs"].extend(pretraining_runs(args, config, device, peak))
    report["summary"] = summarise(report["runs"], args.batch) if args.mode != "pretrain" \
        else {"lines": []}
    pretraining_summary, pretraining_lines = summarise_pretraining(report["runs"])
    report["summary"].update(pretraining_summary)
    report["summary"]["lines"] += pretraining_lines
    report["wall_s"] = round(time.perf_counter() - started, 1)
    for line in report["summary"]["lines"]:
        print(line)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json_out} ({report['wall_s']} s)")
    return report


def summarise(runs: list[dict], batch: int) -> dict:
    """What a session needs from the run, in a few lines."""
    def find(model: str, mode: str, seq: int | None = None) -> dict | None:
        return next((r for r in runs if r["model"] == model and r["mode"] == mode
                     and (seq is None or r.get("seq_length") == seq)), None)

    ours384, peer384 = find("bertkit", "train", 384), find("transformers", "train", 384)
    ours512, peer512 = find("bertkit", "train", 512), find("transformers", "train", 512)
    ours_pred = find("bertkit", "predict sorted-trimmed")
    ours_pred8 = find("bertkit", "predict sorted-trimmed-x8")
    peer_pred = find("transformers", "predict padded-384")
    lines = [f"train {batch} x 384: bertkit {ours384['seq_per_s']} seq/s"
             + (f", MFU {ours384['mfu']:.1%}" if ours384["mfu"] is not None else "")]
    summary: dict = {"train_384_seq_per_s": ours384["seq_per_s"], "train_384_mfu": ours384["mfu"],
                     "train_12x512_step_s": ours512["step_time_s"],
                     "published_12x512_step_s": PUBLISHED_12X512_S}
    lines.append(f"train 12 x 512: bertkit {ours512['step_time_s']:.3f} s/step "
                 f"(published MindSpore/DeepSpark on one BI-V100: {PUBLISHED_12X512_S} s/step)")
    if peer384 and peer512:
        summary["ratio_train_384"] = round(ours384["seq_per_s"] / peer384["seq_per_s"], 2)
        summary["ratio_train_12x512"] = round(peer512["step_time_s"] / ours512["step_time_s"], 2)
        lines.append(f"transformers ratio (bertkit / transformers): train 384 "
                     f"{summary['ratio_train_384']}x, train 12 x 512 "
                     f"{summary['ratio_train_12x512']}x")
    if peer_pred:
        summary["ratio_predict_trimmed"] = round(ours_pred["seq_per_s"] / peer_pred["seq_per_s"], 2)
        summary["ratio_predict_trimmed_x8"] = round(
            ours_pred8["seq_per_s"] / peer_pred["seq_per_s"], 2)
        lines.append(f"predict on SQuAD lengths: bertkit sorted+trimmed "
                     f"{ours_pred['seq_per_s']} seq/s ({summary['ratio_predict_trimmed']}x), "
                     f"trimmed to x8 {ours_pred8['seq_per_s']} seq/s "
                     f"({summary['ratio_predict_trimmed_x8']}x) vs transformers at 384 "
                     f"{peer_pred['seq_per_s']} seq/s")
    summary["lines"] = lines
    return summary


if __name__ == "__main__":
    main()
