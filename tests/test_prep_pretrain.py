"""`bertkit prep pretrain`: identity with Google's create_pretraining_data, shards, WWM, errors."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.prep.pretrain import PretrainOptions, create_pretraining_data, shard_seed
from bertkit.prep.pretrain.instances import (
    CONTINUATION,
    MersenneTwister,
    candidate_groups,
    randbelow,
    shuffle_exact,
    shuffle_prefix,
)
from bertkit.tfrecord import read_records

runner = CliRunner()
FEATURES = ["input_ids", "input_mask", "masked_lm_ids", "masked_lm_positions",
            "masked_lm_weights", "next_sentence_labels", "segment_ids"]


@pytest.fixture(scope="session")
def sample_text(shared_data: Path) -> Path:
    return shared_data / "pretrain" / "sample_text.txt"


def records_of(path: Path) -> list[dict[str, np.ndarray]]:
    return [{name: np.asarray(value) for name, value in record.items()}
            for record in read_records(path)]


def assert_same_records(ours: Path, google: Path) -> int:
    mine, theirs = records_of(ours), records_of(google)
    assert len(mine) == len(theirs) > 0
    for number, (a, b) in enumerate(zip(mine, theirs)):
        assert sorted(a) == sorted(b) == FEATURES
        for name in FEATURES:
            assert a[name].dtype == b[name].dtype, (number, name)
            assert np.array_equal(a[name], b[name]), (number, name)
    return len(mine)


def google_file(tmp_path: Path, corpus: Path, vocab: Path, **flags) -> Path:
    from google_oracle import google_pretraining_file

    out = tmp_path / "google.tf_record"
    google_pretraining_file(str(corpus), str(out), str(vocab), **flags)
    return out


def ours(tmp_path: Path, corpus: Path | list[Path], vocab: Path, name: str = "ours",
         workers: int = 1, **flags):
    inputs = corpus if isinstance(corpus, list) else [corpus]
    return create_pretraining_data(inputs, tmp_path / name,
                                   PretrainOptions(vocab=str(vocab), **flags), workers=workers)


# ---------------------------------------------------------------- identity with Google


@pytest.mark.parametrize("flags", [
    {},
    {"max_seq_length": 512, "max_predictions_per_seq": 80},
    {"dupe_factor": 3, "random_seed": 7, "short_seq_prob": 0.5, "masked_lm_prob": 0.3},
])
def test_sample_text_records_equal_googles(sample_text, uncased_vocab, tmp_path, flags) -> None:
    result = ours(tmp_path, sample_text, uncased_vocab, **flags)
    assert [path.name for path in result.files] == ["pretrain-00000-of-00001.tf_record"]
    count = assert_same_records(result.files[0],
                                google_file(tmp_path, sample_text, uncased_vocab, **flags))
    assert result.counts["instances"] == count
    assert result.counts["documents"] == 3 and result.counts["sentences"] == 31


@pytest.fixture(scope="session")
def squad_corpus(shared_data: Path, tmp_path_factory) -> Path:
    from pretrain_corpora import squad_contexts_corpus

    return squad_contexts_corpus(shared_data, tmp_path_factory.mktemp("squad") / "squad.txt")


@pytest.mark.oracle  # Google's script on the 1.6 MB SQuAD-contexts corpus (about 2 min)
@pytest.mark.parametrize("flags", [
    {},
    {"max_seq_length": 512, "max_predictions_per_seq": 80},
])
def test_squad_contexts_records_equal_googles(squad_corpus, uncased_vocab, tmp_path,
                                              flags) -> None:
    result = ours(tmp_path, squad_corpus, uncased_vocab, **flags)
    count = assert_same_records(result.files[0],
                                google_file(tmp_path, squad_corpus, uncased_vocab, **flags))
    assert count > 10_000


def _bytes_with_and_without_the_accelerator(tmp_path: Path, corpus: Path, vocab: Path,
                                            monkeypatch, **flags) -> list[bytes]:
    outputs = []
    for pure in ("1", "0"):
        monkeypatch.setenv("BERTKIT_PURE_PYTHON", pure)
        result = ours(tmp_path, corpus, vocab, name=f"pure-{pure}", **flags)
        outputs.append(result.files[0].read_bytes())
    return outputs


needs_accelerator = pytest.mark.skipif(
    MersenneTwister is None, reason="the C accelerator is not built "
    "(tests/test_prep_pretrain_accelerator.py says whether it should be)")


@needs_accelerator
@pytest.mark.parametrize("flags", [
    {},
    {"max_seq_length": 512, "max_predictions_per_seq": 80},
    {"whole_word_mask": "wordpiece", "dupe_factor": 3, "random_seed": 7},
])
def test_sample_text_bytes_are_the_same_with_and_without_the_accelerator(
        sample_text, uncased_vocab, tmp_path, monkeypatch, flags) -> None:
    pure, compiled = _bytes_with_and_without_the_accelerator(tmp_path, sample_text,
                                                             uncased_vocab, monkeypatch, **flags)
    assert len(pure) > 10_000 and compiled == pure


@needs_accelerator
@pytest.mark.parametrize("flags", [{}, {"whole_word_mask": "wordpiece", "dupe_factor": 2}])
def test_squad_contexts_bytes_are_the_same_with_and_without_the_accelerator(
        squad_corpus, uncased_vocab, tmp_path, monkeypatch, flags) -> None:
    # The records are Google's on this corpus (the oracle test above, with the default path).
    pure, compiled = _bytes_with_and_without_the_accelerator(tmp_path, squad_corpus,
                                                             uncased_vocab, monkeypatch, **flags)
    assert len(pure) > 5_000_000 and compiled == pure


def test_uncased_off_and_a_short_corpus_equal_googles(uncased_vocab, tmp_path) -> None:
    # One-sentence documents (random next only), a document of whitespace-only lines,
    # Unicode spaces that str.strip() removes, a line that tokenizes to nothing.
    corpus = tmp_path / "odd.txt"
    corpus.write_text("Hello World.\n\n\u3000\n\x1c\nOne line only, Sir!\n\n\x07\x08\n"
                      "Another DOCUMENT here.\nIts second sentence.\n", encoding="utf-8")
    flags = {"do_lower_case": False, "dupe_factor": 4}
    result = ours(tmp_path, corpus, uncased_vocab, **flags)
    assert_same_records(result.files[0], google_file(tmp_path, corpus, uncased_vocab, **flags))
    assert result.counts["documents"] == 3


def test_shuffle_exact_is_random_shuffle() -> None:
    for size in (0, 1, 2, 3, 17, 128, 511, 5000):
        a, b = random.Random(size), random.Random(size)
        items_a, items_b = list(range(size)), list(range(size))
        shuffle_exact(a, items_a)
        b.shuffle(items_b)
        assert items_a == items_b
        assert a.random() == b.random()


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**64), size=st.integers(0, 700), count=st.integers(0, 130))
def test_shuffle_prefix_is_the_head_of_random_shuffle(seed, size, count) -> None:
    # Sizes past the step table (4096) take shuffle_exact; the test above covers 5000.
    a, b = random.Random(seed), random.Random(seed)
    items_a, items_b = list(range(size)), list(range(size))
    shuffle_prefix(a, items_a, count)
    b.shuffle(items_b)
    assert items_a[:count] == items_b[:count]
    assert a.getstate() == b.getstate()  # the same number of draws


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**64), low=st.integers(-5, 5), width=st.integers(1, 2**40))
def test_randbelow_is_randint(seed, low, width) -> None:
    a, b = random.Random(seed), random.Random(seed)
    assert low + randbelow(a.getrandbits, width) == b.randint(low, low + width - 1)
    assert a.getstate() == b.getstate()


# ---------------------------------------------------------------- records and schema


def test_records_follow_the_layout_and_schema(sample_text, uncased_vocab, tmp_path) -> None:
    result = ours(tmp_path, sample_text, uncased_vocab)
    record_file = result.files[0]
    schema = json.loads((tmp_path / "ours" / "pretrain-00000-of-00001.schema.json").read_text())
    assert schema["columns"]["masked_lm_weights"] == {"type": "float32", "rank": 1,
                                                       "shape": [20]}
    assert schema["columns"]["input_ids"]["shape"] == [128]
    assert schema["numRows"] == result.counts["instances"]
    index_lines = (record_file.parent / (record_file.name + ".index")).read_text().splitlines()
    assert len(index_lines) == result.counts["instances"]
    masked = 0
    for record in records_of(record_file):
        real = int(record["input_mask"].sum())
        weights = record["masked_lm_weights"]
        n = int(weights.sum())
        masked += n
        assert record["masked_lm_weights"].dtype == np.float32
        assert list(weights) == [1.0] * n + [0.0] * (20 - n)
        positions = record["masked_lm_positions"][:n]
        assert list(positions) == sorted(positions) and 0 < positions.min()
        assert positions.max() < real
    manifest = json.loads((tmp_path / "ours" / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert manifest["counts"]["masked_positions"] == masked
    assert 0 < manifest["counts"]["random_next_share"] < 1
    assert manifest["shards"][0]["sha256"] == result.shards[0].sha256


# ---------------------------------------------------------------- shards and workers


@pytest.fixture
def three_shards(sample_text, tmp_path) -> list[Path]:
    documents = sample_text.read_text(encoding="utf-8").split("\n\n")
    paths = []
    for index in range(3):
        path = tmp_path / "corpus" / f"part-{index}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n\n".join(documents[:index + 1] + documents[index:]),
                        encoding="utf-8")
        paths.append(path)
    return paths


def shard_bytes(result) -> list[bytes]:
    return [path.read_bytes() for path in result.files]


def test_workers_give_the_same_bytes_and_each_shard_is_googles_run(
        three_shards, uncased_vocab, tmp_path) -> None:
    one = ours(tmp_path, three_shards, uncased_vocab, "one", workers=1, dupe_factor=2)
    # A directory input; the output directory inside it is not read back as input, so a
    # second run into it sees the same three files.
    corpus_dir = three_shards[0].parent
    options = PretrainOptions(vocab=str(uncased_vocab), dupe_factor=2)
    two = create_pretraining_data([corpus_dir], corpus_dir / "two", options, workers=2)
    assert [p.name for p in one.files] == [f"pretrain-0000{i}-of-00003.tf_record"
                                           for i in range(3)]
    assert shard_bytes(one) == shard_bytes(two)
    again = create_pretraining_data([corpus_dir], corpus_dir / "two", options, workers=2)
    assert shard_bytes(again) == shard_bytes(one)
    assert len(set(shard_bytes(one))) == 3
    # Shard 2 is Google's script on input file 2 with the derived seed.
    seed = shard_seed(12345, 2)
    assert seed != 12345
    assert_same_records(one.files[2], google_file(tmp_path, three_shards[2], uncased_vocab,
                                                  dupe_factor=2, random_seed=seed))


def test_cli_runs_and_resume_redoes_only_damaged_shards(three_shards, uncased_vocab,
                                                        tmp_path) -> None:
    out = tmp_path / "out"
    args = ["prep", "pretrain", str(three_shards[0].parent / "*.txt"), "--vocab",
            str(uncased_vocab), "-o", str(out), "--dupe-factor", "2", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    manifest = json.loads(first.stdout)
    assert [shard["index"] for shard in manifest["shards"]] == [0, 1, 2]
    original = {path.name: path.read_bytes() for path in sorted(out.glob("*.tf_record"))}
    (out / "pretrain-00001-of-00003.tf_record").write_bytes(b"damaged")
    resumed = runner.invoke(app, [*args[:-1], "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "shards resumed" in resumed.output
    assert {path.name: path.read_bytes() for path in sorted(out.glob("*.tf_record"))} == original
    again = runner.invoke(app, [*args, "--resume"])
    assert json.loads(again.stdout) == manifest
    # A shard whose schema went missing is redone, so every file the manifest lists exists.
    from bertkit.tfrecord import schema_path_for

    schema = schema_path_for(out / "pretrain-00002-of-00003.tf_record")
    schema.unlink()
    redone = runner.invoke(app, [*args, "--resume"])
    assert json.loads(redone.stdout) == manifest
    assert schema.is_file()
    other = runner.invoke(app, [*args, "--resume", "--dupe-factor", "3"])
    assert other.exit_code == 2 and "--resume" in other.output


def test_a_second_writer_into_the_same_output_fails_at_once(three_shards, uncased_vocab,
                                                           tmp_path) -> None:
    """Issue 11 item 5 for prep pretrain: one writer per -o, the other gets one line."""
    from bertkit.prep.staging import locked_output

    out = tmp_path / "out"
    args = ["prep", "pretrain", str(three_shards[0]), "--vocab", str(uncased_vocab), "-o",
            str(out), "--dupe-factor", "1"]
    with locked_output(out):
        busy = runner.invoke(app, args)
    assert busy.exit_code == 1
    assert busy.output.strip().splitlines() == [
        f"error: {out}: another bertkit run is writing to this directory; wait for it to "
        "finish, or choose another -o"]
    assert runner.invoke(app, args).exit_code == 0


def test_interrupt_leaves_no_shard_under_a_final_name(three_shards, uncased_vocab, tmp_path,
                                                      monkeypatch) -> None:
    from bertkit.prep.pretrain import records

    real_write = records.TFRecordWriter.write_batch
    calls = {"n": 0}

    def interrupted(self, columns):
        calls["n"] += 1
        if "00001" in self.path.name:
            raise KeyboardInterrupt
        return real_write(self, columns)

    monkeypatch.setattr(records.TFRecordWriter, "write_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ours(tmp_path, three_shards, uncased_vocab, "out", dupe_factor=1)
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert "pretrain-00001-of-00003.tf_record" not in names
    assert not [name for name in names if name.startswith(".")]  # no temp or spill file
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] is False and [s["index"] for s in manifest["shards"]] == [0]


def test_dask_local_cluster_gives_the_same_bytes(three_shards, uncased_vocab, tmp_path) -> None:
    import distributed
    local = ours(tmp_path, three_shards, uncased_vocab, "local", dupe_factor=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_dask = create_pretraining_data(
            three_shards, tmp_path / "dask", PretrainOptions(vocab=str(uncased_vocab),
                                                             dupe_factor=2),
            dask_scheduler=cluster.scheduler_address)
    assert shard_bytes(local) == shard_bytes(on_dask)


# ---------------------------------------------------------------- input formats


def test_wikiextractor_docs_and_blank_lines_make_the_same_documents(uncased_vocab,
                                                                    tmp_path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("Title one\nFirst sentence.\nSecond one.\n\nTitle two\nMore text.\n",
                     encoding="utf-8")
    wiki = tmp_path / "wiki.txt"
    wiki.write_text('<doc id="1" url="u" title="Title one">\nTitle one\nFirst sentence.\n'
                    'Second one.\n</doc>\n<doc id="2" url="v" title="Title two">\nTitle two\n'
                    'More text.\n</doc>\n', encoding="utf-8")
    a = ours(tmp_path, plain, uncased_vocab, "plain", dupe_factor=3)
    b = ours(tmp_path, wiki, uncased_vocab, "wiki", dupe_factor=3)
    assert a.counts["documents"] == b.counts["documents"] == 2
    assert shard_bytes(a) == shard_bytes(b)


def test_sentence_split_en_and_zh() -> None:
    from bertkit.prep.pretrain.corpus import split_sentences

    assert split_sentences('He left. "Why?" she asked. Mr. Smith stayed! ok', "en") == [
        "He left.", '"Why?" she asked.', "Mr.", "Smith stayed! ok"]
    assert split_sentences("他来了。“你好！”她说；然后走了？好", "zh") == [
        "他来了。", "“你好！”", "她说；", "然后走了？", "好"]


# ---------------------------------------------------------------- whole-word masking


def test_wordpiece_wwm_masks_whole_words_only(squad_corpus, uncased_vocab, tmp_path) -> None:
    from bertkit.tokenization import load_tokenizer

    tokenizer = load_tokenizer(vocab=uncased_vocab)
    result = ours(tmp_path, squad_corpus, uncased_vocab, dupe_factor=1,
                  whole_word_mask="wordpiece")
    words_split = 0
    for record in records_of(result.files[0]):
        n = int(record["masked_lm_weights"].sum())
        masked = set(record["masked_lm_positions"][:n].tolist())
        length = int(record["input_mask"].sum())
        assert n <= min(20, max(1, round(length * 0.15)))
        tokens = tokenizer.convert_ids_to_tokens(record["input_ids"][:length])
        labels = tokenizer.convert_ids_to_tokens(record["masked_lm_ids"][:n])
        original = list(tokens)
        for position, label in zip(sorted(masked), labels):
            original[position] = label
        # A ## piece is masked exactly when the piece before it (its word) is, unless the
        # piece before is [SEP] or [CLS] (Google then joins the group before the [SEP]).
        for position in range(1, length):
            if original[position].startswith("##") and original[position - 1] not in (
                    "[SEP]", "[CLS]"):
                assert (position in masked) == (position - 1 in masked), (tokens, position)
                words_split += position in masked
    assert words_split > 100  # the corpus exercised multi-piece words


@pytest.fixture(scope="session")
def chinese_corpus(shared_data: Path, tmp_path_factory) -> Path:
    from pretrain_corpora import contexts, write_corpus

    paragraphs = contexts(shared_data / "cmrc2018" / "cmrc2018_dev.json")[:150]
    paragraphs += contexts(shared_data / "drcd" / "DRCD_dev.json")[:150]
    return write_corpus(paragraphs, "zh", tmp_path_factory.mktemp("zh") / "zh.txt")


def test_jieba_groups_are_jieba_words_and_labels_are_real_characters(
        chinese_corpus, chinese_vocab, tmp_path) -> None:
    import jieba

    from bertkit.prep.pretrain.corpus import read_shard_text
    from bertkit.prep.pretrain.wwm import segments_jieba
    from bertkit.tokenization import load_tokenizer
    from bertkit.tokenization.reference import is_cjk

    tokenizer = load_tokenizer(vocab=chinese_vocab)
    corpus = read_shard_text(chinese_corpus, None)
    texts = list(corpus.texts)
    segments, _fallbacks = segments_jieba(tokenizer, corpus)
    long_words = 0
    for text, segment in zip(texts, segments):
        words = {word.lower() for word in jieba.cut(text)}
        for group in candidate_groups(list(segment), tokenizer.cls_id, tokenizer.sep_id):
            pieces = tokenizer.convert_ids_to_tokens(
                [segment[i] & (CONTINUATION - 1) for i in group])
            joined = "".join(piece[2:] if piece.startswith("##") else piece
                             for piece in pieces)
            if len(group) > 1 and all(len(p) == 1 and is_cjk(ord(p)) for p in pieces):
                assert joined in words, (text, joined)
                long_words += len(group) >= 4
    assert long_words > 20  # words of four and more characters are grouped too

    result = ours(tmp_path, chinese_corpus, chinese_vocab, dupe_factor=1,
                  whole_word_mask="jieba")
    plain = ours(tmp_path, chinese_corpus, chinese_vocab, "plain", dupe_factor=1)
    assert result.counts["wwm_fallbacks"] > 0  # mixed words such as "3月" were counted
    masked = tokens = 0
    for record in records_of(result.files[0]):
        n = int(record["masked_lm_weights"].sum())
        labels = tokenizer.convert_ids_to_tokens(record["masked_lm_ids"][:n])
        assert not any(label.startswith("##") and is_cjk(ord(label[2]))
                       for label in labels if len(label) == 3)
        masked += n
        tokens += int(record["input_mask"].sum())
    plain_masked = plain.counts["masked_positions"]
    plain_tokens = sum(int(r["input_mask"].sum()) for r in records_of(plain.files[0]))
    assert abs(masked / tokens - plain_masked / plain_tokens) < 0.01


def test_ref_file_groups_the_listed_pieces(chinese_vocab, tmp_path) -> None:
    corpus = tmp_path / "zh.txt"
    corpus.write_text("北京大学在海淀区。\n我们喜欢自然语言处理。\n\n今天天气很好。\n",
                      encoding="utf-8")
    ref = tmp_path / "ref.txt"
    ref.write_text("[2, 3, 4, 7]\n[2, 4, 6, 8, 10]\n\n[2, 4]\n", encoding="utf-8")
    from bertkit.prep.pretrain.corpus import read_shard_text
    from bertkit.prep.pretrain.wwm import segments_ref
    from bertkit.tokenization import load_tokenizer

    tokenizer = load_tokenizer(vocab=chinese_vocab)
    segments = segments_ref(tokenizer, read_shard_text(corpus, None), ref)
    groups = candidate_groups(list(segments[0]), tokenizer.cls_id, tokenizer.sep_id)
    assert groups == [[0, 1, 2, 3], [4], [5, 6], [7], [8]]  # 北京大学 在 海淀 区 。
    assert [len(g) for g in candidate_groups(list(segments[2]), -1, -1)] == [2, 2, 1, 1, 1]
    result = ours(tmp_path, corpus, chinese_vocab, dupe_factor=2, whole_word_mask=f"ref:{ref}")
    assert result.counts["instances"] > 0
    bad = tmp_path / "bad_ref.txt"
    bad.write_text("[2, 30]\n[]\n[]\n", encoding="utf-8")
    cli = runner.invoke(app, ["prep", "pretrain", str(corpus), "--vocab", str(chinese_vocab),
                              "-o", str(tmp_path / "bad"), "--whole-word-mask", f"ref:{bad}"])
    assert cli.exit_code == 1
    assert "token index 30 is outside the line's 9 tokens" in cli.output
    undecodable = tmp_path / "bad_utf8_ref.txt"
    undecodable.write_bytes(b"[2, 3]\n[2\xff]\n[]\n")
    line = one_line_error(runner.invoke(app, [
        "prep", "pretrain", str(corpus), "--vocab", str(chinese_vocab),
        "-o", str(tmp_path / "bad_utf8"), "--whole-word-mask", f"ref:{undecodable}"]), 1)
    assert "bad_utf8_ref.txt:2: not UTF-8" in line  # the line is named, as for the corpus


# ---------------------------------------------------------------- bad input and options


def run_cli(*args: str):
    return runner.invoke(app, ["prep", "pretrain", *args])


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    return lines[0]


@pytest.mark.parametrize("content,expected", [
    (b"", "empty.txt: no text"),
    (b"\n\n  \n\n", "empty.txt: no text"),
    (b"Some text.\n\x00\x01\x02 binary\n", "empty.txt:2: binary file (NUL character)"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\xb7\x00\xff\xfe", "empty.txt:1: binary file"),
    (b"fine\n\xff\xfe bad bytes\n", "empty.txt:2: not UTF-8 (invalid start byte)"),
])
def test_bad_corpus_is_one_line_and_exit_1(content, expected, uncased_vocab, tmp_path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    line = one_line_error(run_cli(str(path), "--vocab", str(uncased_vocab),
                                  "-o", str(tmp_path / "out")), 1)
    assert expected in line
    assert not (tmp_path / "out").exists()


def test_unreadable_corpus_keeps_the_readers_error(tmp_path, monkeypatch) -> None:
    """The binary-file probe that follows a failed read must not raise its own OSError
    (a traceback) for a file it cannot open: the reader's one-line error stands."""
    from bertkit.errors import InputError
    from bertkit.prep.pretrain import corpus

    path = tmp_path / "locked.txt"
    path.write_bytes(b"text\n")

    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    def reader(p):
        raise InputError(p, "cannot read: Permission denied")

    monkeypatch.setattr(corpus, "read_input_text", reader)
    monkeypatch.setattr(corpus, "open", unreadable, raising=False)
    with pytest.raises(InputError, match="cannot read: Permission denied"):
        corpus.read_shard_text(path, None)


def test_vocab_without_mask_is_one_line_and_exit_1(sample_text, uncased_vocab,
                                                   tmp_path) -> None:
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(line + "\n" for line in
                             uncased_vocab.read_text(encoding="utf-8").splitlines()
                             if line != "[MASK]"), encoding="utf-8")
    line = one_line_error(run_cli(str(sample_text), "--vocab", str(vocab),
                                  "-o", str(tmp_path / "out")), 1)
    assert "vocab.txt: vocab has no [MASK] token" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options,expected", [
    (["--masked-lm-prob", "0"], "--masked-lm-prob must be in (0, 1), got 0.0"),
    (["--masked-lm-prob", "1.5"], "--masked-lm-prob must be in (0, 1), got 1.5"),
    (["--max-seq-length", "16", "--max-predictions-per-seq", "20"],
     "--max-predictions-per-seq must be between 1 and 13"),
    (["--whole-word-mask", "words"], "--whole-word-mask must be none, wordpiece, jieba"),
    (["--sentence-split", "fr"], "--sentence-split must be en or zh"),
])
def test_option_errors_exit_2_before_reading(options, expected, uncased_vocab,
                                             tmp_path) -> None:
    missing = tmp_path / "not-there.txt"  # never read: options are checked first
    line = one_line_error(run_cli(str(missing), "--vocab", str(uncased_vocab),
                                  "-o", str(tmp_path / "out"), *options), 2)
    assert expected in line
    assert not (tmp_path / "out").exists()


def test_prep_pretrain_imports_neither_torch_nor_tensorflow(sample_text, uncased_vocab,
                                                            tmp_path) -> None:
    script = textwrap.dedent(f"""
        import json, sys
        from bertkit.cli import app
        try:
            app(["prep", "pretrain", {str(sample_text)!r}, "--vocab", {str(uncased_vocab)!r},
                 "-o", {str(tmp_path / "out")!r}, "--dupe-factor", "1"],
                prog_name="bertkit", standalone_mode=False)
        except SystemExit:
            pass
        print(json.dumps({{name: name in sys.modules for name in ("torch", "tensorflow")}}))
        """)
    completed = subprocess.run([sys.executable, "-c", script], check=False,
                               capture_output=True, text=True, timeout=300)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == {
        "torch": False, "tensorflow": False}
    assert (tmp_path / "out" / "pretrain-00000-of-00001.tf_record").exists()


def test_inspect_marks_the_masked_positions(sample_text, uncased_vocab, tmp_path) -> None:
    result = ours(tmp_path, sample_text, uncased_vocab, dupe_factor=1)
    shown = runner.invoke(app, ["inspect", str(result.files[0]), "--vocab", str(uncased_vocab),
                                "-n", "2", "--json"])
    assert shown.exit_code == 0, shown.output
    first_records = json.loads(shown.stdout)["first_records"]
    for shown_record, record in zip(first_records, records_of(result.files[0])):
        n = int(record["masked_lm_weights"].sum())
        marked = [token for token in shown_record["masked_tokens"] if token.startswith("{")]
        labels = [token.rsplit("->", 1)[1][:-1] for token in marked]
        assert len(marked) == n
        assert labels == load_labels(uncased_vocab, record["masked_lm_ids"][:n])


def load_labels(vocab: Path, ids) -> list[str]:
    from bertkit.tokenization import load_tokenizer

    return load_tokenizer(vocab=vocab).convert_ids_to_tokens(ids)


def test_a_literal_cls_or_sep_inside_a_segment_is_never_a_candidate() -> None:
    # A tokenizer that keeps [CLS]/[SEP] as ids: Google's loop skips those positions, so
    # the offset fast path (which assumes plain segments) must not be taken.
    from bertkit.prep.pretrain.instances import (
        MaskingRules,
        ShardTokens,
        create_instances,
        new_generator,
    )

    cls_id, sep_id, mask_id = 101, 102, 103
    segments = [[5, 6, sep_id, 7], [8, cls_id, 9, 10, 11], [12, 13], [14, sep_id, 15]]
    ids = np.array([token for segment in segments for token in segment], dtype=np.int32)
    bounds, offset = [0], 0
    for segment in segments:
        offset += len(segment)
        bounds.append(offset)
    rules = MaskingRules(max_seq_length=12, max_predictions_per_seq=9, masked_lm_prob=0.9,
                         short_seq_prob=0.1, cls_id=cls_id, sep_id=sep_id, mask_id=mask_id,
                         random_word_ids=tuple(range(200, 230)), whole_word=False)

    class Recorder:
        def __init__(self) -> None:
            self.masked: list[int] = []

        def add(self, a_begin, a_end, b_begin, b_end, positions, replacements,
                is_random_next) -> None:
            tokens = [cls_id, *ids[a_begin:a_end], sep_id, *ids[b_begin:b_end], sep_id]
            self.masked += [int(tokens[position]) for position in positions]

    recorder = Recorder()
    create_instances(ShardTokens(ids, has_special=True), [bounds, bounds], rules, 50,
                     new_generator(7), recorder)
    assert len(recorder.masked) > 500
    assert cls_id not in recorder.masked and sep_id not in recorder.masked
