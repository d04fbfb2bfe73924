"""Scoring predictions with the official metrics (SQuAD, CMRC, CLUENER, CoNLL, GLUE, TNEWS).

Imports neither torch nor tensorflow; ``evaluate`` is the entry point. It is loaded on first
use, so prep, which reads the task tables here (``benchmarks``, ``contract``), does not load
the scorers.
"""

from typing import Any

__all__ = ["evaluate"]


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from bertkit.evaluate.api import evaluate

        return evaluate
    raise AttributeError(f"module 'bertkit.evaluate' has no attribute {name!r}")
