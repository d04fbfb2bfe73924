"""The oracle check on the real dev sets: gold positions as logits -> post-processing -> score.

Peer: Google's document tokens (``--doc-tokens whitespace``, the way run_squad.py reads
Chinese) on CMRC 2018 dev, in the same run. See bertkit/train/squad_oracle.py.

Usage: python bench/bench_cmrc_oracle.py [--write]   (--write: bench/results/cmrc_oracle.md)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BERTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
sys.path.insert(0, str(REPO))

from bertkit.tokenization import load_tokenizer  # noqa: E402
from bertkit.train.squad_oracle import run_oracle  # noqa: E402

RUNS = [
    ("CMRC 2018 dev", "cmrc2018/cmrc2018_dev.json", "bert-base-chinese", "auto", 512),
    ("DRCD dev", "drcd/DRCD_dev.json", "bert-base-chinese", "auto", 512),
    ("SQuAD v1.1 dev", "squad_v1.1/dev-v1.1.json", "bert-base-uncased", "auto", 384),
    ("CMRC 2018 dev, Google's whitespace doc tokens (peer)", "cmrc2018/cmrc2018_dev.json",
     "bert-base-chinese", "whitespace", 512),
]
EXAMPLES_SHOWN = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    lines = [
        "# Oracle check: CMRC 2018, DRCD and SQuAD dev (gold positions as logits)",
        "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC with "
        "`python bench/bench_cmrc_oracle.py --write`.",
        "",
        "Each question is converted with its first gold answer (DRCD: the annotated one) as",
        "`prep squad --split train` would label it; every feature's labelled start/end get",
        "logit 10 (others 0), `bertkit predict`'s post-processing turns them into answers",
        "(max answer length = the longest labelled span), and the answers are scored with",
        "the CMRC 2018 metric (Chinese) or SQuAD v1.1 (English) over the aligned questions.",
        "'exact' = the prediction equals the first gold text character for character.",
        "The test is tests/test_squad_oracle.py.",
        "",
        "| data | doc tokens | max_seq | questions | aligned | repaired | skipped | "
        "EM | F1 | exact | misses | s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    details = []
    for name, relative, vocab, doc_tokens, max_seq_length in RUNS:
        tokenizer = load_tokenizer(vocab=SHARED / "vocab" / vocab / "vocab.txt",
                                   do_lower_case=True)
        began = time.perf_counter()
        report = run_oracle(SHARED / relative, tokenizer, doc_tokens=doc_tokens,
                            max_seq_length=max_seq_length, doc_stride=128,
                            metric="cmrc" if "squad" not in relative else "squad")
        seconds = time.perf_counter() - began
        f1 = report.scores.get("F1", report.scores.get("f1"))
        misses = sum(len(items) for items in report.misses.values())
        lines.append(
            f"| {name} | {report.doc_tokens} | {max_seq_length} | {report.questions:,} | "
            f"{report.aligned:,} | {report.repaired} | {report.skipped} | {report.em:.2f} | "
            f"{f1:.2f} | {report.exact_first:.2f} | {misses} | {seconds:.1f} |")
        details.append(f"**{name}**: misses by cause")
        if not report.misses:
            details.append("- none")
        for cause, items in sorted(report.misses.items()):
            shown = "; ".join(f"{qid}: gold {gold!r} -> {predicted[:40]!r}"
                              for qid, gold, predicted in items[:EXAMPLES_SHOWN])
            details.append(f"- {cause}: {len(items)} (e.g. {shown})")
        details.append("")
    text = "\n".join(lines + [""] + details)
    print(text)
    if args.write:
        (REPO / "bench" / "results" / "cmrc_oracle.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
