"""`bertkit tokenize`: JSON lines identical to Google's FullTokenizer, clear errors, no torch/TF."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import tokenization_corpora as corpora
from conftest import CHINESE_VOCAB, SPM_MODEL, UNCASED_VOCAB
from google_oracle import google_tokenization

from bertkit.tokenization import load_tokenizer


def bertkit(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bertkit", *args], input=stdin,
                          capture_output=True, timeout=300, check=False)


def json_lines(stdout: bytes) -> list:
    return [json.loads(line) for line in stdout.decode("utf-8").split("\n")[:-1]]


@pytest.mark.parametrize("lower", [True, False])
def test_edge_case_file_matches_google(shared_data, lower):
    flags = [] if lower else ["--no-do-lower-case"]
    done = bertkit("tokenize", str(corpora.EDGE_CASES_FILE), "--vocab", str(UNCASED_VOCAB), *flags)
    assert done.returncode == 0, done.stderr
    google = google_tokenization().FullTokenizer(str(UNCASED_VOCAB), lower)
    assert json_lines(done.stdout) == [google.tokenize(text) for text in corpora.edge_cases()]


def test_ids_from_stdin_match_google(shared_data):
    texts = corpora.cluener_texts()[:100]
    done = bertkit("tokenize", "-", "--vocab", str(CHINESE_VOCAB), "--ids",
                   stdin=("\n".join(texts) + "\n").encode("utf-8"))
    assert done.returncode == 0, done.stderr
    google = google_tokenization().FullTokenizer(str(CHINESE_VOCAB), True)
    expected = [google.convert_tokens_to_ids(google.tokenize(text)) for text in texts]
    assert json_lines(done.stdout) == expected


def test_spm_model_and_crlf_input(shared_data, tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"Der Hund\r\nbellt laut.")  # no final newline
    done = bertkit("tokenize", str(path), "--spm-model", str(SPM_MODEL))
    assert done.returncode == 0, done.stderr
    spm = load_tokenizer(spm_model=SPM_MODEL)
    assert json_lines(done.stdout) == [spm.tokenize("Der Hund"), spm.tokenize("bellt laut.")]
    assert json_lines(done.stdout)[0][0] == "\u2581der"  # lower-cased by default


def test_bad_input_is_one_line_and_exit_1(shared_data, tmp_path):
    done = bertkit("tokenize", str(tmp_path / "missing.txt"), "--vocab", str(UNCASED_VOCAB))
    assert done.returncode == 1
    assert done.stderr.decode().strip().count("\n") == 0 and "missing.txt" in done.stderr.decode()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nbro\xffken\n")
    done = bertkit("tokenize", str(bad), "--vocab", str(UNCASED_VOCAB))
    assert done.returncode == 1
    assert "bad.txt:2: invalid UTF-8" in done.stderr.decode()
    done = bertkit("tokenize", str(bad), "--vocab", str(tmp_path / "nope.txt"))
    assert done.returncode == 1 and "vocab file not found" in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()


def test_missing_or_double_source_is_a_usage_error(tmp_path):
    done = bertkit("tokenize", str(tmp_path / "x.txt"))
    assert done.returncode == 2 and "exactly one of --vocab and --spm-model" in done.stderr.decode()


def test_tokenize_imports_neither_torch_nor_tensorflow(shared_data):
    code = "\n".join([
        "import atexit, sys",
        "atexit.register(lambda: print('HEAVY', [m for m in ('torch', 'tensorflow') if m in sys.modules]))",
        f"sys.argv = ['bertkit', 'tokenize', {str(corpora.EDGE_CASES_FILE)!r}, '--vocab', {str(UNCASED_VOCAB)!r}]",
        "from bertkit.cli import main",
        "main()",
    ])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.stdout.strip().endswith("HEAVY []"), done.stdout[-300:] + done.stderr
