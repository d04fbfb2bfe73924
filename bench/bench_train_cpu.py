"""CPU training throughput: bertkit's SQuAD model vs transformers' BertForQuestionAnswering.

Same config, same initial weights (HF's, copied by name: our parameter names are HF's),
same batches, same optimizer (torch AdamW, BERT recipe groups), same thread count.
Before timing, the two models' forward outputs and losses are checked to agree (eval
mode, fp32). Timed: one full training step = forward, loss, backward, global-norm
clip, AdamW step, zero_grad. The two are run in alternating rounds so a busy machine
slows both alike; the figure is the median over rounds.

Run:  /work/venv/bin/python bench/bench_train_cpu.py [--layers 4 --hidden 256 ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from gpu_throughput import train_step  # the bench folder is on sys.path when run as a script


def _batches(count: int, batch: int, seq: int, vocab: int, seed: int) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        ids = torch.randint(1000, vocab, (batch, seq), generator=generator)
        lengths = torch.randint(seq // 2, seq + 1, (batch,), generator=generator)
        mask = (torch.arange(seq)[None, :] < lengths[:, None]).long()
        segments = (torch.arange(seq)[None, :] >= seq // 4).long() * mask
        starts = torch.randint(seq // 4, seq // 2, (batch,), generator=generator)
        out.append({"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": segments,
                    "start_positions": starts, "end_positions": starts + 2})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=30522)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import BertConfig as HFConfig
    from transformers import BertForQuestionAnswering

    from bertkit.train.config import BertConfig
    from bertkit.train.tasks import build_model
    from bertkit.train.optim import make_optimizer

    hf_config = HFConfig(vocab_size=args.vocab, hidden_size=args.hidden,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                         intermediate_size=4 * args.hidden, max_position_embeddings=512)
    torch.manual_seed(0)
    peer = BertForQuestionAnswering(hf_config)
    ours = build_model("squad", BertConfig.from_dict(hf_config.to_dict()))
    missing = ours.load_state_dict(peer.state_dict(), strict=False)
    assert not missing.missing_keys, missing.missing_keys

    batches = _batches(args.rounds * args.steps + 2, args.batch, args.seq, args.vocab, seed=1)
    ours.eval(), peer.eval()
    with torch.no_grad():
        a, b = ours(**batches[0]), peer(**batches[0])
    assert torch.allclose(a["start_logits"], b.start_logits, atol=1e-5), "outputs differ"
    assert torch.allclose(a["loss"], b.loss, atol=1e-5), "losses differ"
    print(f"outputs agree: max |start_logits diff| = "
          f"{(a['start_logits'] - b.start_logits).abs().max():.2e}, loss {float(a['loss']):.6f}")
    ours.train(), peer.train()

    optimizers = {"bertkit": make_optimizer(ours, lr=3e-5, weight_decay=0.01),
                  "transformers": make_optimizer(peer, lr=3e-5, weight_decay=0.01)}
    models = {"bertkit": ours, "transformers": peer}
    for name, model in models.items():  # warm-up step (allocator, kernels)
        train_step(model, optimizers[name], batches[-1], hf=name == "transformers")
    rates: dict[str, list[float]] = {name: [] for name in models}
    for round_index in range(args.rounds):
        order = list(models) if round_index % 2 == 0 else list(reversed(list(models)))
        for name in order:
            chunk = batches[round_index * args.steps:(round_index + 1) * args.steps]
            started = time.perf_counter()
            for batch in chunk:
                train_step(models[name], optimizers[name], batch, hf=name == "transformers")
            rates[name].append(len(chunk) * args.batch / (time.perf_counter() - started))
    ours_rate = statistics.median(rates["bertkit"])
    peer_rate = statistics.median(rates["transformers"])
    print(f"config: layers {args.layers}, hidden {args.hidden}, heads {args.heads}, seq "
          f"{args.seq}, batch {args.batch}, threads {args.threads}, "
          f"{args.rounds}x{args.steps} steps")
    print(f"bertkit      {ours_rate:8.1f} seq/s  (rounds: {', '.join(f'{r:.1f}' for r in rates['bertkit'])})")
    print(f"transformers {peer_rate:8.1f} seq/s  (rounds: {', '.join(f'{r:.1f}' for r in rates['transformers'])})")
    print(f"ratio bertkit/transformers: {ours_rate / peer_rate:.3f}x")


if __name__ == "__main__":
    main()
