"""Benchmark: `bertkit prep cluener` + `bertkit prep tnews` vs per-example loops over Google's
FullTokenizer, on CLUENER train (10,748 lines) and TNEWS train (53,360 lines), in one run.

The straightforward references, both timed in-process *after* TensorFlow is imported
(generous to them):
- CLUENER: CLUENER2020 `tf_version/data_processor_seq.py`'s loop: per line, BMES tags per
  character, every character through `FullTokenizer.tokenize`, `[CLS] ... [SEP]`, zero padding,
  one `tf.train.Example` written with TensorFlow's TFRecordWriter. Two changes so its output
  can equal bertkit's value for value: a character that yields no piece is written as [UNK]
  instead of vanishing (the alignment bug of the original), and spans are tagged shortest
  first so a longer span overwrites one nested in it (bertkit's overlap rule; only train line
  1507 has nested spans).
- TNEWS: the CLUE baseline pipeline, i.e. Google's `run_classifier.py`
  `file_based_convert_examples_to_features` over `InputExample(text_a=sentence, label)` with
  the 15 TNEWS labels (a per-example loop over `FullTokenizer` + `convert_single_example`).
bertkit runs twice: in-process (`convert_cluener` / `convert_tnews`, modules imported before
the clock starts, the same footing as the references) and as the CLI in a fresh interpreter
per dataset, timed end to end (interpreter start, imports, reading, writing records,
sidecars and manifest). Then every record of both
outputs is parsed with TensorFlow's `tf.train.Example` and compared value by value.

Both wall-clock and CPU seconds are printed: on a shared, busy machine the wall clock of
either side depends on what else runs at that moment, CPU time much less.

Usage: /work/venv/bin/python bench/bench_prep_cluener_tnews.py [--workers N] [--repeat K]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BERTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
VOCAB = SHARED / "vocab" / "bert-base-chinese" / "vocab.txt"
CLUENER_TRAIN = SHARED / "cluener2020" / "train.json"
TNEWS_TRAIN = SHARED / "tnews" / "train.json"
MAX_SEQ_LENGTH = 128
sys.path.insert(0, str(REPO / "tests"))  # google_oracle.py
from google_oracle import tf_example_int_features  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _int_feature(tf, values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def google_cluener(tokenization, tf, out: Path) -> int:
    """The CLUENER tf_version loop (with the two changes in the module docstring)."""
    tokenizer = tokenization.FullTokenizer(str(VOCAB), do_lower_case=True)
    types = ("address", "book", "company", "game", "government",
             "movie", "name", "organization", "position", "scene")
    label2id = {"O": 0}
    for entity_type in types:
        for prefix in "SBME":
            label2id[f"{prefix}_{entity_type}"] = len(label2id)
    count = 0
    with tf.io.TFRecordWriter(str(out)) as writer:
        for line in CLUENER_TRAIN.read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            text = obj["text"]
            tags = ["O"] * len(text)
            spans = [(start, end, entity_type)
                     for entity_type, entities in obj.get("label", {}).items()
                     for entity_spans in entities.values() for start, end in entity_spans]
            for start, end, entity_type in sorted(spans, key=lambda s: s[1] - s[0]):
                if start == end:
                    tags[start] = "S_" + entity_type
                    continue
                tags[start] = "B_" + entity_type
                for unit in range(start + 1, end):
                    tags[unit] = "M_" + entity_type
                tags[end] = "E_" + entity_type
            tokens = []
            for char in text:
                pieces = tokenizer.tokenize(char)
                tokens.append(pieces[0] if pieces else "[UNK]")
            tokens, tags = tokens[:MAX_SEQ_LENGTH - 2], tags[:MAX_SEQ_LENGTH - 2]
            input_ids = tokenizer.convert_tokens_to_ids(["[CLS]"] + tokens + ["[SEP]"])
            label_ids = [0] + [label2id[tag] for tag in tags] + [0]
            input_mask = [1] * len(input_ids)
            padding = MAX_SEQ_LENGTH - len(input_ids)
            features = {
                "input_ids": _int_feature(tf, input_ids + [0] * padding),
                "input_mask": _int_feature(tf, input_mask + [0] * padding),
                "segment_ids": _int_feature(tf, [0] * MAX_SEQ_LENGTH),
                "label_ids": _int_feature(tf, label_ids + [0] * padding),
            }
            example = tf.train.Example(features=tf.train.Features(feature=features))
            writer.write(example.SerializeToString())
            count += 1
    return count


def google_tnews(tokenization, run_classifier, out: Path) -> int:
    """CLUE's TNEWS baseline: Google's classifier converter over TnewsProcessor's examples."""
    tokenizer = tokenization.FullTokenizer(str(VOCAB), do_lower_case=True)
    labels = [str(100 + i) for i in range(17) if i not in (5, 11)]
    examples = []
    for number, line in enumerate(TNEWS_TRAIN.read_text(encoding="utf-8").splitlines()):
        obj = json.loads(line)
        examples.append(run_classifier.InputExample(
            guid=f"train-{number}", text_a=tokenization.convert_to_unicode(obj["sentence"]),
            text_b=None, label=str(obj["label"])))
    run_classifier.file_based_convert_examples_to_features(
        examples, labels, MAX_SEQ_LENGTH, tokenizer, str(out))
    return len(examples)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_google(outdir: Path) -> dict[str, tuple[float, float, int]]:
    import tensorflow as tf
    from google_oracle import google_run_classifier, google_tokenization

    run_classifier = google_run_classifier()
    tokenization = google_tokenization()
    run_classifier.tf = tf.compat.v1  # TF 1 names (python_io, logging) live there in TF 2
    tokenization.tf = tf.compat.v1
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    timings = {}
    began, cpu = time.perf_counter(), time.process_time()
    count = google_cluener(tokenization, tf, outdir / "cluener_train.tf_record")
    timings["cluener"] = (time.perf_counter() - began, time.process_time() - cpu, count)
    began, cpu = time.perf_counter(), time.process_time()
    count = google_tnews(tokenization, run_classifier, outdir / "tnews_train.tf_record")
    timings["tnews"] = (time.perf_counter() - began, time.process_time() - cpu, count)
    return timings


def run_bertkit(outdir: Path, workers: int) -> dict[str, tuple[float, float]]:
    bertkit = Path(sys.executable).with_name("bertkit")
    timings = {}
    for dataset, source in (("cluener", CLUENER_TRAIN), ("tnews", TNEWS_TRAIN)):
        command = [str(bertkit), "prep", dataset, str(source), "--vocab", str(VOCAB),
                   "-o", str(outdir / dataset), "--workers", str(workers), "--json"]
        began, cpu = time.perf_counter(), _children_cpu()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        timings[dataset] = (time.perf_counter() - began, _children_cpu() - cpu)
    return timings


def run_bertkit_in_process(outdir: Path, workers: int) -> dict[str, tuple[float, float]]:
    from bertkit.prep.ner.cluener import convert_cluener
    from bertkit.prep.classification.tnews import convert_tnews

    timings = {}
    began, cpu = time.perf_counter(), time.process_time()
    convert_cluener([CLUENER_TRAIN], outdir / "cluener", vocab=VOCAB, workers=workers,
                    on_warning=None)
    timings["cluener"] = (time.perf_counter() - began, time.process_time() - cpu)
    began, cpu = time.perf_counter(), time.process_time()
    convert_tnews([TNEWS_TRAIN], outdir / "tnews", vocab=VOCAB, workers=workers)
    timings["tnews"] = (time.perf_counter() - began, time.process_time() - cpu)
    return timings


def print_table(title: str, google: dict, ours: dict) -> None:
    rows = [(dataset, count, wall, cpu, *ours[dataset])
            for dataset, (wall, cpu, count) in google.items()]
    rows.append(("both", sum(r[1] for r in rows), sum(r[2] for r in rows),
                 sum(r[3] for r in rows), sum(r[4] for r in rows), sum(r[5] for r in rows)))
    print(title)
    print(f"{'dataset':8} {'examples':>8} | {'wall s: ref':>11} {'bertkit':>8} {'ratio':>6} "
          f"| {'cpu s: ref':>10} {'bertkit':>8} {'ratio':>6} | {'ex/s ref':>9} {'bertkit':>8}")
    for dataset, count, wall, cpu, our_wall, our_cpu in rows:
        print(f"{dataset:8} {count:>8,} | {wall:>11.2f} {our_wall:>8.2f} {wall / our_wall:>5.1f}x "
              f"| {cpu:>10.2f} {our_cpu:>8.2f} {cpu / our_cpu:>5.1f}x "
              f"| {count / wall:>9,.0f} {count / our_wall:>8,.0f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="bertkit runs; the best is kept")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        google = run_google(tmp_path)
        for module in ("bertkit.prep.ner.cluener", "bertkit.prep.classification.tnews"):
            importlib.import_module(module)  # imported outside the in-process timing

        in_process_runs = [run_bertkit_in_process(tmp_path / f"in{k}", args.workers)
                           for k in range(args.repeat)]
        in_process = {dataset: min((run[dataset] for run in in_process_runs),
                                   key=lambda timing: timing[0]) for dataset in google}
        runs = [run_bertkit(tmp_path / f"run{k}", args.workers) for k in range(args.repeat)]
        ours = {dataset: min((run[dataset] for run in runs), key=lambda timing: timing[0])
                for dataset in runs[0]}

        identical = True
        for dataset in ("cluener", "tnews"):
            theirs = tf_example_int_features(tmp_path / f"{dataset}_train.tf_record")
            mine = tf_example_int_features(tmp_path / "run0" / dataset / "train.tf_record")
            same = theirs == mine and (tmp_path / "run0" / dataset / "train.tf_record").read_bytes(
                ) == (tmp_path / "in0" / dataset / "train.tf_record").read_bytes()
            identical &= same
            print(f"{dataset}: {len(mine):,} records, identical to the reference: {same}")

    print_table("bertkit in-process (modules imported before timing, like the references):",
                google, in_process)
    print_table("bertkit CLI, one fresh `bertkit prep ...` process per dataset:", google, ours)
    print(f"bertkit --workers {args.workers}; outputs identical: {identical}")
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
