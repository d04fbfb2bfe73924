"""Benchmark: `prep squad` per-question time on Chinese (character doc tokens) vs English.

The issue's bar: Chinese SQuAD-style files (CMRC 2018, DRCD) convert within 1.5x of
English SQuAD's time per question. All runs are in this one process through the library
entry point `prep_squad` (vocab loading, reading, encoding and writing included), with
one worker, the same window settings, best of ``--repeat`` runs each:
- eval split: SQuAD v1.1 dev (10,570 questions) vs CMRC 2018 dev (3,219) and DRCD dev (3,524);
- train split: the SQuAD v1.1 train subset (11,877) vs CMRC 2018 trial (1,002) and DRCD dev
  with its first (annotated) answers only (3,524; the DRCD training set is not here).
Chinese runs use the bert-base-chinese vocab, English bert-base-uncased.

Usage: python bench/bench_prep_squad_chinese.py [--repeat K] [--max-seq-length L]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BERTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
sys.path.insert(0, str(REPO))

from bertkit.prep.squad.convert import SquadPrepOptions, prep_squad  # noqa: E402
from bertkit.prep.squad.reader import load_json  # noqa: E402
from bertkit.train.squad_oracle import first_answers_only  # noqa: E402

ENGLISH_VOCAB = SHARED / "vocab" / "bert-base-uncased" / "vocab.txt"
CHINESE_VOCAB = SHARED / "vocab" / "bert-base-chinese" / "vocab.txt"


def best_seconds(source: Path, vocab: Path, split: str, args: argparse.Namespace,
                 scratch: Path) -> tuple[float, int, int, str]:
    """(best wall seconds, questions converted, features, doc tokens used)."""
    options = SquadPrepOptions(split=split, max_seq_length=args.max_seq_length,
                               doc_stride=args.doc_stride)
    times = []
    for run in range(args.repeat):
        began = time.perf_counter()
        result = prep_squad(source, scratch / f"{source.stem}-{split}-{run}", options,
                            vocab=vocab, workers=1)
        times.append(time.perf_counter() - began)
    return min(times), result.num_examples, result.num_features, result.doc_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-seq-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        drcd_train = scratch / "DRCD_dev_first_answers.json"
        drcd_train.write_text(json.dumps(first_answers_only(
            load_json(SHARED / "drcd" / "DRCD_dev.json")), ensure_ascii=False), encoding="utf-8")
        runs = {
            "eval": [
                ("SQuAD v1.1 dev", SHARED / "squad_v1.1" / "dev-v1.1.json", ENGLISH_VOCAB),
                ("CMRC 2018 dev", SHARED / "cmrc2018" / "cmrc2018_dev.json", CHINESE_VOCAB),
                ("DRCD dev", SHARED / "drcd" / "DRCD_dev.json", CHINESE_VOCAB),
            ],
            "train": [
                ("SQuAD v1.1 train subset",
                 SHARED / "squad_v1.1" / "train-subset-du2017-test-v1.1.json", ENGLISH_VOCAB),
                ("CMRC 2018 trial", SHARED / "cmrc2018" / "cmrc2018_trial.json", CHINESE_VOCAB),
                ("DRCD dev (first answers)", drcd_train, CHINESE_VOCAB),
            ],
        }
        print(f"max_seq_length {args.max_seq_length}, doc_stride {args.doc_stride}, "
              f"1 worker, best of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
        print("| split | input | doc tokens | questions | features | best s | ms/question | "
              "ratio to English | ms/feature | ratio to English |")
        print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        worst = 0.0
        for split, entries in runs.items():
            english = None
            for name, source, vocab in entries:
                seconds, questions, features, doc_tokens = best_seconds(
                    source, vocab, split, args, scratch)
                per_question = 1000.0 * seconds / questions
                per_feature = 1000.0 * seconds / features
                if english is None:
                    english = (per_question, per_feature)
                ratio = per_question / english[0]
                if doc_tokens != "whitespace":
                    worst = max(worst, ratio)
                print(f"| {split} | {name} | {doc_tokens} | {questions:,} | {features:,} | "
                      f"{seconds:.2f} | {per_question:.3f} | {ratio:.2f}x | "
                      f"{per_feature:.3f} | {per_feature / english[1]:.2f}x |")
        print(f"worst Chinese/English per-question ratio: {worst:.2f}x (bar: 1.5x)")


if __name__ == "__main__":
    main()
