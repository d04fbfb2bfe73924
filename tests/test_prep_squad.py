"""`bertkit prep squad`: bad input, the CLI surface, worker independence, interrupted runs,
and the window/reader building blocks against Google's own functions (hypothesis)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.errors import InputError, UsageError
from bertkit.prep.squad import convert as squad_convert
from bertkit.prep.squad.convert import SquadPrepOptions, prep_squad
from bertkit.prep.squad.sidecar import load_squad_eval_data
from bertkit.prep.squad.reader import split_doc_tokens, word_of_char
from bertkit.prep.squad.windows import (doc_spans, improve_answer_span, max_context_flags,
                                        max_context_owner)
from bertkit.tfrecord import read_records
from bertkit.tokenization import load_tokenizer

SAMPLE = (
    Path(__file__).resolve().parents[1]
    / "bertkit"
    / "data"
    / "squad_sample"
    / "dev-v1.1-sample.json"
)
runner = CliRunner()

CONTEXT = "The Broncos beat the Panthers 24-10 in Santa Clara."


def squad_file(
    tmp_path: Path,
    qas: list[dict[str, Any]] | None = None,
    context: str = CONTEXT,
    document: Any = None,
    name: str = "in.json",
) -> Path:
    if document is None:
        if qas is None:
            qas = [
                {
                    "id": "q1",
                    "question": "Who won?",
                    "answers": [{"text": "Broncos", "answer_start": 4}],
                }
            ]
        document = {
            "version": "1.1",
            "data": [{"title": "Super_Bowl", "paragraphs": [{"context": context, "qas": qas}]}],
        }
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def prep_squad_cli(path: Path, vocab: Path, out: Path, split: str, *extra: str):
    """`bertkit prep squad PATH --vocab VOCAB -o OUT --split SPLIT EXTRA...` through the CLI."""
    return runner.invoke(
        app, ["prep", "squad", str(path), "--vocab", str(vocab), "-o", str(out), "--split", split,
              *extra]
    )


def convert(path: Path, vocab: Path, out: Path, split: str = "train", **options: Any):
    return prep_squad(path, out, SquadPrepOptions(split=split, **options), vocab=vocab, workers=1)


# --- bad input: one line, file and position ----------------------------------------------


def test_truncated_json_names_line_and_column(uncased_vocab: Path, tmp_path: Path) -> None:
    path = squad_file(tmp_path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InputError) as error:
        convert(path, uncased_vocab, tmp_path / "out")
    assert re.search(r"in\.json:\d+:\d+: invalid JSON", str(error.value))
    assert "\n" not in str(error.value)


def test_invalid_json_position_is_exact(uncased_vocab: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"data": [\n  {"title": "x",, }]}')
    with pytest.raises(InputError, match=r"bad\.json:2:17: invalid JSON"):
        convert(path, uncased_vocab, tmp_path / "out")


@pytest.mark.parametrize(
    ("mutate", "message", "where"),
    [
        (lambda d: d.pop("data"), "missing 'data'", "top level"),
        (
            lambda d: d["data"][0].pop("paragraphs"),
            "missing 'paragraphs'",
            "article 0 (Super_Bowl)",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0].pop("context"),
            "missing 'context'",
            "article 0 (Super_Bowl) paragraph 0",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0].pop("qas"),
            "missing 'qas'",
            "article 0 (Super_Bowl) paragraph 0",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("id"),
            "missing 'id'",
            "article 0 (Super_Bowl) paragraph 0 question 0",
        ),
        (
            lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("question"),
            "missing 'question'",
            "question 'q1'",
        ),
    ],
)
def test_missing_fields_name_the_article_or_question(
    uncased_vocab: Path, tmp_path: Path, mutate: Any, message: str, where: str
) -> None:
    document = json.loads(squad_file(tmp_path).read_text())
    mutate(document)
    path = squad_file(tmp_path, document=document, name="broken.json")
    with pytest.raises(InputError) as error:
        convert(path, uncased_vocab, tmp_path / "out")
    assert str(error.value) == f"{path}:{where}: {message}"


@pytest.mark.parametrize("start", [-1, len(CONTEXT) - 3, 10_000])
def test_answer_start_outside_the_context(uncased_vocab: Path, tmp_path: Path, start: int) -> None:
    path = squad_file(
        tmp_path,
        [{"id": "q9", "question": "Who?", "answers": [{"text": "Broncos", "answer_start": start}]}],
    )
    for split in ("train", "eval"):
        with pytest.raises(
            InputError, match=r"question 'q9' answer 0: answer_start .* outside the context"
        ):
            convert(path, uncased_vocab, tmp_path / split, split=split)


def test_v2_file_without_the_flag_says_to_pass_it(uncased_vocab: Path, tmp_path: Path) -> None:
    path = squad_file(
        tmp_path, [{"id": "q2", "question": "Who lost?", "answers": [], "is_impossible": True}]
    )
    for split in ("train", "eval"):
        with pytest.raises(InputError, match="pass --version-2-with-negative"):
            convert(path, uncased_vocab, tmp_path / split, split=split)
    result = convert(path, uncased_vocab, tmp_path / "ok", version_2_with_negative=True)
    record = next(read_records(result.record_path))
    assert record["is_impossible"].tolist() == [1]
    assert record["start_positions"].tolist() == record["end_positions"].tolist() == [0]


@pytest.mark.parametrize(
    "answers",
    [[], [{"text": "Broncos", "answer_start": 4}, {"text": "Panthers", "answer_start": 21}]],
)
def test_train_split_needs_exactly_one_answer(
    uncased_vocab: Path, tmp_path: Path, answers: list[dict[str, Any]]
) -> None:
    path = squad_file(tmp_path, [{"id": "q3", "question": "Who?", "answers": answers}])
    with pytest.raises(
        InputError,
        match=rf"question 'q3': a training question needs exactly one "
        rf"answer, found {len(answers)}",
    ):
        convert(path, uncased_vocab, tmp_path / "out")
    convert(path, uncased_vocab, tmp_path / "eval", split="eval")  # eval keeps every gold answer


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_seq_length": 67, "max_query_length": 64}, "must be greater than --max-query-length"),
        ({"max_seq_length": 513}, "larger than BERT's 512"),
        ({"split": "test"}, "--split must be train or eval"),
        ({"split": "../x"}, "--split must be train or eval"),
    ],
)
def test_bad_options_are_usage_errors_before_reading(
    tmp_path: Path, options: dict, message: str
) -> None:
    never_read = tmp_path / "does-not-exist.json"
    kwargs = {"split": "train", **options}
    with pytest.raises(UsageError, match=message):
        prep_squad(never_read, tmp_path / "out", SquadPrepOptions(**kwargs), vocab=never_read)
    assert not (tmp_path / "out").exists()


def test_cli_usage_error_exits_2_with_one_line(tmp_path: Path) -> None:
    result = prep_squad_cli(tmp_path / "missing.json", tmp_path / "missing.txt", tmp_path / "o",
                            "train", "--max-seq-length", "600")
    assert result.exit_code == 2
    assert re.search(r"--max-seq-length.*\b600\b.*\b512\b", " ".join(result.output.split())), \
        result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_bad_input_exits_1_with_one_line(uncased_vocab: Path, tmp_path: Path) -> None:
    path = squad_file(
        tmp_path, [{"id": "q2", "question": "Who lost?", "answers": [], "is_impossible": False}]
    )
    result = prep_squad_cli(path, uncased_vocab, tmp_path / "o", "eval")
    assert result.exit_code == 1
    assert "--version-2-with-negative" in result.output
    assert len(result.output.strip().splitlines()) == 1


# --- Google's answer-skipping and window rules on hand-made cases --------------------------


def test_unrecoverable_answer_is_skipped_and_reported(uncased_vocab: Path, tmp_path: Path) -> None:
    qas = [
        {"id": "ok", "question": "Who won?", "answers": [{"text": "Broncos", "answer_start": 4}]},
        # "Bronc" is a character sub-span of a doc token: Google keeps it ("Broncos" contains
        # it); "s beat" straddles tokens without matching their text, so it is skipped.
        {"id": "sub", "question": "Part?", "answers": [{"text": "Bronc", "answer_start": 4}]},
        {"id": "bad", "question": "Bad?", "answers": [{"text": "x", "answer_start": 5}]},
    ]
    result = convert(squad_file(tmp_path, qas), uncased_vocab, tmp_path / "out", shuffle=False)
    assert [item.qas_id for item in result.skipped] == ["bad"]
    assert result.num_examples == 2
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["skipped_answers"] == 1
    assert manifest["skipped_answers"][0]["qas_id"] == "bad"


def test_answer_outside_every_window_points_at_cls(uncased_vocab: Path, tmp_path: Path) -> None:
    context = " ".join(f"w{i}" for i in range(60)) + " Broncos"
    qas = [
        {
            "id": "q",
            "question": "Who?",
            "answers": [{"text": "Broncos", "answer_start": len(context) - 7}],
        }
    ]
    result = convert(
        squad_file(tmp_path, qas, context=context),
        uncased_vocab,
        tmp_path / "out",
        max_seq_length=32,
        doc_stride=8,
        max_query_length=8,
    )
    records = list(read_records(result.record_path))
    assert len(records) > 2
    positions = [(r["start_positions"][0], r["end_positions"][0]) for r in records]
    assert positions[0] == (0, 0)  # the first window does not reach the answer
    assert positions[-1] != (0, 0)
    last = records[-1]
    broncos = load_tokenizer(vocab=uncased_vocab).convert_tokens_to_ids(["broncos"])[0]
    assert last["input_ids"][positions[-1][0]] == broncos
    assert result.windows_histogram == {len(records): 1}


def test_unique_ids_count_from_1000000000(uncased_vocab: Path, tmp_path: Path) -> None:
    result = convert(SAMPLE, uncased_vocab, tmp_path, split="eval")
    ids = [r["unique_ids"][0] for r in read_records(result.record_path)]
    assert ids == list(range(1000000000, 1000000000 + len(ids)))


# --- outputs: workers, --json, sidecar, interrupted runs ----------------------------------


def test_output_bytes_do_not_depend_on_workers(uncased_vocab: Path, tmp_path: Path) -> None:
    digests = []
    for workers in (1, 2, 3):
        out = tmp_path / f"w{workers}"
        prep_squad(
            SAMPLE, out, SquadPrepOptions(split="eval"), vocab=uncased_vocab, workers=workers
        )
        files = sorted(p.name for p in out.iterdir())
        digests.append(
            {name: (out / name).read_bytes().replace(str(out).encode(), b"OUT") for name in files}
        )
    assert digests[0] == digests[1] == digests[2]


def test_cli_json_prints_the_manifest_with_files(uncased_vocab: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = prep_squad_cli(SAMPLE, uncased_vocab, out, "eval", "--json", "--workers", "1")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads((out / "manifest.json").read_text())
    assert printed["inputs"][0]["path"] == str(SAMPLE.resolve())
    assert printed["options"]["split"] == "eval"
    assert printed["options"]["max_seq_length"] == 384
    assert printed["tokenizer"]["vocab_sha256"]
    assert printed["counts"]["examples"] == 72
    names = {Path(p).name for p in printed["files"]}
    assert names == {
        "eval.tf_record",
        "eval.tf_record.index",
        "eval.schema.json",
        "squad_eval.json",
        "manifest.json",
    }
    assert all(Path(p).exists() for p in printed["files"])


def test_cli_summary_table(uncased_vocab: Path, tmp_path: Path) -> None:
    result = prep_squad_cli(SAMPLE, uncased_vocab, tmp_path, "eval", "--workers", "1")
    assert result.exit_code == 0, result.output
    for needle in (
        "examples",
        "features",
        "skipped answers",
        "truncated questions",
        "windows per example",
    ):
        assert needle in result.output


def test_eval_sidecar_round_trip(uncased_vocab: Path, tmp_path: Path) -> None:
    result = convert(SAMPLE, uncased_vocab, tmp_path, split="eval")
    data = load_squad_eval_data(tmp_path)
    assert data.input_path == str(SAMPLE.resolve())
    assert (data.do_lower_case, data.version_2_with_negative, data.max_seq_length) == (
        True,
        False,
        384,
    )
    assert len(data.examples) == 72 and len(data.features) == result.num_features
    gold = json.loads(SAMPLE.read_text())
    first = gold["data"][0]["paragraphs"][0]["qas"][0]
    assert data.examples[0].qas_id == first["id"]
    assert data.examples[0].answers == [a["text"] for a in first["answers"]]
    records = list(read_records(result.record_path))
    for feature, record in zip(data.features, records):
        assert feature.unique_id == record["unique_ids"][0]
        ids = record["input_ids"][: int(record["input_mask"].sum())].tolist()
        assert len(feature.tokens) == len(ids)
        assert feature.tokens[0] == "[CLS]" and feature.tokens[-1] == "[SEP]"


def test_interrupt_mid_run_leaves_nothing_complete_looking(
    uncased_vocab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    convert(SAMPLE, uncased_vocab, out, split="eval")  # a previous complete run
    assert (out / "manifest.json").exists()

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(squad_convert, "save_squad_eval_sidecar", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert(SAMPLE, uncased_vocab, out, split="eval")
    # The interrupted run published nothing: the previous set is untouched, and consistent.
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_crash_while_writing_records_leaves_no_record_file(
    uncased_vocab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bertkit.tfrecord import TFRecordWriter

    def crash(self: Any, columns: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(TFRecordWriter, "write_batch", crash)
    with pytest.raises(RuntimeError):
        convert(SAMPLE, uncased_vocab, tmp_path / "out", split="eval")
    assert not (tmp_path / "out").exists()  # a failed first run leaves no directory


# --- building blocks against Google's functions -------------------------------------------

WHITESPACE_HEAVY = st.text(alphabet=st.sampled_from(list("ab \t\n\r\u202f\u00a0é.")), max_size=40)


@given(WHITESPACE_HEAVY)
@settings(max_examples=200, deadline=None)
def test_doc_tokens_and_char_offsets_match_google_reader(context: str) -> None:
    """Google's character loop (A.2), restated: doc tokens and char_to_word_offset."""
    doc_tokens: list[str] = []
    offsets: list[int] = []
    previous_space = True
    for char in context:
        if char in " \t\r\n\u202f":
            previous_space = True
        else:
            if previous_space:
                doc_tokens.append(char)
            else:
                doc_tokens[-1] += char
            previous_space = False
        offsets.append(len(doc_tokens) - 1)
    tokens, starts = split_doc_tokens(context)
    assert tokens == doc_tokens
    assert [word_of_char(starts, i) for i in range(len(context))] == offsets


@given(st.integers(0, 300), st.integers(1, 60), st.integers(1, 80))
@settings(max_examples=150, deadline=None)
def test_windows_and_max_context_match_google(
    num_pieces: int, max_tokens: int, stride: int
) -> None:
    from google_oracle import google_run_squad

    run_squad = google_run_squad()
    spans = doc_spans(num_pieces, max_tokens, stride)
    owner = max_context_owner(num_pieces, max_tokens, stride)
    flags = max_context_flags(num_pieces, max_tokens, stride)

    class Span:
        def __init__(self, start: int, length: int):
            self.start, self.length = start, length

    google_spans = [Span(s, n) for s, n in spans]
    covered = sorted({p for s, n in spans for p in range(s, s + n)})
    assert covered == list(range(num_pieces))
    for index, (start, length) in enumerate(spans):
        assert 0 < length <= max_tokens
        for position in range(start, start + length):
            google = run_squad._check_is_max_context(google_spans, index, position)
            assert (owner[position] == index) == google
            assert (flags[index][position - start] == "1") == google


@given(st.integers(0, 1500), st.integers(1, 520), st.integers(1, 520))
@settings(max_examples=400, deadline=None)
def test_max_context_flags_by_runs_equal_the_per_piece_owner(
    num_pieces: int, max_tokens: int, stride: int
) -> None:
    """`max_context_flags` finds each window's run of owned pieces with a few scalar
    comparisons; it must equal the owner computed over every (window, piece) pair, on
    paragraph sizes of real Chinese files too (hundreds of pieces, several windows)."""
    spans = doc_spans(num_pieces, max_tokens, stride)
    owner = max_context_owner(num_pieces, max_tokens, stride)
    expected = tuple("".join("1" if owner[p] == index else "0" for p in range(s, s + n))
                     for index, (s, n) in enumerate(spans))
    assert max_context_flags(num_pieces, max_tokens, stride) == expected


PIECES = st.lists(st.sampled_from(["a", "b", "##c", "(", ")", "d"]), max_size=12)


@given(PIECES, PIECES, st.data())
@settings(max_examples=200, deadline=None)
def test_improve_answer_span_matches_google(
    pieces: list[str], answer: list[str], data: Any
) -> None:
    from google_oracle import google_run_squad

    run_squad = google_run_squad()
    if not pieces:
        return
    start = data.draw(st.integers(0, len(pieces) - 1))
    end = data.draw(st.integers(start, len(pieces) - 1))

    class FixedTokenizer:
        def tokenize(self, text: str) -> list[str]:
            return list(answer)

    expected = run_squad._improve_answer_span(pieces, start, end, FixedTokenizer(), "unused")
    assert improve_answer_span(pieces, start, end, answer) == expected


def test_a_real_run_imports_neither_torch_nor_tensorflow(
    uncased_vocab: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from bertkit.cli import app\n"
        f"argv = ['prep', 'squad', {str(SAMPLE)!r}, '--vocab', {str(uncased_vocab)!r}, '-o', "
        f"{str(tmp_path)!r}, '--split', 'eval', '--workers', '2', '--json']\n"
        "try:\n    app(argv, prog_name='bertkit', standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "print(json.dumps({m: m in sys.modules for m in ('torch', 'tensorflow')}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == {
        "torch": False,
        "tensorflow": False,
    }
    assert (tmp_path / "manifest.json").exists()


def test_sentencepiece_model_stands_in_for_vocab(shared_data: Path, tmp_path: Path) -> None:
    from conftest import SPM_MODEL

    result = prep_squad(
        SAMPLE,
        tmp_path,
        SquadPrepOptions(split="eval", do_lower_case=False),
        spm_model=SPM_MODEL,
        workers=1,
    )
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["options"]["spm_model"] == str(SPM_MODEL)
    data = load_squad_eval_data(tmp_path)
    record = next(read_records(result.record_path))
    tokenizer = load_tokenizer(spm_model=SPM_MODEL, do_lower_case=False)
    assert record["input_ids"][
        : len(data.features[0].tokens)
    ].tolist() == tokenizer.convert_tokens_to_ids(data.features[0].tokens)


COMPLETE_EVAL_SET = ["eval.schema.json", "eval.tf_record", "eval.tf_record.index",
                     "manifest.json", "squad_eval.json"]
# Phases of a real run, each recognised by the files under the output directory (what the
# run itself writes: its files are staged in a hidden `.staging-PID/` folder and published by
# the commit), so the signal lands at a known point instead of after a guessed sleep. Names
# are paths relative to the output directory.
CTRL_C_PHASES = {
    # records are being written under a temporary name; nothing is final yet
    "writing-records": lambda names: any(Path(n).name.startswith(".eval.tf_record.tmp")
                                         for n in names),
    # the records are complete in the staging folder, the sidecar is still to come: the
    # staged set must go
    "writing-sidecar": lambda names: any(Path(n).name == "eval.tf_record" and
                                         Path(n).parent.name.startswith(".staging-")
                                         for n in names) and "manifest.json" not in names,
    # committed: the manifest is in place; a late Ctrl-C leaves the complete set
    "committed": lambda names: "manifest.json" in names,
}


def _names_under(out: Path) -> list[str]:
    """Every path under ``out``, relative to it; the run renames files while we look."""
    while True:
        try:
            return [str(p.relative_to(out)) for p in out.rglob("*")] if out.is_dir() else []
        except FileNotFoundError:
            continue  # a folder vanished mid-walk (the commit or a cleanup): look again


@pytest.mark.parametrize("phase", list(CTRL_C_PHASES))
def test_real_ctrl_c_leaves_complete_output_or_nothing(
    shared_data: Path, uncased_vocab: Path, tmp_path: Path, phase: str
) -> None:
    """SIGINT to the whole process group (what a terminal's Ctrl-C does) once the run has
    reached ``phase``: before the commit nothing final-named is left and the exit is 130 with
    one line; after it, the complete set stays."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    bertkit = Path(sys.executable).with_name("bertkit")
    process = subprocess.Popen(
        [
            str(bertkit),
            "prep",
            "squad",
            str(shared_data / "squad_v1.1" / "dev-v1.1.json"),
            "--vocab",
            str(uncased_vocab),
            "-o",
            str(out),
            "--split",
            "eval",
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # A background child may inherit SIGINT ignored; restore the default so Python
        # installs its KeyboardInterrupt handler as it does in a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    reached = CTRL_C_PHASES[phase]
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if reached(_names_under(out)):
            os.killpg(process.pid, signal.SIGINT)
            break
        time.sleep(0.002)
    else:
        process.kill()
        process.communicate()
        pytest.fail(f"the run ended (exit {process.returncode}) before phase {phase} was seen")
    _, stderr = process.communicate(timeout=120)
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    if phase == "committed":
        assert left == COMPLETE_EVAL_SET
        assert process.returncode in (0, 130), stderr  # finishing or interrupted while printing
    else:
        assert left == [], left  # the final-named files already in place were removed too
        assert process.returncode == 130, stderr
        lines = [line for line in stderr.decode().splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in stderr.decode(), stderr


@given(st.integers(min_value=0, max_value=len(SAMPLE.read_bytes()) - 1))
@settings(max_examples=60, deadline=None)
def test_any_truncation_is_an_input_error_with_line_and_column(cut: int) -> None:
    import tempfile

    from bertkit.prep.squad.reader import load_json, read_squad_data

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "cut.json"
        path.write_bytes(SAMPLE.read_bytes()[:cut])
        with pytest.raises(InputError) as error:
            read_squad_data(load_json(path), path, is_training=False, version_2_with_negative=False)
    assert re.fullmatch(rf"{re.escape(str(path))}:\d+:\d+: invalid JSON: .*", str(error.value))


def test_sample_readme_command_runs_as_written(tmp_path: Path) -> None:
    """The bundled sample's README command (with the bundled vocab) converts the sample."""
    package = SAMPLE.parents[2]
    readme = (SAMPLE.parent / "README.md").read_text(encoding="utf-8")
    command = re.search(r"bertkit (prep squad .*?)\n\S", readme, re.DOTALL).group(1)
    argv = command.replace("\\\n", " ").split()
    argv = [str(package.parent / arg) if arg.startswith("bertkit/") else arg for arg in argv]
    argv[argv.index("-o") + 1] = str(tmp_path)
    result = runner.invoke(app, [*argv, "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["counts"]["examples"] == 72
    assert manifest["counts"]["features"] == 72
