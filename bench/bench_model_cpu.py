"""CPU training throughput: bertkit's BertForQuestionAnswering vs transformers', side by side.

Same config (MiniLM-L6-H384 shape by default), same weights, same batch, same threads, same
optimizer (AdamW, fused when torch has it, BERT's decay / no-decay groups), dropout on. Steps
of the two models are interleaved so that load from other processes hits both alike, and each
step is timed by wall clock and by process CPU time (the CPU-time figure is what to trust on a
shared, busy machine). Before timing, the script checks that the two models give identical
outputs: eval logits, and the training loss and gradients of one step with dropout off.

    /work/venv/bin/python bench/bench_model_cpu.py [--seq 384] [--batch 8] [--threads 2] [--steps 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bertkit.train.config import BertConfig
from bertkit.train.heads import BertForQuestionAnswering

MINILM_SHAPE = {"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
                    "intermediate_size": 1536, "max_position_embeddings": 512}


def adamw(model: torch.nn.Module) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if not ("bias" in n or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
    groups = [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        return torch.optim.AdamW(groups, lr=3e-5, fused=True)
    except (RuntimeError, TypeError):  # older torch: no fused CPU kernel
        return torch.optim.AdamW(groups, lr=3e-5)


def make_models(config: BertConfig, dropout: bool):
    import transformers

    if not dropout:
        config = BertConfig(**{**config.to_dict(), "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0})
    torch.manual_seed(0)
    ours = BertForQuestionAnswering(config)
    hf_config = transformers.BertConfig(**config.to_hf_dict())
    hf_config._attn_implementation = "sdpa"
    theirs = transformers.BertForQuestionAnswering(hf_config)
    theirs.load_state_dict(ours.state_dict(), strict=False)
    return ours, theirs


def make_batch(config: BertConfig, batch: int, seq: int):
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, config.vocab_size, (batch, seq), generator=generator)
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)
    types[:, seq // 4 :] = 1
    starts = torch.randint(seq // 4, seq, (batch,), generator=generator)
    ends = (starts + 3).clamp(max=seq - 1)
    return ids, mask, types, starts, ends


def loss_of(model, batch, ours: bool):
    ids, mask, types, starts, ends = batch
    if ours:
        return model(ids, mask, types, starts, ends)["loss"]
    return model(input_ids=ids, attention_mask=mask, token_type_ids=types,
                 start_positions=starts, end_positions=ends).loss


def check_identical(config: BertConfig, batch) -> float:
    """Largest difference in eval logits, loss and gradients; raises if above 1e-4."""
    ours, theirs = make_models(config, dropout=False)
    worst = 0.0
    with torch.no_grad():
        a = ours.eval()(*batch[:3])
        b = theirs.eval()(input_ids=batch[0], attention_mask=batch[1], token_type_ids=batch[2])
    worst = max(worst, (a["start_logits"] - b.start_logits).abs().max().item(),
                (a["end_logits"] - b.end_logits).abs().max().item())
    ours.train(), theirs.train()
    loss_a, loss_b = loss_of(ours, batch, True), loss_of(theirs, batch, False)
    worst = max(worst, abs(loss_a.item() - loss_b.item()))
    loss_a.backward(), loss_b.backward()
    grads_b = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        worst = max(worst, (parameter.grad - grads_b[name].grad).abs().max().item())
    if worst > 1e-4:
        raise SystemExit(f"outputs differ by {worst:.3g}: not the same computation, no benchmark")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seq", type=int, default=384)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--steps", type=int, default=6, help="timed steps per model (after 1 warm-up)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = BertConfig(**MINILM_SHAPE)
    batch = make_batch(config, args.batch, args.seq)

    worst = check_identical(config, batch)
    print(f"identical outputs: max |difference| {worst:.2e} (eval logits, loss, every gradient)")

    ours, theirs = make_models(config, dropout=True)
    runners = {
        "bertkit": (ours.train(), adamw(ours), True),
        "transformers": (theirs.train(), adamw(theirs), False),
    }
    wall: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    for step in range(args.steps + 1):
        for name, (model, optimizer, is_ours) in runners.items():
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            loss_of(model, batch, is_ours).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step:  # step 0 warms up allocator and kernels
                wall[name].append(time.perf_counter() - started_wall)
                cpu[name].append(time.process_time() - started_cpu)

    print(f"config: MiniLM-L6-H384 shape, seq {args.seq}, batch {args.batch}, threads {args.threads}, "
          f"{args.steps} timed steps each, AdamW fused={runners['bertkit'][1].defaults.get('fused')}")
    print(f"{'model':14s} {'seq/s (wall)':>13s} {'seq/s (cpu time)':>17s} {'median s/step':>14s}")
    rates = {}
    for name in runners:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        rates[name] = (args.batch / w, args.batch / c * args.threads)
        print(f"{name:14s} {args.batch / w:13.3f} {args.batch / c * args.threads:17.3f} {w:14.3f}")
    print(f"ratio bertkit/transformers: wall {rates['bertkit'][0] / rates['transformers'][0]:.3f}, "
          f"cpu time {rates['bertkit'][1] / rates['transformers'][1]:.3f}")


if __name__ == "__main__":
    main()
