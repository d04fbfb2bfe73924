"""Google's original BERT scripts (PyPI `bert-tensorflow`), importable as test oracles.

`run_squad.py` and `run_classifier.py` import `tensorflow.contrib` (gone in TF 2) and
read absl flags at import/call time, so we install a stub contrib module and mark
the flags as parsed. Only pure-Python parts (tokenization, example readers,
feature converters) are used; no TF graph is built.
"""

from __future__ import annotations

import os
import sys
import types

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


def google_run_squad() -> types.ModuleType:
    _stub_contrib()
    from bert import run_squad

    _mark_flags_parsed()
    return run_squad


def google_run_classifier() -> types.ModuleType:
    _stub_contrib()
    from bert import run_classifier

    _mark_flags_parsed()
    return run_classifier
