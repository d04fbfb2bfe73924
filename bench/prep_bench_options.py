"""The command-line options the English prep benchmarks (GLUE, SQuAD) share."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_prep_bench_options(parser: argparse.ArgumentParser, shared_data: Path) -> None:
    """--vocab (Google's uncased vocab under shared_data), --workers and --repeat."""
    parser.add_argument("--vocab", type=Path,
                        default=shared_data / "vocab" / "bert-base-uncased" / "vocab.txt")
    parser.add_argument("--workers", type=int, default=0, help="bertkit --workers (0 = every core)")
    parser.add_argument("--repeat", type=int, default=3, help="bertkit runs; the best is reported")
