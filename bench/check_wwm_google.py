"""Manual check: `prep pretrain --whole-word-mask wordpiece` vs Google's master script.

The PyPI `bert-tensorflow` copy predates `--do_whole_word_mask`, so the only oracle for
whole-word masking is Google's `create_pretraining_data.py` at master eedf571, which is
not part of bertkit (nor vendored: this script reads it from a path you give). Get it with

    git -C <clone of google-research/bert> show eedf571:create_pretraining_data.py > /tmp/cpd.py

and run

    PYTHONPATH=$PWD python bench/check_wwm_google.py /tmp/cpd.py CORPUS [--max-seq-length 512
        --max-predictions-per-seq 80 --dupe-factor 10]

It loads that file in this process (its TF1 imports pointed at `tensorflow.compat.v1`,
its `import tokenization` at bert-tensorflow's identical module), sets
`FLAGS.do_whole_word_mask = True`, runs its `create_training_instances` and
`write_instance_to_example_files` as its `main` does, runs bertkit on the same corpus, and
compares every feature of every record in order. Prints the record count and OK, or the
first difference; exit status 0 only when identical.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

VOCAB = Path(__file__).resolve().parents[1] / "../shared/data/vocab/bert-base-uncased/vocab.txt"


def load_google_script(path: Path) -> types.ModuleType:
    from absl import flags
    from bert import tokenization

    source = path.read_text(encoding="utf-8")
    source = source.replace("import tensorflow as tf", "import tensorflow.compat.v1 as tf")
    sys.modules["tokenization"] = tokenization
    module = types.ModuleType("google_create_pretraining_data_eedf571")
    # The user names this local file: running it is the point of the check.
    exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    return module


def google_records(module: types.ModuleType, corpus: Path, out: Path, args: argparse.Namespace,
                   whole_word: bool) -> float:
    from bert import tokenization

    module.FLAGS.do_whole_word_mask = whole_word
    started = time.perf_counter()
    tokenizer = tokenization.FullTokenizer(vocab_file=str(args.vocab), do_lower_case=True)
    rng = random.Random(args.random_seed)
    instances = module.create_training_instances(
        [str(corpus)], tokenizer, args.max_seq_length, args.dupe_factor, 0.1, 0.15,
        args.max_predictions_per_seq, rng)
    module.write_instance_to_example_files(instances, tokenizer, args.max_seq_length,
                                           args.max_predictions_per_seq, [str(out)])
    return time.perf_counter() - started


def compare(ours: Path, theirs: Path) -> tuple[int, str | None]:
    from bertkit.tfrecord import read_records

    mine, google = list(read_records(ours)), list(read_records(theirs))
    if len(mine) != len(google):
        return len(google), f"{len(mine)} records, Google {len(google)}"
    for number, (a, b) in enumerate(zip(mine, google)):
        if sorted(a) != sorted(b):
            return len(google), f"record {number}: features {sorted(a)} vs {sorted(b)}"
        for name in a:
            x, y = np.asarray(a[name]), np.asarray(b[name])
            if x.dtype != y.dtype or not np.array_equal(x, y):
                return len(google), f"record {number}: {name} differs"
    return len(google), None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("script", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--vocab", type=Path, default=VOCAB)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--max-predictions-per-seq", type=int, default=20)
    parser.add_argument("--dupe-factor", type=int, default=10)
    parser.add_argument("--random-seed", type=int, default=12345)
    parser.add_argument("--no-wwm", action="store_true", help="compare the default path too")
    args = parser.parse_args()

    from bertkit.prep.pretrain import PretrainOptions, create_pretraining_data

    module = load_google_script(args.script)
    whole_word = not args.no_wwm
    with tempfile.TemporaryDirectory() as scratch:
        google_file = Path(scratch) / "google.tf_record"
        google_seconds = google_records(module, args.corpus, google_file, args, whole_word)
        started = time.perf_counter()
        result = create_pretraining_data(
            [args.corpus], Path(scratch) / "ours", PretrainOptions(
                vocab=str(args.vocab), max_seq_length=args.max_seq_length,
                max_predictions_per_seq=args.max_predictions_per_seq,
                dupe_factor=args.dupe_factor, random_seed=args.random_seed,
                whole_word_mask="wordpiece" if whole_word else "none"))
        our_seconds = time.perf_counter() - started
        records, difference = compare(result.files[0], google_file)
    mode = "wordpiece WWM" if whole_word else "no WWM"
    flags = (f"--max-seq-length {args.max_seq_length} --max-predictions-per-seq "
             f"{args.max_predictions_per_seq} --dupe-factor {args.dupe_factor}")
    status = "OK, every feature of every record identical" if difference is None else \
        f"DIFFERENT: {difference}"
    print(f"{args.corpus.name} ({mode}, {flags}): {records} records; {status}; "
          f"Google {google_seconds:.1f} s, bertkit {our_seconds:.2f} s")
    return 0 if difference is None else 1


if __name__ == "__main__":
    sys.exit(main())
