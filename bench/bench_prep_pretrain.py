"""Benchmark: `bertkit prep pretrain` vs Google's create_pretraining_data.py.

Corpus: SQuAD v1.1 dev contexts, one sentence per line (bertkit's rule-based splitter),
one document per paragraph: about 1.6 MB, 2,067 documents (tests/pretrain_corpora.py).
Every figure comes from fresh processes timed end to end, peak RSS from `wait4`:
- Google: `python -m bert.create_pretraining_data` (the PyPI bert-tensorflow copy, whose
  path without whole-word masking draws the same numbers as master eedf571), TensorFlow
  import included, as a user runs it.
- bertkit: `python -m bertkit prep pretrain`, interpreter start included. Its modules are
  byte-compiled first (`compileall`), as pip does on install and as Google's
  site-packages copy already is: a checkout run with PYTHONDONTWRITEBYTECODE=1 would
  otherwise compile about 60 modules from source on every start (about 35 ms).
  `--no-compile` skips that step.
- bertkit's optional C accelerator of the random walk (bertkit/prep/pretrain/_mtrandom.c)
  is used where it is built; this runs the checkout, so build it in place first
  (`python -c 'from setuptools import setup; setup()' build_ext --inplace`). The bench says
  whether it is there.

1. Speed, one worker, same flags: wall s, instances/s, ratio; records compared feature by
   feature, record by record; bertkit with and without the accelerator
   (BERTKIT_PURE_PYTHON=1), both compared with Google's records.
2. Workers: 8 input shards, `--workers 1` and `--workers 2`: wall-clock scaling,
   instances/s per core, and the bytes of both runs compared. Each shard is a whole copy of
   the corpus (`--workers-shard split` cuts the corpus in 8 instead): a second of work in
   all would leave the scaling hidden behind start-up.
3. Memory: peak RSS for the 1x corpus (one file) and an 8x corpus (8 files), bertkit and
   Google (Google holds every instance of all files in memory).

0. `--only-in-process`: the work alone, both sides called in this process after their
   imports (TensorFlow's too), CPU seconds.
4. Optionally (`--chinese-dupe-factor D`): CMRC + DRCD dev contexts (about 2.5 MB) with the
   bert-base-chinese vocab, Google vs bertkit, and bertkit's `--whole-word-mask jieba` cost.

Usage: PYTHONPATH=$PWD python bench/bench_prep_pretrain.py [--dupe-factor 10]
       [--memory-dupe-factor 2] [--skip-google-8x] [--chinese-dupe-factor D [--only-chinese]]
       [--no-compile]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BERTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
VOCAB = SHARED / "vocab" / "bert-base-uncased" / "vocab.txt"
sys.path.insert(0, str(REPO / "tests"))  # pretrain_corpora.py
sys.path.insert(0, str(REPO / "bench"))  # check_wwm_google.py (record comparison)


# A fresh launcher per measurement: Linux keeps a process's peak RSS across fork+exec, so a
# command forked straight from this (large, by then) process would report our peak too.
_LAUNCHER = """
import os, subprocess, sys, time
began = time.perf_counter()
with open(sys.argv[1], "wb") as log:
    child = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=log)
    _pid, status, usage = os.wait4(child.pid, 0)
print(time.perf_counter() - began, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, status)
"""


def run(command: list[str], **environment: str) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MB, CPU seconds) of one fresh process (and its children)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO), **environment)
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        # Google's script logs every example at INFO: its stderr goes to a file, since an
        # unread pipe would fill and block it.
        done = subprocess.run([sys.executable, "-c", _LAUNCHER, log.name, *command], env=env,
                              capture_output=True, text=True, check=True)
        wall, rss, cpu, status = done.stdout.split()
        if status != "0":
            raise SystemExit(f"failed ({status}): {' '.join(command)}\n"
                             f"{Path(log.name).read_bytes()[-2000:].decode(errors='replace')}")
    return float(wall), float(rss), float(cpu)


def google(inputs: list[Path], output: Path, dupe: int,
           vocab: Path = VOCAB) -> tuple[float, float, float]:
    return run([sys.executable, "-m", "bert.create_pretraining_data",
                f"--input_file={','.join(map(str, inputs))}", f"--output_file={output}",
                f"--vocab_file={vocab}", "--do_lower_case=True", f"--dupe_factor={dupe}"])


def bertkit(inputs: list[Path], output: Path, dupe: int, workers: int = 1,
            vocab: Path = VOCAB, *extra: str, pure: bool = False) -> tuple[float, float, float]:
    return run([sys.executable, "-m", "bertkit", "prep", "pretrain", *map(str, inputs),
                "--vocab", str(vocab), "-o", str(output), "--dupe-factor", str(dupe),
                "--workers", str(workers), *extra], BERTKIT_PURE_PYTHON="1" if pure else "")


def accelerator_note() -> str:
    from bertkit.prep.pretrain.instances import MersenneTwister

    return ("C accelerator built" if MersenneTwister is not None else
            "C accelerator NOT built (every bertkit row is the pure-Python walk)")


def chinese(scratch: Path, dupe: int) -> None:
    """CMRC 2018 + DRCD dev contexts (about 2.5 MB), bert-base-chinese vocab."""
    from check_wwm_google import compare
    from pretrain_corpora import chinese_contexts_corpus

    vocab = SHARED / "vocab" / "bert-base-chinese" / "vocab.txt"
    corpus = chinese_contexts_corpus(SHARED, scratch / "zh_contexts.txt")
    g_wall, g_rss, g_cpu = google([corpus], scratch / "zh_google.tf_record", dupe, vocab)
    b_wall, b_rss, b_cpu = bertkit([corpus], scratch / "zh_ours", dupe, 1, vocab)
    j_wall, j_rss, j_cpu = bertkit([corpus], scratch / "zh_jieba", dupe, 1, vocab,
                                   "--whole-word-mask", "jieba")
    records, difference = compare(scratch / "zh_ours" / "pretrain-00000-of-00001.tf_record",
                                  scratch / "zh_google.tf_record")
    verdict = "identical" if difference is None else f"DIFFERENT ({difference})"
    print(f"\nChinese corpus {corpus.stat().st_size:,} bytes, dupe {dupe}; {accelerator_note()}\n"
          "| one worker | wall s | CPU s | peak RSS MB |\n| --- | ---: | ---: | ---: |")
    print(f"| Google create_pretraining_data.py | {g_wall:.2f} | {g_cpu:.2f} | {g_rss:,.0f} |")
    print(f"| bertkit prep pretrain | {b_wall:.2f} | {b_cpu:.2f} | {b_rss:,.0f} |")
    print(f"| bertkit prep pretrain --whole-word-mask jieba | {j_wall:.1f} | {j_cpu:.1f} | "
          f"{j_rss:,.0f} |")
    print(f"\nspeed ratio {g_wall / b_wall:.1f}x wall, {g_cpu / b_cpu:.1f}x CPU; "
          f"{records:,} records, {verdict}")


def count_records(path: Path) -> int:
    from bertkit.tfrecord import count_records as count

    return count(path)


def in_process(corpus: Path, scratch: Path, dupe: int) -> None:
    """The work alone, both sides in this process after their imports (CPU seconds)."""
    import random

    from check_wwm_google import compare
    from google_oracle import google_create_pretraining_data, google_tokenization

    from bertkit.prep.pretrain import PretrainOptions, create_pretraining_data

    module = google_create_pretraining_data()
    tokenization = google_tokenization()
    module.tf.logging.set_verbosity(module.tf.logging.ERROR)
    began = time.process_time()
    tokenizer = tokenization.FullTokenizer(vocab_file=str(VOCAB), do_lower_case=True)
    instances = module.create_training_instances(
        [str(corpus)], tokenizer, 128, dupe, 0.1, 0.15, 20, random.Random(12345))
    module.write_instance_to_example_files(instances, tokenizer, 128, 20,
                                           [str(scratch / "inproc_google.tf_record")])
    google_cpu = time.process_time() - began
    del instances
    began = time.process_time()
    result = create_pretraining_data([corpus], scratch / "inproc_ours",
                                     PretrainOptions(vocab=str(VOCAB), dupe_factor=dupe))
    ours_cpu = time.process_time() - began
    records, difference = compare(result.files[0], scratch / "inproc_google.tf_record")
    print(f"\nin-process work only (imports excluded), dupe {dupe}: Google {google_cpu:.1f} CPU s, "
          f"bertkit {ours_cpu:.2f} CPU s, ratio {google_cpu / ours_cpu:.1f}x; {records:,} records, "
          f"{'identical' if difference is None else difference}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dupe-factor", type=int, default=10)
    parser.add_argument("--memory-dupe-factor", type=int, default=2)
    parser.add_argument("--workers-shard", choices=("copies", "split"), default="copies")
    parser.add_argument("--skip-google-8x", action="store_true")
    parser.add_argument("--chinese-dupe-factor", type=int, default=0,
                        help="also run the Chinese corpus with this dupe factor (0: skip)")
    parser.add_argument("--only-chinese", action="store_true")
    parser.add_argument("--only-in-process", action="store_true",
                        help="only the in-process comparison of the work itself")
    parser.add_argument("--no-compile", action="store_true",
                        help="do not byte-compile bertkit first (time it as a bare checkout)")
    args = parser.parse_args()
    if not args.no_compile:
        import compileall

        compileall.compile_dir(REPO / "bertkit", quiet=1)

    from check_wwm_google import compare
    from pretrain_corpora import squad_contexts_corpus

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        if args.only_in_process:
            in_process(squad_contexts_corpus(SHARED, scratch / "squad_contexts.txt"), scratch,
                       args.dupe_factor)
            return
        if args.chinese_dupe_factor:
            chinese(scratch, args.chinese_dupe_factor)
        if args.only_chinese:
            return
        corpus = squad_contexts_corpus(SHARED, scratch / "squad_contexts.txt")
        print(f"corpus: {corpus.stat().st_size:,} bytes, dupe {args.dupe_factor}, "
              f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}; {accelerator_note()}")

        # 1. one worker vs Google, bertkit with and without its C accelerator
        g_wall, g_rss, g_cpu = google([corpus], scratch / "google.tf_record", args.dupe_factor)
        rows = []
        for label, pure in (("", False), (", pure Python (BERTKIT_PURE_PYTHON=1)", True)):
            out = scratch / ("ours_pure" if pure else "ours")
            b_wall, b_rss, b_cpu = bertkit([corpus], out, args.dupe_factor, pure=pure)
            records, difference = compare(out / "pretrain-00000-of-00001.tf_record",
                                          scratch / "google.tf_record")
            verdict = "identical" if difference is None else f"DIFFERENT ({difference})"
            rows.append((label, b_wall, b_rss, b_cpu, records, verdict))
        print("\n| one worker | wall s | CPU s | instances per CPU s | peak RSS MB |\n"
              "| --- | ---: | ---: | ---: | ---: |")
        print(f"| Google create_pretraining_data.py | {g_wall:.2f} | {g_cpu:.2f} | "
              f"{records / g_cpu:,.0f} | {g_rss:,.0f} |")
        for label, b_wall, b_rss, b_cpu, records, _verdict in rows:
            print(f"| bertkit prep pretrain --workers 1{label} | {b_wall:.2f} | {b_cpu:.2f} | "
                  f"{records / b_cpu:,.0f} | {b_rss:,.0f} |")
        print()
        for label, b_wall, _rss, b_cpu, records, verdict in rows:
            print(f"speed ratio{label or ' (accelerator where built)'}: "
                  f"{g_wall / b_wall:.1f}x wall, {g_cpu / b_cpu:.1f}x CPU; "
                  f"{records:,} records, {verdict}")

        # 2. workers: 8 shards
        text = corpus.read_text(encoding="utf-8").split("\n\n")
        shard_dir = scratch / "shards"
        shard_dir.mkdir()
        whole_copies = args.workers_shard == "copies"
        per = -(-len(text) // 8)
        shards = []
        for index in range(8):
            path = shard_dir / f"part-{index}.txt"
            part = text if whole_copies else text[index * per:(index + 1) * per]
            path.write_text("\n\n".join(part), encoding="utf-8")
            shards.append(path)
        each = "a copy of the corpus" if whole_copies else "an eighth of it"
        print(f"\n8 input shards, each {each}")
        print("\n| 8 shards | wall s | CPU s | instances/s (wall) | instances per CPU s |\n"
              "| --- | ---: | ---: | ---: | ---: |")
        outputs, walls = {}, {}
        for workers in (1, 2):
            out = scratch / f"w{workers}"
            wall, _rss, cpu = bertkit(shards, out, args.dupe_factor, workers)
            instances = sum(count_records(p) for p in sorted(out.glob("*.tf_record")))
            outputs[workers] = [p.read_bytes() for p in sorted(out.glob("*.tf_record"))]
            print(f"| --workers {workers} | {wall:.2f} | {cpu:.2f} | {instances / wall:,.0f} | "
                  f"{instances / cpu:,.0f} |")
            walls[workers] = wall
        print(f"\n--workers 2 scaling: {walls[1] / walls[2]:.2f}x the wall-clock speed of "
              f"--workers 1 ({os.cpu_count()} CPUs here)")
        print(f"--workers 1 and 2 byte-identical: {outputs[1] == outputs[2]}")

        # 3. memory, 1x vs 8x corpus
        copies = []
        for index in range(8):
            path = scratch / "x8" / f"copy-{index}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(corpus.read_bytes())
            copies.append(path)
        dupe = args.memory_dupe_factor
        print(f"\n| peak RSS MB (dupe {dupe}) | 1x corpus | 8x corpus | 8x / 1x |\n"
              "| --- | ---: | ---: | ---: |")
        _w, b1, _c = bertkit([corpus], scratch / "m1", dupe)
        _w, b8, _c = bertkit(copies, scratch / "m8", dupe)
        print(f"| bertkit --workers 1 | {b1:,.0f} | {b8:,.0f} | {b8 / b1:.2f} |")
        _w, g1, _c = google([corpus], scratch / "g1.tf_record", dupe)
        if args.skip_google_8x:
            print(f"| Google | {g1:,.0f} | (skipped) | |")
        else:
            _w, g8, _c = google(copies, scratch / "g8.tf_record", dupe)
            print(f"| Google | {g1:,.0f} | {g8:,.0f} | {g8 / g1:.2f} |")


if __name__ == "__main__":
    main()
