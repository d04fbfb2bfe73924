"""Google's original BERT scripts (PyPI `bert-tensorflow`), importable as test oracles.

`run_squad.py` and `run_classifier.py` import `tensorflow.contrib` (gone in TF 2) and
read absl flags at import/call time, so we install a stub contrib module and mark
the flags as parsed. Only pure-Python parts (tokenization, example readers,
feature converters) are used; no TF graph is built.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _stub_contrib() -> None:
    if "tensorflow.contrib" in sys.modules:
        return
    contrib = types.ModuleType("tensorflow.contrib")
    for name in ("cluster_resolver", "tpu", "layers", "data", "crf", "metrics"):
        sub = types.ModuleType(f"tensorflow.contrib.{name}")
        setattr(contrib, name, sub)
        sys.modules[f"tensorflow.contrib.{name}"] = sub
    sys.modules["tensorflow.contrib"] = contrib
    import tensorflow as tf

    tf.contrib = contrib  # type: ignore[attr-defined]


def _mark_flags_parsed() -> None:
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def google_tokenization() -> types.ModuleType:
    from bert import tokenization

    _mark_flags_parsed()  # FullTokenizer.tokenize reads the --preserve_unused_tokens flag
    return tokenization


@contextlib.contextmanager
def run_classifier_with_tf1_names() -> Iterator[tuple[types.ModuleType, types.ModuleType]]:
    """Google's run_classifier and tokenization with their `tf` pointed at tf.compat.v1.

    The scripts call `tf.gfile`, `tf.logging` and `tf.python_io`, which TF 2 keeps only under
    `tf.compat.v1`; nothing else in them is touched. The names are restored on exit.
    """
    import tensorflow as tf

    run_classifier = google_run_classifier()
    tokenization = google_tokenization()
    saved = run_classifier.tf, tokenization.tf
    run_classifier.tf = tokenization.tf = tf.compat.v1
    try:
        yield run_classifier, tokenization
    finally:
        run_classifier.tf, tokenization.tf = saved


# Flags each script module defined at import, so the other script can be imported later.
_FLAGS_DEFINED_BY: dict[str, set[str]] = {}


def _import_script(module_name: str) -> types.ModuleType:
    """Import run_squad or run_classifier, even when the other one is already loaded.

    Both scripts define the same absl flags (bert_config_file, vocab_file, ...) at
    import time, and absl refuses a second definition. Their pure-Python converters
    only read flags with the same meaning in both, so the earlier script's flags are
    dropped and redefined by the new import (with their defaults).
    """
    import importlib

    from absl import flags

    full_name = f"bert.{module_name}"
    if full_name in sys.modules:
        return sys.modules[full_name]
    _stub_contrib()
    # The shared modules' flags (tokenization's --preserve_unused_tokens) must not be
    # counted as a script's own, or they would be dropped with it.
    for shared in ("tokenization", "modeling", "optimization"):
        importlib.import_module(f"bert.{shared}")
    set_aside = {}
    for names in _FLAGS_DEFINED_BY.values():
        for name in names:
            if name in flags.FLAGS:
                set_aside[name] = flags.FLAGS[name]
                delattr(flags.FLAGS, name)
    before = set(flags.FLAGS)
    module = importlib.import_module(full_name)
    _FLAGS_DEFINED_BY[module_name] = set(flags.FLAGS) - before
    # Flags only the earlier script has (run_squad's version_2_with_negative) come back.
    for name, flag in set_aside.items():
        if name not in flags.FLAGS:
            flags.FLAGS[name] = flag
    _mark_flags_parsed()
    return module


def google_run_squad() -> types.ModuleType:
    return _import_script("run_squad")


def google_run_classifier() -> types.ModuleType:
    return _import_script("run_classifier")


def google_create_pretraining_data() -> types.ModuleType:
    return _import_script("create_pretraining_data")


def google_pretraining_file(input_file: str, output_file: str, vocab_file: str, *,
                            do_lower_case: bool = True, max_seq_length: int = 128,
                            max_predictions_per_seq: int = 20, masked_lm_prob: float = 0.15,
                            short_seq_prob: float = 0.1, dupe_factor: int = 10,
                            random_seed: int = 12345) -> int:
    """Run Google's script (its functions, as its main() does) into one output file."""
    import random

    module = google_create_pretraining_data()
    tokenization = google_tokenization()
    tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)
    rng = random.Random(random_seed)
    instances = module.create_training_instances(
        [input_file], tokenizer, max_seq_length, dupe_factor, short_seq_prob, masked_lm_prob,
        max_predictions_per_seq, rng)
    module.write_instance_to_example_files(instances, tokenizer, max_seq_length,
                                           max_predictions_per_seq, [output_file])
    return len(instances)


def tf_example_int_features(path: str | os.PathLike[str]) -> list[dict[str, list[int]]]:
    """Every record of a TFRecord file as {feature: int64 values}, parsed by TensorFlow itself.

    The benchmarks compare bertkit's records with Google's through TensorFlow's own parser,
    so neither side's reader can hide a difference.
    """
    import tensorflow as tf

    records = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        example = tf.train.Example.FromString(raw)
        records.append({name: list(feature.int64_list.value)
                        for name, feature in example.features.feature.items()})
    return records
