"""`bertkit inspect`: counts, features, the whole-file CRC check, tokens from a vocab,
and a one-line error (exit 1) for a damaged file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_support import run_in_fresh_interpreter
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.tfrecord import BytesList, FloatList, TFRecordWriter, index_path_for

runner = CliRunner()
SEQ_LEN = 128


def vocab_ids(vocab: Path) -> dict[str, int]:
    """The vocab file itself is the reference: line number = id."""
    return {line.rstrip("\n"): number
            for number, line in enumerate(vocab.read_text(encoding="utf-8").splitlines())}


@pytest.fixture()
def squad_file(tmp_path: Path, shared_data: Path, uncased_vocab: Path) -> tuple[Path, list]:
    """Records whose input_ids spell real SQuAD questions word by word in the real vocab."""
    ids = vocab_ids(uncased_vocab)
    articles = json.loads((shared_data / "squad_v1.1" / "dev-v1.1.json").read_text())["data"]
    questions = [qa["question"] for qa in articles[0]["paragraphs"][0]["qas"]][:5]
    token_lists = []
    path = tmp_path / "eval.tf_record"
    with TFRecordWriter(path) as writer:
        for number, question in enumerate(questions):
            words = [w for w in question.lower().rstrip("?").split() if w in ids][:20]
            tokens = ["[CLS]", *words, "[SEP]"]
            token_lists.append(tokens)
            input_ids = [ids[t] for t in tokens] + [0] * (SEQ_LEN - len(tokens))
            mask = [1] * len(tokens) + [0] * (SEQ_LEN - len(tokens))
            writer.write({"unique_ids": [1000000000 + number], "input_ids": input_ids,
                          "input_mask": mask, "segment_ids": [0] * SEQ_LEN,
                          "qid": BytesList([qa_id(articles, number).encode()]),
                          "score": FloatList([0.25 * number])})
    return path, token_lists


def qa_id(articles: list, number: int) -> str:
    return articles[0]["paragraphs"][0]["qas"][number]["id"]


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["inspect", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_report(squad_file: tuple[Path, list]) -> None:
    path, _tokens = squad_file
    report = run_json(str(path))
    assert report["records"] == 5 and report["crc_ok"] is True
    assert report["features"] == {
        "input_ids": {"dtype": "int64", "length": SEQ_LEN, "records": 5},
        "input_mask": {"dtype": "int64", "length": SEQ_LEN, "records": 5},
        "qid": {"dtype": "bytes", "length": 1, "records": 5},
        "score": {"dtype": "float32", "length": 1, "records": 5},
        "segment_ids": {"dtype": "int64", "length": SEQ_LEN, "records": 5},
        "unique_ids": {"dtype": "int64", "length": 1, "records": 5},
    }
    assert report["index"] == "ok" and report["schema"] == "ok"
    assert len(report["first_records"]) == 3  # the default
    first = report["first_records"][0]
    assert first["unique_ids"] == [1000000000] and len(first["input_ids"]) == SEQ_LEN
    assert first["score"] == [0.0] and isinstance(first["qid"][0], str)


def test_vocab_turns_input_ids_into_tokens(squad_file: tuple[Path, list],
                                           uncased_vocab: Path) -> None:
    path, tokens = squad_file
    report = run_json(str(path), "--vocab", str(uncased_vocab), "-n", "5")
    assert [record["input_tokens"] for record in report["first_records"]] == tokens


def test_number_of_records_shown(squad_file: tuple[Path, list]) -> None:
    path, _tokens = squad_file
    assert run_json(str(path), "-n", "0")["first_records"] == []
    assert len(run_json(str(path), "-n", "50")["first_records"]) == 5


def test_human_report_goes_to_stderr(squad_file: tuple[Path, list], uncased_vocab: Path) -> None:
    path, tokens = squad_file
    completed = subprocess.run(
        [sys.executable, "-m", "bertkit", "inspect", str(path), "--vocab", str(uncased_vocab),
         "-n", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0 and completed.stdout == ""
    assert re.search(r"\brecords\s*│\s*5\s*│", completed.stderr), completed.stderr  # parsed count
    assert re.search(r"│\s*input_ids\s*│\s*int64\s*│\s*128\s*│\s*5\s*│", completed.stderr)
    assert tokens[0][1] in completed.stderr  # a word of the first question, as a token


def test_stale_sidecars_are_reported(squad_file: tuple[Path, list]) -> None:
    path, _tokens = squad_file
    index_path_for(path).write_text("0 10\n")
    schema = path.with_name("eval.schema.json")
    schema.write_text(json.dumps({"datasetType": "TF", "numRows": 9, "columns": {}}))
    report = run_json(str(path))
    assert report["index"] == "stale" and report["schema"].startswith("mismatch")


def flip_byte(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_exits_1_with_one_line(squad_file: tuple[Path, list]) -> None:
    path, _tokens = squad_file
    offset = int(index_path_for(path).read_text().splitlines()[3].split()[0])
    flip_byte(path, offset + 12 + 40)
    completed = subprocess.run(
        [sys.executable, "-m", "bertkit", "inspect", str(path), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 1
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in completed.stderr
    assert f"record 3 at byte {offset}" in lines[0] and "CRC" in lines[0]


def test_truncated_file_and_missing_file(tmp_path: Path, squad_file: tuple[Path, list]) -> None:
    path, _tokens = squad_file
    path.write_bytes(path.read_bytes()[:-7])
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 1 and "record 4" in result.output and "truncated" in result.output
    result = runner.invoke(app, ["inspect", str(tmp_path / "nope.tf_record")])
    assert result.exit_code == 1 and "nope.tf_record" in result.output


def test_bad_vocab_fails_before_reading(tmp_path: Path, squad_file: tuple[Path, list]) -> None:
    path, _tokens = squad_file
    empty = tmp_path / "vocab.txt"
    empty.write_text("")
    result = runner.invoke(app, ["inspect", str(path), "--vocab", str(empty)])
    assert result.exit_code == 1 and "vocab" in result.output.lower()


def test_inspect_imports_neither_torch_nor_tensorflow(squad_file: tuple[Path, list],
                                                      uncased_vocab: Path) -> None:
    path, _tokens = squad_file
    argv = ["inspect", str(path), "--vocab", str(uncased_vocab), "--json"]
    _, loaded = run_in_fresh_interpreter(argv)
    assert loaded == {"torch": False, "tensorflow": False}


def test_batch_written_squad_file_inspects_like_per_record(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "train.tf_record"
    with TFRecordWriter(path) as writer:
        writer.write_batch({"input_ids": rng.integers(0, 30522, (50, 384)),
                            "start_positions": rng.integers(0, 384, 50)})
    report = run_json(str(path))
    assert report["records"] == 50
    assert report["features"]["input_ids"]["length"] == 384


def test_records_of_differing_layouts(tmp_path: Path) -> None:
    path = tmp_path / "mixed.tf_record"
    with TFRecordWriter(path) as writer:
        writer.write({"ids": [1, 2, 3], "text": BytesList([b"a", b"b"]), "w": FloatList([1.0])})
        writer.write({"ids": [4], "text": BytesList([])})
        writer.write({"ids": [5, 6], "text": BytesList(["名".encode()]), "w": FloatList([2.0])})
    report = run_json(str(path), "-n", "3")
    assert report["records"] == 3
    assert report["features"] == {
        "ids": {"dtype": "int64", "length": [1, 3], "records": 3},
        "text": {"dtype": "bytes", "length": [0, 2], "records": 3},
        "w": {"dtype": "float32", "length": 1, "records": 2},
    }
    assert report["first_records"][2]["text"] == ["名"]
