"""Shared fixtures: where the real public data lives, and the bundled sample files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/google_oracle.py etc.

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _shared_data_dir() -> Path:
    configured = os.environ.get("BERTKIT_SHARED_DATA")
    if configured:
        return Path(configured)
    return REPO_ROOT.parent / "shared" / "data"


SHARED_DATA = _shared_data_dir()
UNCASED_VOCAB = SHARED_DATA / "vocab" / "bert-base-uncased" / "vocab.txt"
CHINESE_VOCAB = SHARED_DATA / "vocab" / "bert-base-chinese" / "vocab.txt"
SPM_MODEL = SHARED_DATA / "vocab" / "sentencepiece-albert-de" / "30k-clean.model"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set BERTKIT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def uncased_vocab(shared_data: Path) -> Path:
    return UNCASED_VOCAB


@pytest.fixture(scope="session")
def chinese_vocab(shared_data: Path) -> Path:
    return CHINESE_VOCAB


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for the test, restored after: on a small shared CI box, more
    threads only contend. Training test modules use it for every test via pytestmark."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
