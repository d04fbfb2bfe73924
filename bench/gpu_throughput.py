"""GPU training throughput of bertkit's SQuAD model: sequences/s, MFU and per-step time.

Two settings, each a full training step (forward, loss, backward, global-norm clip, fused
AdamW step) in bf16 autocast with fp32 master weights:
- BERT-large at sequence length 384 (the SQuAD fine-tuning shape), batch --batch;
- batch 12 at length 512, the MindSpore/DeepSpark recipe's setting, whose published
  figure is 1.898 s/step on one Iluvatar BI-V100.
MFU = achieved model FLOP/s / the device's peak bf16 dense FLOP/s (--peak-tflops, or a
table of known devices). Model FLOPs per trained token: 6 x parameters (matmuls, forward
+ backward) + 12 x layers x hidden x sequence (attention scores and values), the usual
PaLM-style count.

There is no peer in this run: transformers on the same GPU is the obvious one, and
`--with-transformers` times its BertForQuestionAnswering the same way.

Run:  python bench/gpu_throughput.py            (needs a CUDA device; keep it under 5 min)
      python bench/gpu_throughput.py --dry-run   (= --device cpu --tiny, 2 steps: smoke test)
"""

from __future__ import annotations

import argparse
import json
import time

import torch

# Dense bf16 peaks (TFLOP/s, without sparsity) of devices this may run on.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0,
                    "A10": 125.0, "V100": 125.0}
LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
         "intermediate_size": 4096}
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 128}


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((value for key, value in PEAK_BF16_TFLOPS.items() if key in name), None)


def flops_per_sequence(parameters: int, layers: int, hidden: int, seq: int) -> float:
    return seq * (6 * parameters + 12 * layers * hidden * seq)


def time_steps(model, optimizer, batch: dict, steps: int, warmup: int, device: torch.device,
               hf: bool) -> float:
    """Mean seconds per training step after ``warmup`` untimed steps."""
    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out = model(**batch)
        loss = out.loss if hf else out["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def make_batch(batch: int, seq: int, vocab: int, device: torch.device) -> dict:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, vocab, (batch, seq), generator=generator)
    starts = torch.randint(seq // 4, seq // 2, (batch,), generator=generator)
    return {name: tensor.to(device) for name, tensor in {
        "input_ids": ids, "attention_mask": torch.ones_like(ids),
        "token_type_ids": (torch.arange(seq)[None, :] >= seq // 4).long().expand(batch, seq),
        "start_positions": starts, "end_positions": starts + 3}.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model (smoke test)")
    parser.add_argument("--batch", type=int, default=32, help="batch at length 384")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--with-transformers", action="store_true")
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny model on CPU, 2 steps: checks the script, figures meaningless")
    args = parser.parse_args()
    if args.dry_run:
        args.device, args.tiny, args.steps, args.warmup, args.batch = "cpu", True, 2, 1, 4
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_throughput: no CUDA device here (torch.cuda.is_available() is "
                         "False); run it on a GPU machine, or use --dry-run to check the script")

    from bertkit.train.config import BertConfig
    from bertkit.train.model import build_model
    from bertkit.train.optim import make_optimizer

    device = torch.device(args.device)
    shape = TINY if args.tiny else LARGE
    config = BertConfig(vocab_size=30522, max_position_embeddings=512, **shape)
    peak = peak_tflops(device, args.peak_tflops)
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda"
                    else "cpu", "peak_bf16_tflops": peak, "config": shape, "runs": []}
    settings = [(args.batch, 384), (12, 512)]
    makers = [("bertkit", lambda: build_model("squad", config), False)]
    if args.with_transformers:
        from transformers import BertConfig as HFConfig
        from transformers import BertForQuestionAnswering

        makers.append(("transformers", lambda: BertForQuestionAnswering(
            HFConfig(vocab_size=30522, max_position_embeddings=512, **shape)), True))
    for name, make, hf in makers:
        torch.manual_seed(0)
        model = make().to(device)
        optimizer = make_optimizer(model, lr=3e-5, weight_decay=0.01)
        parameters = sum(p.numel() for p in model.parameters())
        for batch, seq in settings:
            seconds = time_steps(model, optimizer, make_batch(batch, seq, 30522, device),
                                 args.steps, args.warmup, device, hf)
            flops = flops_per_sequence(parameters, shape["num_hidden_layers"],
                                       shape["hidden_size"], seq) * batch / seconds
            run = {"model": name, "batch": batch, "seq_length": seq,
                   "step_time_s": round(seconds, 4), "seq_per_s": round(batch / seconds, 1),
                   "tflops": round(flops / 1e12, 1),
                   "mfu": round(flops / 1e12 / peak, 3) if peak else None}
            report["runs"].append(run)
            print(f"{name:12s} batch {batch:3d} x {seq}: {seconds * 1000:8.1f} ms/step "
                  f"{batch / seconds:8.1f} seq/s {flops / 1e12:7.1f} TFLOP/s"
                  + (f"  MFU {flops / 1e12 / peak:.1%}" if peak else ""), flush=True)
        del model, optimizer
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print("reference: MindSpore/DeepSpark BERT-large SQuAD, batch 12 x 512 on one BI-V100: "
          "1.898 s/step")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
