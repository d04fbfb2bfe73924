"""`bertkit prep chinesener` on the real zjy-ucas/ChineseNER files, against the original loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.prep.ner.chinesener import convert_chinesener
from bertkit.prep.ner.decode import decode_tags, load_id2label, load_ner_sidecar
from bertkit.prep.ner.tags import Entity
from bertkit.tfrecord import read_records

runner = CliRunner()
LONGEST_DEV_SENTENCE = 568


def read_sentences(path: Path) -> list[list[tuple[str, str]]]:
    """The original loader's reading: char/tag pairs, sentences split at blank lines."""
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
            continue
        char, tag = line.split(" ")
        current.append((char, tag))
    if current:
        sentences.append(current)
    return sentences


def zjy_iobes(tags: list[str]) -> list[str]:
    """zjy-ucas `update_tag_scheme` restated: repair IOB1 to IOB2, then IOB2 -> IOBES."""
    tags = list(tags)
    for i, tag in enumerate(tags):
        if tag == "O" or tag.startswith("B-"):
            continue
        assert tag.startswith("I-")
        if i == 0 or tags[i - 1] == "O" or tags[i - 1][1:] != tag[1:]:
            tags[i] = "B" + tag[1:]
    out = []
    for i, tag in enumerate(tags):
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        if tag == "O":
            out.append(tag)
        elif tag.startswith("B-"):
            out.append(tag if nxt.startswith("I-") else "S" + tag[1:])
        else:
            out.append(tag if nxt.startswith("I-") else "E" + tag[1:])
    return out


def zjy_seg_features(text: str) -> list[int]:
    """zjy-ucas `get_seg_features` restated on top of jieba."""
    import jieba

    features = []
    for word in jieba.cut(text):
        if len(word) == 1:
            features.append(0)
        else:
            features.extend([1] + [2] * (len(word) - 2) + [3])
    return features


@pytest.fixture(scope="module")
def dev_full(tmp_path_factory, shared_data: Path, chinese_vocab: Path):
    """dev with room for its longest sentence, so nothing is truncated."""
    out = tmp_path_factory.mktemp("chinesener_full")
    result = convert_chinesener([shared_data / "chinese_ner" / "example.dev"], out,
                                vocab=chinese_vocab, max_seq_length=LONGEST_DEV_SENTENCE + 2)
    return out, result


@pytest.fixture(scope="module")
def dev_128_jieba(tmp_path_factory, shared_data: Path, chinese_vocab: Path):
    """dev at the default length (41 sentences truncated), IOB2, with jieba word features."""
    out = tmp_path_factory.mktemp("chinesener_128")
    result = convert_chinesener([shared_data / "chinese_ner" / "example.dev"], out,
                                vocab=chinese_vocab, scheme="iob2", word_features="jieba")
    return out, result


@pytest.fixture(scope="module")
def dev_sentences(shared_data: Path) -> list[list[tuple[str, str]]]:
    return read_sentences(shared_data / "chinese_ner" / "example.dev")


def test_dev_labels_and_ids_equal_the_original_loader(dev_full, dev_sentences,
                                                      chinese_vocab: Path) -> None:
    from google_oracle import google_tokenization

    out, result = dev_full
    stats = result.splits[0].stats
    assert stats.examples == len(dev_sentences) == 2318
    assert stats.truncated_examples == 0 and stats.repaired_tags == 0
    tokenizer = google_tokenization().FullTokenizer(str(chinese_vocab), do_lower_case=True)
    label2id = json.loads((out / "label2id.json").read_text(encoding="utf-8"))
    assert label2id == {"O": 0, "B-PER": 1, "I-PER": 2, "E-PER": 3, "S-PER": 4, "B-LOC": 5,
                        "I-LOC": 6, "E-LOC": 7, "S-LOC": 8, "B-ORG": 9, "I-ORG": 10,
                        "E-ORG": 11, "S-ORG": 12}
    records = list(read_records(out / "dev.tf_record"))
    for number, (sentence, record) in enumerate(zip(dev_sentences, records)):
        chars = [char for char, _ in sentence]
        n = len(chars)
        expected_labels = [label2id[tag] for tag in zjy_iobes([tag for _, tag in sentence])]
        assert record["label_ids"][1:n + 1].tolist() == expected_labels, number
        assert not record["label_ids"][n + 1:].any() and record["label_ids"][0] == 0
        if number < 300:  # Google's tokenizer is slow; a slice is enough for the ids
            pieces = [tokenizer.tokenize(char) for char in chars]
            assert all(len(piece) == 1 for piece in pieces)
            expected_ids = tokenizer.convert_tokens_to_ids(
                ["[CLS]", *[piece[0] for piece in pieces], "[SEP]"])
            assert record["input_ids"][:n + 2].tolist() == expected_ids
        assert int(record["input_mask"].sum()) == n + 2


def test_decoding_every_dev_sentence_gives_back_its_tags(dev_full, dev_sentences) -> None:
    out, _ = dev_full
    id2label = load_id2label(out / "label2id.json")
    sidecar = load_ner_sidecar(out / "dev.offsets.jsonl")
    records = list(read_records(out / "dev.tf_record"))
    assert len(sidecar) == len(records) == len(dev_sentences)
    for sentence, record, entry in zip(dev_sentences, records, sidecar):
        assert entry.text == "".join(char for char, _ in sentence)
        decoded = decode_tags(record["label_ids"], entry, id2label, as_scheme="iob2")
        assert decoded == [tag for _, tag in sentence], entry.line


def test_truncation_keeps_the_prefix_and_cuts_entities_cleanly(dev_128_jieba,
                                                                dev_sentences) -> None:
    tmp_path, result = dev_128_jieba
    stats = result.splits[0].stats
    assert stats.truncated_examples == sum(len(s) > 126 for s in dev_sentences) == 41
    id2label = load_id2label(tmp_path / "label2id.json")
    assert list(id2label.values()) == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    sidecar = load_ner_sidecar(tmp_path / "dev.offsets.jsonl")
    records = list(read_records(tmp_path / "dev.tf_record"))
    for number, (sentence, record, entry) in enumerate(zip(dev_sentences, records, sidecar)):
        tags = [tag for _, tag in sentence]
        kept = min(len(tags), 126)
        assert entry.kept_units == kept and entry.num_units == len(tags)
        decoded = decode_tags(record["label_ids"], entry, id2label)
        # IOB2 has no end marker, so the kept prefix is the input's own prefix
        assert decoded == tags[:kept] + ["O"] * (len(tags) - kept)
        if number < 200:
            text = "".join(char for char, _ in sentence)
            assert record["seg_ids"][1:kept + 1].tolist() == zjy_seg_features(text)[:kept]
            assert record["seg_ids"][0] == 0 and not record["seg_ids"][kept + 1:].any()


def test_tensorflow_reads_every_dev_record_back_with_seg_ids(dev_128_jieba) -> None:
    import tensorflow as tf

    tmp_path, _ = dev_128_jieba
    names = ("input_ids", "input_mask", "segment_ids", "label_ids", "seg_ids")
    spec = {name: tf.io.FixedLenFeature([128], tf.int64) for name in names}
    dataset = tf.data.TFRecordDataset(str(tmp_path / "dev.tf_record")).map(
        lambda raw: tf.io.parse_single_example(raw, spec))
    ours = list(read_records(tmp_path / "dev.tf_record"))
    count = 0
    for mine, theirs in zip(ours, dataset):
        for name in names:
            np.testing.assert_array_equal(theirs[name].numpy(), mine[name])
        count += 1
    assert count == len(ours) == 2318
    schema = json.loads((tmp_path / "dev.schema.json").read_text(encoding="utf-8"))
    assert schema["columns"]["seg_ids"] == {"type": "int64", "rank": 1, "shape": [128]}


@pytest.mark.oracle
def test_test_file_converts_and_tensorflow_reads_it_back(tmp_path: Path, shared_data: Path,
                                                         chinese_vocab: Path) -> None:
    import tensorflow as tf

    sentences = read_sentences(shared_data / "chinese_ner" / "example.test")
    result = convert_chinesener([shared_data / "chinese_ner" / "example.test"], tmp_path,
                                vocab=chinese_vocab, max_seq_length=600)
    assert result.splits[0].split == "test" and result.splits[0].stats.examples == 4636
    id2label = load_id2label(tmp_path / "label2id.json")
    sidecar = load_ner_sidecar(tmp_path / "test.offsets.jsonl")
    spec = {name: tf.io.FixedLenFeature([600], tf.int64)
            for name in ("input_ids", "input_mask", "segment_ids", "label_ids")}
    dataset = tf.data.TFRecordDataset(str(tmp_path / "test.tf_record")).map(
        lambda raw: tf.io.parse_single_example(raw, spec))
    ours = list(read_records(tmp_path / "test.tf_record"))
    for sentence, mine, theirs, entry in zip(sentences, ours, dataset, sidecar):
        for name in spec:
            np.testing.assert_array_equal(theirs[name].numpy(), mine[name])
        assert decode_tags(mine["label_ids"], entry, id2label) == zjy_iobes(
            [tag for _, tag in sentence])


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_iob1_repair_docstart_and_space_characters(tmp_path: Path, chinese_vocab: Path) -> None:
    source = _write(tmp_path / "example.train",
                    "-DOCSTART- O\n\n张 I-PER\n三 I-PER\n  O\n在 O\n北 I-LOC\n京 I-ORG\n\n")
    result = convert_chinesener([source], tmp_path / "out", vocab=chinese_vocab)
    stats = result.splits[0].stats
    assert (stats.examples, stats.skipped_sentences, stats.repaired_tags) == (1, 1, 3)
    [record] = read_records(tmp_path / "out" / "train.tf_record")
    [entry] = load_ner_sidecar(tmp_path / "out" / "train.offsets.jsonl")
    assert entry.text == "张三 在北京" and entry.line == 3
    id2label = load_id2label(tmp_path / "out" / "label2id.json")
    assert decode_tags(record["label_ids"], entry, id2label) == [
        "B-PER", "E-PER", "O", "O", "S-LOC", "S-ORG"]
    assert record["input_ids"][3] == 100  # the space is [UNK] in bert-base-chinese, in place


BAD_FILES = {
    "no_space": ("中 O\n国O\n", 2, "malformed line '国O'"),
    "three_fields": ("中 O\n\n国 B-LOC X\n", 3, "malformed line '国 B-LOC X'"),
    "empty_tag": ("中 O\n国 \n", 2, "malformed line '国 '"),
    "unknown_prefix": ("中 O\n国 E-LOC\n", 2, "unknown tag prefix in 'E-LOC'"),
    "no_type": ("中 O\n国 B\n", 2, "unknown tag prefix in 'B'"),
    "unknown_type": ("中 O\n\n\n国 B-TIM\n", 4, "unknown entity type 'TIM'"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_is_one_line_naming_the_line(tmp_path: Path, chinese_vocab: Path,
                                               case: str) -> None:
    text, line, expected = BAD_FILES[case]
    source = _write(tmp_path / "example.dev", text)
    result = runner.invoke(app, ["prep", "chinesener", str(source), "-o", str(tmp_path / "out"),
                                 "--vocab", str(chinese_vocab)])
    assert result.exit_code == 1, result.output
    message = result.output.strip()
    assert len(message.splitlines()) == 1, message
    assert f"{source}:{line}: {expected}" in message
    assert not (tmp_path / "out" / "dev.tf_record").exists()


def test_cli_json_lists_files_and_counts(tmp_path: Path, chinese_vocab: Path) -> None:
    source = _write(tmp_path / "sentences.txt", "张 B-PER\n三 I-PER\n\n在 O\n")
    result = runner.invoke(app, ["prep", "chinesener", str(source), "-o", str(tmp_path / "out"),
                                 "--vocab", str(chinese_vocab), "--split", "train",
                                 "--scheme", "iob2", "--word-features", "jieba", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counts"]["train"]["examples"] == 2
    assert summary["options"]["word_features"] == "jieba"
    assert sorted(Path(name).name for name in summary["files"]) == sorted(
        ["train.tf_record", "train.tf_record.index", "train.schema.json", "train.offsets.jsonl",
         "label2id.json", "manifest.json"])
    for bad in (["--scheme", "cluener"], ["--word-features", "pkuseg"]):
        result = runner.invoke(app, ["prep", "chinesener", str(source), "-o",
                                     str(tmp_path / "out2"), "--vocab", str(chinese_vocab),
                                     "--split", "train", *bad])
        assert result.exit_code == 2, (bad, result.output)
        assert not (tmp_path / "out2").exists()


@st.composite
def tagged_sentences(draw: st.DrawFn) -> tuple[list[str], list[Entity]]:
    length = draw(st.integers(1, 30))
    chars = draw(st.lists(st.sampled_from(list("中国北京人民日报社张三 ")), min_size=length,
                          max_size=length))
    entities, unit = [], 0
    while unit < length:
        start = unit + draw(st.integers(0, 3))
        end = start + draw(st.integers(0, 4))
        if end >= length:
            break
        entities.append(Entity(start, end, draw(st.sampled_from(("PER", "LOC", "ORG")))))
        unit = end + 1
    return chars, entities


@settings(max_examples=200, deadline=None)
@given(sentence=tagged_sentences(), iob1=st.booleans())
def test_parser_reads_back_the_entities_it_was_given(sentence, iob1: bool) -> None:
    from bertkit.prep.ner.chinesener import parse_chinesener_sentence
    from bertkit.prep.ner.convert import NerSettings
    from bertkit.prep.ner.tags import get_scheme

    chars, entities = sentence
    tags = get_scheme("iob2").encode(len(chars), entities)
    repairs = 0
    if iob1:  # IOB1 writes I- where an entity starts, unless it touches one of its type
        for entity in entities:
            touching = any(other.end == entity.start - 1 and other.type == entity.type
                           for other in entities)
            if not touching:
                tags[entity.start] = "I" + tags[entity.start][1:]
                repairs += 1
    raw = "\n".join(("  " if char == " " else char + " ") + tag
                    for char, tag in zip(chars, tags))
    settings_ = NerSettings(vocab=None, spm_model=None, do_lower_case=True, scheme="iobes",
                            types=("PER", "LOC", "ORG"), max_seq_length=128)
    parsed = parse_chinesener_sentence("example.dev", 10, raw, settings_)
    assert parsed.example is not None
    assert parsed.example.units == chars
    assert parsed.example.entities == entities
    assert parsed.repaired_tags == repairs


def test_a_directory_converts_every_split_it_holds(tmp_path: Path, shared_data: Path,
                                                   chinese_vocab: Path) -> None:
    # like the staged data (no example.train): the first 20 sentences of dev and test
    folder = tmp_path / "chinese_ner"
    folder.mkdir()
    for name in ("example.dev", "example.test"):
        text = (shared_data / "chinese_ner" / name).read_text(encoding="utf-8")
        (folder / name).write_text("\n\n".join(text.split("\n\n")[:20]) + "\n\n",
                                   encoding="utf-8")
    (folder / "PROVENANCE.md").write_text("not an input\n", encoding="utf-8")
    result = runner.invoke(app, ["prep", "chinesener", str(folder), "-o", str(tmp_path / "out"),
                                 "--vocab", str(chinese_vocab), "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {split: counts["examples"] for split, counts in summary["counts"].items()} == {
        "dev": 20, "test": 20}
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["prep", "chinesener", str(empty), "-o", str(tmp_path / "o2"),
                                 "--vocab", str(chinese_vocab)])
    assert result.exit_code == 1 and "no chinesener files in this directory" in result.output


def test_types_option_admits_more_types(tmp_path: Path, chinese_vocab: Path) -> None:
    source = _write(tmp_path / "example.dev", "中 O\n\n\n国 B-TIM\n庆 I-TIM\n")
    result = runner.invoke(app, ["prep", "chinesener", str(source), "-o", str(tmp_path / "out"),
                                 "--vocab", str(chinese_vocab), "--types", "PER,LOC,ORG,TIM"])
    assert result.exit_code == 0, result.output
    id2label = load_id2label(tmp_path / "out" / "label2id.json")
    assert len(id2label) == 17 and id2label[13] == "B-TIM"
    records = list(read_records(tmp_path / "out" / "dev.tf_record"))
    assert records[1]["label_ids"][1:3].tolist() == [13, 15]  # B-TIM, E-TIM


def test_verbose_prints_the_first_records(tmp_path: Path, chinese_vocab: Path) -> None:
    source = _write(tmp_path / "example.train", "张 B-PER\n三 I-PER\n好 O\n")
    result = runner.invoke(app, ["prep", "chinesener", str(source), "-o", str(tmp_path / "out"),
                                 "--vocab", str(chinese_vocab), "-v"])
    assert result.exit_code == 0, result.output
    record = next(read_records(tmp_path / "out" / "train.tf_record"))
    ids = [int(i) for i in record["input_ids"][:5]]
    assert (f"train record 0 (line 1): [CLS]/{ids[0]}/O 张/{ids[1]}/B-PER 三/{ids[2]}/E-PER "
            f"好/{ids[3]}/O [SEP]/{ids[4]}/O") in result.stderr
