"""Benchmark: `bertkit prep glue` vs Google's run_classifier.py converter, MRPC + CoLA train.

Both run in this one process run on the same inputs (GLUE MRPC train.tsv, 3,667 pairs, and
CoLA train.tsv, 8,551 sentences) with the same vocab and max_seq_length 128:
- Google: its `MrpcProcessor` / `ColaProcessor` + `file_based_convert_examples_to_features`
  (a per-example Python loop over `FullTokenizer` + `convert_single_example`, writing with
  TensorFlow's TFRecordWriter). Timed in-process, *after* TensorFlow is imported (generous
  to Google).
- bertkit: the `bertkit prep glue TASK FILE` CLI in a fresh interpreter per task, timed end to
  end (interpreter start, imports, reading, writing records, sidecars and manifest).
Then both files are parsed with TensorFlow's own `tf.train.Example` parser and compared
record by record, value by value.

Usage: /work/venv/bin/python bench/bench_prep_glue.py [--vocab VOCAB] [--workers N] [--repeat K]
"""

from __future__ import annotations

import argparse
import os
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

TASKS = (("MRPC", "MrpcProcessor"), ("CoLA", "ColaProcessor"))


def run_google(vocab: Path, outdir: Path) -> tuple[float, float, int]:
    """Google's converter over every task's train split; (wall s, CPU s, examples)."""
    import tensorflow as tf
    from google_oracle import google_run_classifier, google_tokenization

    run_classifier = google_run_classifier()
    tokenization = google_tokenization()
    # TF 1 names the scripts use (gfile, logging, python_io) live under tf.compat.v1 in TF 2.
    run_classifier.tf = tf.compat.v1
    tokenization.tf = tf.compat.v1
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    began, began_cpu = time.perf_counter(), time.process_time()
    examples_done = 0
    tokenizer = tokenization.FullTokenizer(str(vocab), do_lower_case=True)
    for task, processor_name in TASKS:
        processor = getattr(run_classifier, processor_name)()
        examples = processor.get_train_examples(str(SHARED / "glue" / task))
        run_classifier.file_based_convert_examples_to_features(
            examples, processor.get_labels(), 128, tokenizer, str(outdir / f"{task}.tf_record"))
        examples_done += len(examples)
    return time.perf_counter() - began, time.process_time() - began_cpu, examples_done


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_bertkit(vocab: Path, outdir: Path, workers: int) -> tuple[float, float]:
    """The CLI once per task; (wall s, CPU s of the CLI processes and their workers)."""
    bertkit = Path(sys.executable).with_name("bertkit")
    began, began_cpu = time.perf_counter(), children_cpu_seconds()
    for task, _ in TASKS:
        command = [str(bertkit), "prep", "glue", task, str(SHARED / "glue" / task / "train.tsv"),
                   "--vocab", str(vocab), "-o", str(outdir / task), "--workers", str(workers),
                   "--json"]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began, children_cpu_seconds() - began_cpu


def run_bertkit_in_process(vocab: Path, outdir: Path, workers: int) -> tuple[float, float]:
    """`convert_glue` called in this process, after imports, timed like Google's loop."""
    from bertkit.prep.classification.glue import convert_glue

    began, began_cpu = time.perf_counter(), time.process_time()
    for task, _ in TASKS:
        convert_glue(task, [SHARED / "glue" / task / "train.tsv"], outdir / task, vocab=vocab,
                     workers=workers)
    return time.perf_counter() - began, time.process_time() - began_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_prep_bench_options(parser, SHARED)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        google_dir, ours_dir = Path(scratch) / "google", Path(scratch) / "bertkit"
        google_dir.mkdir()
        ours_seconds, ours_cpu = min(run_bertkit(args.vocab, ours_dir, args.workers)
                                     for _ in range(args.repeat))
        library_seconds, library_cpu = min(
            run_bertkit_in_process(args.vocab, Path(scratch) / "library", args.workers)
            for _ in range(args.repeat))
        google_seconds, google_cpu, examples = run_google(args.vocab, google_dir)
        identical = True
        counts = []
        for task, _ in TASKS:
            theirs = tf_example_int_features(google_dir / f"{task}.tf_record")
            ours = tf_example_int_features(ours_dir / task / "train.tf_record")
            identical &= theirs == ours
            counts.append(f"{task} {len(ours):,} vs {len(theirs):,}")

    print(f"input: GLUE MRPC + CoLA train.tsv ({examples:,} examples), max_seq_length 128")
    print(f"cores: {os.cpu_count()}  bertkit --workers {args.workers or os.cpu_count()}")
    print(f"google  read+convert+write : {google_seconds:8.2f} s  "
          f"{examples / google_seconds:10,.0f} examples/s")
    print(f"bertkit CLI end to end     : {ours_seconds:8.2f} s  "
          f"{examples / ours_seconds:10,.0f} examples/s  (best of {args.repeat})")
    print(f"bertkit convert_glue()     : {library_seconds:8.2f} s  "
          f"{examples / library_seconds:10,.0f} examples/s  (in-process, best of {args.repeat})")
    print(f"speed-up, wall, CLI        : {google_seconds / ours_seconds:8.1f}x")
    print(f"speed-up, wall, in-process : {google_seconds / library_seconds:8.1f}x")
    print(f"CPU s google / bertkit CLI : {google_cpu:8.2f} / {ours_cpu:.2f} = "
          f"{google_cpu / ours_cpu:.1f}x")
    print(f"CPU s google / in-process  : {google_cpu:8.2f} / {library_cpu:.2f} = "
          f"{google_cpu / library_cpu:.1f}x   (CPU s of the run with the best wall time)")
    print(f"records identical (parsed) : {identical} ({'; '.join(counts)})")
    if not identical:
        raise SystemExit("outputs differ")


if __name__ == "__main__":
    main()
