"""`bertkit prep cluener` on the real CLUENER2020 files, against CLUENER's own converter rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import CHINESE_VOCAB
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.prep.ner.cluener import convert_cluener
from bertkit.prep.ner.decode import decode_cluener_line, load_id2label, load_ner_sidecar
from bertkit.prep.ner.tags import CLUENER_TYPES
from bertkit.tfrecord import read_records

runner = CliRunner()
FEATURES = ("input_ids", "input_mask", "segment_ids", "label_ids")
OVERLAP_LINE = 1507  # train: two company spans inside a book title


@pytest.fixture(scope="module")
def converted(tmp_path_factory, shared_data: Path, chinese_vocab: Path):
    """train, dev and test converted once, with the defaults (scheme cluener, L=128)."""
    out = tmp_path_factory.mktemp("cluener")
    data = shared_data / "cluener2020"
    warnings: list[str] = []
    result = convert_cluener([data / "train.json", data / "dev.json", data / "test.json"], out,
                             vocab=chinese_vocab, on_warning=warnings.append)
    return out, result, warnings


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def cner_reference_record(obj: dict, tokenizer, label2id: dict[str, int], length: int) -> dict:
    """CLUENER tf_version's converter (data_processor_seq.py), restated: BMES tags per
    character, each character through Google's FullTokenizer, [CLS] ... [SEP], zero padding,
    label 0 outside the text. Characters yielding != 1 piece do not occur in CLUENER."""
    text = obj["text"]
    tags = ["O"] * len(text)
    for entity_type, entities in obj.get("label", {}).items():
        for spans in entities.values():
            for start, end in spans:
                if start == end:
                    tags[start] = f"S_{entity_type}"
                    continue
                tags[start] = f"B_{entity_type}"
                for unit in range(start + 1, end):
                    tags[unit] = f"M_{entity_type}"
                tags[end] = f"E_{entity_type}"
    tokens = []
    for char in text:
        pieces = tokenizer.tokenize(char)
        assert len(pieces) == 1, (char, pieces)
        tokens.extend(pieces)
    tokens, tags = tokens[: length - 2], tags[: length - 2]
    ids = tokenizer.convert_tokens_to_ids(["[CLS]", *tokens, "[SEP]"])
    labels = [0, *[label2id[tag] for tag in tags], 0]
    pad = length - len(ids)
    return {"input_ids": ids + [0] * pad, "input_mask": [1] * len(ids) + [0] * pad,
            "segment_ids": [0] * length, "label_ids": labels + [0] * pad}


def test_every_file_converts_with_its_counts(converted) -> None:
    out, result, warnings = converted
    counts = {split.split: split.stats for split in result.splits}
    assert {name: stats.examples for name, stats in counts.items()} == {
        "train": 10748, "dev": 1343, "test": 1345}
    assert counts["train"].entities_in == 23971 and counts["dev"].entities_in == 3072
    assert counts["train"].overlapping_dropped == 2 and counts["dev"].overlapping_dropped == 0
    assert all(stats.truncated_examples == 0 for stats in counts.values())  # texts <= 50 chars
    assert counts["test"].label_counts == {"O": counts["test"].units}
    assert len(warnings) == 2 and all(f"train.json:{OVERLAP_LINE}:" in w for w in warnings)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["dev"]["examples"] == 1343
    for name in manifest["files"]:
        assert Path(name).is_file(), name
    for split in ("train", "dev", "test"):
        for suffix in (".tf_record", ".tf_record.index", ".schema.json", ".offsets.jsonl"):
            assert str(out / f"{split}{suffix}") in manifest["files"]
    assert (out / "label_types.txt").read_text().split() == list(CLUENER_TYPES)
    assert not list(out.glob(".*")), "no staging or temporary files left"


def test_label2id_is_cluener_tf_version_label2id(converted) -> None:
    out, _, _ = converted
    label2id = json.loads((out / "label2id.json").read_text(encoding="utf-8"))
    expected = {"O": 0}
    for index, entity_type in enumerate(CLUENER_TYPES):
        for offset, prefix in enumerate("SBME"):
            expected[f"{prefix}_{entity_type}"] = 1 + 4 * index + offset
    assert label2id == expected


@pytest.mark.parametrize("split, lines_from, lines_to", [
    ("dev", 1, None),
    ("train", 1301, 1700),  # a fast slice around the overlap line
    pytest.param("train", 1, None, marks=pytest.mark.oracle),
])
def test_records_equal_cluener_reference_converter(converted, shared_data: Path, split: str,
                                                   lines_from: int, lines_to: int | None) -> None:
    from google_oracle import google_tokenization

    out, _, _ = converted
    tokenizer = google_tokenization().FullTokenizer(
        str(shared_data / "vocab" / "bert-base-chinese" / "vocab.txt"), do_lower_case=True)
    label2id = json.loads((out / "label2id.json").read_text(encoding="utf-8"))
    lines = _lines(shared_data / "cluener2020" / f"{split}.json")
    records = list(read_records(out / f"{split}.tf_record"))
    assert len(records) == len(lines)
    lines, records = lines[lines_from - 1:lines_to], records[lines_from - 1:lines_to]
    differing = []
    for number, (obj, record) in enumerate(zip(lines, records), lines_from):
        expected = cner_reference_record(obj, tokenizer, label2id, 128)
        assert sorted(record) == sorted(FEATURES)
        for name in ("input_ids", "input_mask", "segment_ids"):
            assert record[name].tolist() == expected[name], (number, name)
        if record["label_ids"].tolist() != expected["label_ids"]:
            differing.append(number)
    # the only difference: the overlap line, where CNER lets later spans overwrite earlier ones
    assert differing == ([OVERLAP_LINE] if split == "train" else [])


def _normalised(label: dict) -> dict:
    return {entity_type: {text: sorted(spans) for text, spans in entities.items()}
            for entity_type, entities in label.items() if entities}


@pytest.mark.parametrize("split", ["train", "dev"])
def test_decoding_label_ids_through_the_sidecar_gives_the_input_entities(
        converted, shared_data: Path, split: str) -> None:
    out, _, _ = converted
    id2label = load_id2label(out / "label2id.json")
    sidecar = load_ner_sidecar(out / f"{split}.offsets.jsonl")
    lines = _lines(shared_data / "cluener2020" / f"{split}.json")
    records = list(read_records(out / f"{split}.tf_record"))
    assert len(sidecar) == len(records) == len(lines)
    for number, (obj, record, entry) in enumerate(zip(lines, records, sidecar), 1):
        assert entry.line == number and entry.text == obj["text"]
        decoded = decode_cluener_line(record["label_ids"], entry, id2label, scheme="cluener")
        expected = _normalised(obj["label"])
        if number == OVERLAP_LINE and split == "train":
            del expected["company"]  # both company spans sit inside the kept book title
        assert _normalised(decoded["label"]) == expected, number


def test_test_split_has_ids_and_all_o_labels(converted, shared_data: Path) -> None:
    out, _, _ = converted
    sidecar = load_ner_sidecar(out / "test.offsets.jsonl")
    lines = _lines(shared_data / "cluener2020" / "test.json")
    assert [entry.example_id for entry in sidecar] == [obj["id"] for obj in lines]
    for record in read_records(out / "test.tf_record"):
        assert not record["label_ids"].any()


def _tf_parse_all(path: Path, length: int, names=FEATURES) -> list[dict]:
    import tensorflow as tf

    spec = {name: tf.io.FixedLenFeature([length], tf.int64) for name in names}
    dataset = tf.data.TFRecordDataset(str(path)).map(
        lambda raw: tf.io.parse_single_example(raw, spec))
    return [{name: value.numpy() for name, value in example.items()} for example in dataset]


def _assert_tf_reads_back(path: Path, length: int = 128) -> None:
    ours = list(read_records(path))
    theirs = _tf_parse_all(path, length)
    assert len(theirs) == len(ours) > 0
    for mine, tf_example in zip(ours, theirs):
        for name in FEATURES:
            np.testing.assert_array_equal(tf_example[name], mine[name])


def test_tensorflow_reads_dev_back(converted) -> None:
    out, _, _ = converted
    _assert_tf_reads_back(out / "dev.tf_record")
    schema = json.loads((out / "dev.schema.json").read_text(encoding="utf-8"))
    assert schema["numRows"] == 1343
    assert schema["columns"]["label_ids"] == {"type": "int64", "rank": 1, "shape": [128]}


@pytest.mark.oracle
@pytest.mark.parametrize("split", ["train", "test"])
def test_tensorflow_reads_every_record_back(converted, split: str) -> None:
    out, _, _ = converted
    _assert_tf_reads_back(out / f"{split}.tf_record")


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_other_schemes_round_trip(tmp_path: Path, shared_data: Path, chinese_vocab: Path,
                                  scheme: str) -> None:
    result = convert_cluener([shared_data / "cluener2020" / "dev.json"], tmp_path,
                             vocab=chinese_vocab, scheme=scheme)
    id2label = load_id2label(tmp_path / "label2id.json")
    assert len(id2label) == 1 + len(CLUENER_TYPES) * (2 if scheme == "bio" else 4)
    assert id2label[1] == "B-address"
    sidecar = load_ner_sidecar(tmp_path / "dev.offsets.jsonl")
    lines = _lines(shared_data / "cluener2020" / "dev.json")
    for obj, record, entry in zip(lines, read_records(tmp_path / "dev.tf_record"), sidecar):
        decoded = decode_cluener_line(record["label_ids"], entry, id2label, scheme=scheme)
        assert _normalised(decoded["label"]) == _normalised(obj["label"])
    assert result.manifest["options"]["scheme"] == scheme


def test_workers_do_not_change_the_bytes(tmp_path: Path, shared_data: Path,
                                         chinese_vocab: Path) -> None:
    source = shared_data / "cluener2020" / "dev.json"  # 1,343 lines: two chunks
    convert_cluener([source], tmp_path / "one", vocab=chinese_vocab, workers=1)
    convert_cluener([source], tmp_path / "two", vocab=chinese_vocab, workers=2)
    for name in ("dev.tf_record", "dev.tf_record.index", "dev.offsets.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


# -- characters Google's tokenizer drops keep their position ---------------------------------

def test_spaces_and_control_characters_keep_the_alignment(tmp_path: Path,
                                                          chinese_vocab: Path) -> None:
    text = "我在 New\u3000York\u200b看\tCSOL比赛"
    start = text.index("CSOL")
    line = {"text": text, "label": {"game": {"CSOL": [[start, start + 3]]},
                                    "address": {"New\u3000York": [[2 + 1, 10]]}}}
    assert text[3:11] == "New\u3000York"
    source = tmp_path / "dev.json"
    source.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    result = convert_cluener([source], tmp_path / "out", vocab=chinese_vocab)
    stats = result.splits[0].stats
    assert stats.unit_kinds["dropped_by_tokenizer"] == 4  # space, ideographic space, ZWSP, tab
    [record] = read_records(tmp_path / "out" / "dev.tf_record")
    [entry] = load_ner_sidecar(tmp_path / "out" / "dev.offsets.jsonl")
    assert int(record["input_mask"].sum()) == len(text) + 2
    from bertkit.tokenization import load_tokenizer

    tokenizer = load_tokenizer(vocab=chinese_vocab)
    ids = record["input_ids"].tolist()
    for position, char in enumerate(text, 1):
        if char in " \u3000\u200b\t":
            assert ids[position] == tokenizer.unk_id
        else:
            assert ids[position] == tokenizer.convert_tokens_to_ids(tokenizer.tokenize(char))[0]
    decoded = decode_cluener_line(record["label_ids"], entry, load_id2label(
        tmp_path / "out" / "label2id.json"))
    assert _normalised(decoded["label"]) == _normalised(line["label"])


# -- bad input: one line naming the file, the line and both strings --------------------------

BAD_LINES = {
    "outside": ({"text": "浙商银行", "label": {"company": {"浙商银行": [[0, 4]]}}},
                ["span [0, 4]", "'浙商银行'", "outside the text (4 characters)"]),
    "mismatch": ({"text": "叶老桂博士", "label": {"name": {"叶老桂": [[1, 3]]}}},
                 ["'叶老桂'", "text[1:4] = '老桂博'"]),
    "unknown_type": ({"text": "叶老桂博士", "label": {"person": {"叶老桂": [[0, 2]]}}},
                     ["unknown entity type 'person'", "'叶老桂'", "address"]),
    "overlap_strict": ({"text": "《招商银行》", "label": {"book": {"《招商银行》": [[0, 5]]},
                                                   "company": {"招商银行": [[1, 4]]}}},
                       ["overlapping entities", "'《招商银行》'", "'招商银行'", "--strict"]),
    "bad_span": ({"text": "叶老桂", "label": {"name": {"叶老桂": [[0]]}}}, ["[0]"]),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_input_is_one_line_naming_the_line(tmp_path: Path, chinese_vocab: Path,
                                               case: str) -> None:
    bad, expected_parts = BAD_LINES[case]
    good = {"text": "浙商银行", "label": {"company": {"浙商银行": [[0, 3]]}}}
    source = tmp_path / "train.json"
    source.write_text("\n".join(json.dumps(obj, ensure_ascii=False)
                                for obj in (good, good, bad, good)) + "\n", encoding="utf-8")
    args = ["prep", "cluener", str(source), "-o", str(tmp_path / "out"),
            "--vocab", str(chinese_vocab), "--workers", "1"]
    if case == "overlap_strict":
        args.append("--strict")
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    message = result.output.strip()
    assert len(message.splitlines()) == 1, message
    assert f"{source}:3:" in message
    for part in expected_parts:
        assert part in message, (part, message)
    # A failed first run leaves no output directory at all, not even an empty one.
    assert not (tmp_path / "out").exists()


def test_overlap_without_strict_is_a_warning(tmp_path: Path, chinese_vocab: Path) -> None:
    bad, _ = BAD_LINES["overlap_strict"]
    source = tmp_path / "train.json"
    source.write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["prep", "cluener", str(source), "-o", str(tmp_path / "out"),
                                 "--vocab", str(chinese_vocab), "--json"])
    assert result.exit_code == 0, result.output
    assert f"{source}:1: overlapping entities" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"]["train"]["overlapping_dropped"] == 1
    assert str(tmp_path / "out" / "train.tf_record") in summary["files"]


def test_invalid_json_and_usage_errors(tmp_path: Path, chinese_vocab: Path) -> None:
    source = tmp_path / "dev.json"
    source.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    result = runner.invoke(app, ["prep", "cluener", str(source), "-o", str(tmp_path / "o"),
                                 "--vocab", str(chinese_vocab)])
    assert result.exit_code == 1 and f"{source}:2: not valid JSON" in result.output
    # contradicting options are usage errors (exit 2), raised before any data is read
    for extra in (["--scheme", "iobes"], ["--max-seq-length", "2"], ["--split", "dev", str(source)]):
        result = runner.invoke(app, ["prep", "cluener", str(source), "-o", str(tmp_path / "o"),
                                     "--vocab", str(chinese_vocab), *extra])
        assert result.exit_code == 2, (extra, result.output)


def test_an_interrupted_run_leaves_no_complete_looking_file(
        tmp_path: Path, shared_data: Path, chinese_vocab: Path, monkeypatch) -> None:
    from bertkit.prep.ner import convert as ner_convert

    out = tmp_path / "out"
    data = shared_data / "cluener2020"
    convert_cluener([data / "dev.json"], out, vocab=chinese_vocab)
    assert (out / "manifest.json").exists()
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    real_chunk = ner_convert.convert_chunk
    calls = []

    def interrupted(task):
        calls.append(1)
        if len(calls) == 3:  # the train file's third chunk, after two were written
            raise KeyboardInterrupt
        return real_chunk(task)

    monkeypatch.setattr(ner_convert, "convert_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert_cluener([data / "train.json", data / "test.json"], out, vocab=chinese_vocab)
    assert len(calls) == 3
    # nothing was published: the previous set, manifest included, is exactly as it was,
    # and no new record, sidecar, staging folder or temporary file appeared
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_sentencepiece_model_keeps_one_position_per_character(tmp_path: Path,
                                                              shared_data: Path) -> None:
    from conftest import SPM_MODEL

    from bertkit.tokenization import load_tokenizer

    line = {"text": "Ich wohne in Köln, 中国", "label": {"address": {"Köln": [[13, 16]]}}}
    source = tmp_path / "dev.json"
    source.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    convert_cluener([source], tmp_path / "out", spm_model=SPM_MODEL)
    [record] = read_records(tmp_path / "out" / "dev.tf_record")
    [entry] = load_ner_sidecar(tmp_path / "out" / "dev.offsets.jsonl")
    tokenizer = load_tokenizer(spm_model=SPM_MODEL)
    ids = record["input_ids"][1:len(line["text"]) + 1].tolist()
    # "K" -> "▁", "k" keeps the "k"; "," -> "▁", "," keeps the comma; the spaces are [UNK]
    assert tokenizer.tokenize("K") == ["▁", "k"]
    assert ids[13] == tokenizer.convert_tokens_to_ids(["k"])[0] != tokenizer.unk_id
    assert ids[17] == tokenizer.convert_tokens_to_ids([","])[0]
    assert ids[3] == tokenizer.unk_id
    decoded = decode_cluener_line(record["label_ids"], entry,
                                  load_id2label(tmp_path / "out" / "label2id.json"))
    assert decoded["label"] == {"address": {"Köln": [[13, 16]]}}


# -- property: any text, any non-overlapping entities survive parse -> record -> decode -------

@st.composite
def cluener_lines(draw: st.DrawFn) -> dict:
    alphabet = st.sampled_from(list("浙商银行叶老桂CSOLabc 1,。《》\t\u3000\u200b\x00é한😀"))
    text = "".join(draw(st.lists(alphabet, max_size=60)))
    label: dict = {}
    position = 0
    while position < len(text):
        start = position + draw(st.integers(0, 4))
        end = start + draw(st.integers(0, 5))
        if end >= len(text):
            break
        entity_type = draw(st.sampled_from(CLUENER_TYPES))
        label.setdefault(entity_type, {}).setdefault(text[start:end + 1], []).append(
            [start, end])
        position = end + 1
    return {"text": text, "label": label}


@settings(max_examples=150, deadline=None)
@given(obj=cluener_lines(), max_seq_length=st.sampled_from([16, 128]))
def test_any_line_round_trips_through_records_and_sidecar(obj: dict,
                                                          max_seq_length: int) -> None:
    from bertkit.prep.ner.cluener import parse_cluener_line
    from bertkit.prep.ner.convert import NerSettings, _builder
    from bertkit.prep.ner.features import NerStats
    from bertkit.prep.ner.sidecar import NerSidecarEntry

    settings_ = NerSettings(vocab=str(CHINESE_VOCAB), spm_model=None, do_lower_case=True,
                            scheme="cluener", types=CLUENER_TYPES, max_seq_length=max_seq_length)
    parsed = parse_cluener_line("dev.json", 7, json.dumps(obj, ensure_ascii=False), settings_)
    builder = _builder(settings_)
    batch = builder.build_batch([parsed.example], NerStats())
    entry = NerSidecarEntry.from_json(json.loads(f'{{"record":0,{batch.sidecars[0]}}}'))
    assert entry.text == obj["text"] and entry.line == 7
    label_ids = batch.columns["label_ids"][0]
    assert int(batch.columns["input_mask"][0].sum()) == entry.kept_units + 2
    id2label = {index: label for label, index in builder.label2id.items()}
    decoded = decode_cluener_line(label_ids, entry, id2label)["label"]
    kept = entry.kept_units
    expected: dict = {}
    for entity_type, entities in obj["label"].items():
        for spans in entities.values():
            for start, end in spans:
                if start >= kept:
                    continue
                end = min(end, kept - 1)  # an entity cut by truncation is shortened
                expected.setdefault(entity_type, {}).setdefault(
                    obj["text"][start:end + 1], []).append([start, end])
    assert _normalised(decoded) == _normalised(expected)
