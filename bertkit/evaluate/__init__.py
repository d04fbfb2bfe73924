"""Scoring predictions with the official metrics (SQuAD, CMRC, CLUENER, CoNLL, GLUE, TNEWS).

Imports neither torch nor tensorflow; ``evaluate`` is the entry point.
"""

from bertkit.evaluate.api import evaluate

__all__ = ["evaluate"]
