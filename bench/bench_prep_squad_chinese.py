"""Benchmark: `prep squad` per-question time on Chinese (character doc tokens) vs English.

The issue's bar: Chinese SQuAD-style files (CMRC 2018, DRCD) convert within 1.5x of
English SQuAD's time per question. All runs are in this one process through the library
entry point `prep_squad` (vocab loading, reading, encoding and writing included), with
one worker, the same window settings, best of ``--repeat`` runs each, the runs of a split
interleaved (English, CMRC, DRCD, English, ...) so that load from other work on a shared
machine falls on all inputs alike. Wall time is the measure; process CPU time is printed
beside it, as it is far less disturbed by other processes:
- eval split: SQuAD v1.1 dev (10,570 questions) vs CMRC 2018 dev (3,219) and DRCD dev (3,524);
- train split: the SQuAD v1.1 train subset (11,877) vs CMRC 2018 trial (1,002) and DRCD dev
  with its first (annotated) answers only (3,524; the DRCD training set is not here).
Chinese runs use the bert-base-chinese vocab, English bert-base-uncased.

Usage: python bench/bench_prep_squad_chinese.py [--repeat K] [--max-seq-length L]
       [--doc-stride S]   (the CMRC baseline's setting: --max-seq-length 512 --doc-stride 128)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def timed_run(source: Path, vocab: Path, split: str, args: argparse.Namespace,
              output: Path) -> tuple[float, float, int, int, str]:
    """(wall seconds, CPU seconds, questions converted, features, doc tokens used)."""
    options = SquadPrepOptions(split=split, max_seq_length=args.max_seq_length,
                               doc_stride=args.doc_stride)
    began, began_cpu = time.perf_counter(), time.process_time()
    result = prep_squad(source, output, options, vocab=vocab, workers=1)
    wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    shutil.rmtree(output)
    return wall, cpu, result.num_examples, result.num_features, result.doc_tokens


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
              "ratio to English | ms/feature | ratio to English | CPU ms/question | "
              "CPU ratio |")
        print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        worst = worst_cpu = 0.0
        for split, entries in runs.items():
            best: dict[str, list] = {}
            for run in range(args.repeat):
                for name, source, vocab in entries:
                    wall, cpu, *counts = timed_run(source, vocab, split, args,
                                                   scratch / f"{split}-{run}")
                    if name not in best:
                        best[name] = [wall, cpu, *counts]
                    best[name][0] = min(best[name][0], wall)
                    best[name][1] = min(best[name][1], cpu)
            english = None
            for name, _source, _vocab in entries:
                seconds, cpu, questions, features, doc_tokens = best[name]
                per_question = 1000.0 * seconds / questions
                per_feature = 1000.0 * seconds / features
                cpu_per_question = 1000.0 * cpu / questions
                if english is None:
                    english = (per_question, per_feature, cpu_per_question)
                ratio = per_question / english[0]
                cpu_ratio = cpu_per_question / english[2]
                if doc_tokens != "whitespace":
                    worst = max(worst, ratio)
                    worst_cpu = max(worst_cpu, cpu_ratio)
                print(f"| {split} | {name} | {doc_tokens} | {questions:,} | {features:,} | "
                      f"{seconds:.2f} | {per_question:.3f} | {ratio:.2f}x | "
                      f"{per_feature:.3f} | {per_feature / english[1]:.2f}x | "
                      f"{cpu_per_question:.3f} | {cpu_ratio:.2f}x |")
        print(f"worst Chinese/English per-question ratio: {worst:.2f}x wall, "
              f"{worst_cpu:.2f}x CPU (bar: 1.5x)")


if __name__ == "__main__":
    main()
