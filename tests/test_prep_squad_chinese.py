"""`prep squad` on Chinese SQuAD-style files (CMRC 2018, DRCD): character doc tokens,
answer repair, and labels at the annotated positions (reference-formats I)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.errors import InputError
from bertkit.prep.squad.chinese import (
    CJK_CHARS,
    WHITESPACE,
    _cjk_doc_tokens_by_char,
    cjk_doc_tokens,
    place_answer,
    resolve_doc_tokens,
)
from bertkit.prep.squad.convert import SquadPrepOptions, prep_squad
from bertkit.prep.squad.encode import WindowOptions, encode_paragraphs
from bertkit.prep.squad.reader import load_json, read_squad_data, word_of_char
from bertkit.tfrecord import read_records
from bertkit.tokenization import load_tokenizer
from bertkit.tokenization.reference import is_cjk, is_control, is_punctuation, is_whitespace
from bertkit.train.squad_oracle import first_answers_only

runner = CliRunner()


def baseline_tokens(text: str) -> list[str]:
    """The CMRC baseline's rule written from its description: pad every CJK character,
    punctuation mark, whitespace and control character with spaces, then split."""
    padded = "".join(
        f" {c} " if is_cjk(ord(c)) or is_punctuation(c) or is_whitespace(c) or is_control(c)
        else c
        for c in text
    )
    return padded.split()


def test_cjk_doc_tokens_split_chinese_per_character_and_keep_latin_runs() -> None:
    context = "2010年iPhone 7在北京（Beijing）发布。"
    tokens, starts = cjk_doc_tokens(context)
    assert tokens == ["2010", "年", "iPhone", "7", "在", "北", "京", "（", "Beijing", "）",
                      "发", "布", "。"]
    assert [context[s : s + len(t)] for t, s in zip(tokens, starts)] == tokens


@settings(deadline=None, max_examples=300)
@given(st.text(alphabet=st.sampled_from(
    list("北京大學abc 12\t\n，。,.-\u3000\u00a0\u200b\x00\u2028\x1f\ufffdé々\U00020000\U0001f600")), max_size=40))
def test_cjk_doc_tokens_equal_the_baseline_rule_and_are_substrings(text: str) -> None:
    tokens, starts = cjk_doc_tokens(text)
    assert tokens == baseline_tokens(text)
    assert all(text[s : s + len(t)] == t for t, s in zip(tokens, starts))
    assert starts == sorted(starts)
    # The regex path (BMP text) and the per-character path (astral text) agree.
    assert _cjk_doc_tokens_by_char(text) == (tokens, starts)


def test_auto_picks_characters_only_for_mostly_chinese_text(shared_data: Path) -> None:
    def contexts(path: Path) -> list[str]:
        return [p["context"] for a in load_json(path)["data"] for p in a["paragraphs"]]

    assert resolve_doc_tokens("auto", contexts(
        shared_data / "squad_v1.1" / "dev-v1.1.json")) == WHITESPACE
    assert resolve_doc_tokens("auto", contexts(
        shared_data / "cmrc2018" / "cmrc2018_dev.json")) == CJK_CHARS
    assert resolve_doc_tokens("auto", contexts(shared_data / "drcd" / "DRCD_dev.json")) == CJK_CHARS
    # An English context naming Beijing (北京) in Chinese stays Google's.
    assert resolve_doc_tokens("auto", ["Beijing (北京) is the capital of China."]) == WHITESPACE


@pytest.mark.parametrize(("context", "text", "start", "expected"), [
    ("在北京和北京", "北京", 1, (1, "aligned")),
    ("在北京和北京", "北京", 2, (1, "repaired")),  # off by one: the nearest occurrence
    ("在北京和北京", "北京", 6, (4, "repaired")),
    ("甲乙丙北京", "北京", -1, (3, "repaired")),  # no start, one occurrence
    ("在北京和北京", "北京", -1, (-1, "unrepairable")),  # no start, two occurrences
    ("在北京", "上海", 1, (-1, "unrepairable")),
    ("在北京", "北京", 99, (1, "repaired")),  # past the end
])
def test_place_answer(context: str, text: str, start: int, expected: tuple[int, str]) -> None:
    placement = place_answer(context, text, start)
    assert (placement.start, placement.status) == expected


def chinese_file(tmp_path: Path, answers: list[dict[str, Any]], context: str = "甲在北京和北京乙",
                 name: str = "zh.json") -> Path:
    document = {"version": "v1.0", "data": [{"paragraphs": [{"context": context, "qas": [
        {"id": f"Q{i}", "question": "哪里？", "answers": [answer]}
        for i, answer in enumerate(answers)]}]}]}
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_train_labels_the_annotated_occurrence_and_repairs_bad_starts(
    tmp_path: Path, chinese_vocab: Path
) -> None:
    path = chinese_file(tmp_path, [
        {"text": "北京", "answer_start": 5},  # the second occurrence, annotated
        {"text": "北京", "answer_start": 6},  # off by one -> 5
        {"text": "北京", "answer_start": -1},  # two occurrences, no start: skipped
        {"text": "上海", "answer_start": 2},  # not in the context: skipped
    ])
    result = prep_squad(path, tmp_path / "out", SquadPrepOptions(split="train", shuffle=False),
                        vocab=chinese_vocab, workers=1)
    assert result.doc_tokens == CJK_CHARS
    assert [(r.qas_id, r.given_start, r.start) for r in result.repaired] == [("Q1", 6, 5)]
    assert sorted(s.qas_id for s in result.skipped) == ["Q2", "Q3"]
    records = list(read_records(result.record_path))
    # [CLS] 哪 里 ？ [SEP] 甲 在 北 京 和 北 京 乙 [SEP]: the annotated 北京 is at 10..11.
    assert [(int(r["start_positions"][0]), int(r["end_positions"][0])) for r in records] == [
        (10, 11), (10, 11)]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["repaired_answers"] == 1
    assert manifest["counts"]["skipped_answers"] == 2
    assert manifest["options"]["doc_tokens"] == CJK_CHARS
    assert [item["qas_id"] for item in manifest["repaired_answers"]] == ["Q1"]


def test_strict_names_the_question(tmp_path: Path, chinese_vocab: Path) -> None:
    path = chinese_file(tmp_path, [{"text": "北京", "answer_start": -1}])
    with pytest.raises(InputError, match="Q0"):
        prep_squad(path, tmp_path / "out", SquadPrepOptions(split="train", strict=True),
                   vocab=chinese_vocab, workers=1)
    result = runner.invoke(app, ["prep", "squad", str(path), "-o", str(tmp_path / "cli"),
                                 "--split", "eval", "--vocab", str(chinese_vocab), "--strict"])
    assert result.exit_code == 1
    assert "Q0" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cli" / "eval.tf_record").exists()


def test_train_label_leaves_out_whitespace_around_the_answer(
    tmp_path: Path, chinese_vocab: Path
) -> None:
    # Whitespace belongs to the doc token before it: an answer of a space alone was
    # labelled as the 。 before it.
    context = "甲在。 北京 和乙"
    path = chinese_file(tmp_path, [{"text": " 北京 ", "answer_start": 3},
                                   {"text": " ", "answer_start": 3}], context=context)
    result = prep_squad(path, tmp_path / "out", SquadPrepOptions(split="train", shuffle=False),
                        vocab=chinese_vocab, workers=1)
    # [CLS] 哪 里 ？ [SEP] 甲 在 。 北 京 和 乙 [SEP]: 北京 is at 8..9.
    assert [(int(r["start_positions"][0]), int(r["end_positions"][0]))
            for r in read_records(result.record_path)] == [(8, 9)]
    assert [(s.qas_id, s.reason) for s in result.skipped] == [
        ("Q1", "the answer text is only whitespace")]
    with pytest.raises(InputError, match="Q1.*only whitespace"):
        prep_squad(path, tmp_path / "strict", SquadPrepOptions(split="train", strict=True),
                   vocab=chinese_vocab, workers=1)


def test_whitespace_mode_keeps_googles_error_for_a_bad_start(
    tmp_path: Path, chinese_vocab: Path
) -> None:
    path = chinese_file(tmp_path, [{"text": "北京", "answer_start": -1}])
    with pytest.raises(InputError, match="outside"):
        prep_squad(path, tmp_path / "out",
                   SquadPrepOptions(split="train", doc_tokens="whitespace"),
                   vocab=chinese_vocab, workers=1)


def test_bad_doc_tokens_choice_is_an_option_error(tmp_path: Path, chinese_vocab: Path) -> None:
    path = chinese_file(tmp_path, [{"text": "北京", "answer_start": 2}])
    result = runner.invoke(app, ["prep", "squad", str(path), "-o", str(tmp_path / "o"),
                                 "--split", "eval", "--vocab", str(chinese_vocab),
                                 "--doc-tokens", "words"])
    assert result.exit_code == 2
    assert not (tmp_path / "o").exists()


def test_cmrc_dev_eval_counts_repairs_and_skips(shared_data: Path, chinese_vocab: Path,
                                                tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "prep", "squad", str(shared_data / "cmrc2018" / "cmrc2018_dev.json"),
        "-o", str(tmp_path / "dev"), "--split", "eval", "--vocab", str(chinese_vocab),
        "--max-seq-length", "512", "--doc-stride", "128", "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    # PROVENANCE: 193 answers with answer_start -1 (none of their texts is in the context,
    # so none can be placed) and 7 off by one or two characters (all repaired).
    assert manifest["counts"]["repaired_answers"] == 7
    assert manifest["counts"]["skipped_answers"] == 193
    assert manifest["counts"]["examples"] == 3219  # eval keeps every question
    records = list(read_records(tmp_path / "dev" / "eval.tf_record"))
    assert len(records) == manifest["counts"]["features"]
    assert all(len(r["input_ids"]) == 512 for r in records[:10])


def test_cmrc_trial_trains_at_512(shared_data: Path, chinese_vocab: Path,
                                  tmp_path: Path) -> None:
    result = prep_squad(shared_data / "cmrc2018" / "cmrc2018_trial.json", tmp_path / "t",
                        SquadPrepOptions(split="train", max_seq_length=512, doc_stride=128),
                        vocab=chinese_vocab, workers=1)
    # trial: 997 of 1,002 answers align (PROVENANCE); the 5 others are repaired or skipped.
    assert len(result.repaired) + len(result.skipped) == 5
    assert result.num_examples == 1002 - len(result.skipped)
    assert result.num_features >= result.num_examples


@pytest.fixture(scope="module")
def drcd_dev_encoded(shared_data: Path, chinese_vocab: Path) -> tuple[Any, Any, Any]:
    path = shared_data / "drcd" / "DRCD_dev.json"
    document = load_json(path)
    read = read_squad_data(first_answers_only(document), path, is_training=True,
                           version_2_with_negative=False, doc_tokens="auto")
    tokenizer = load_tokenizer(vocab=chinese_vocab, do_lower_case=True)
    chunk = encode_paragraphs(read.paragraphs, tokenizer, WindowOptions(
        max_seq_length=512, doc_stride=128, is_training=True, keep_eval_details=True))
    return document, read, chunk


def test_drcd_dev_every_answer_is_labelled_at_its_annotated_position(
    drcd_dev_encoded: tuple[Any, Any, Any],
) -> None:
    document, read, chunk = drcd_dev_encoded
    assert read.doc_tokens == CJK_CHARS
    annotated = {qa["id"]: (p["context"], qa["answers"][0]) for a in document["data"]
                 for p in a["paragraphs"] for qa in p["qas"]}
    assert not read.skipped and not read.repaired
    feature = question_number = 0
    labelled = not_first_occurrence = 0
    for number, paragraph in enumerate(read.paragraphs):
        pieces_to_word = chunk.paragraph_piece_to_word[number]
        for question in paragraph.questions:
            context, answer = annotated[question.qas_id]
            windows = int(chunk.windows_per_question[question_number])
            question_number += 1
            spans = []
            for row in range(feature, feature + windows):
                start, end = int(chunk.start_positions[row]), int(chunk.end_positions[row])
                if start == 0:
                    continue
                offset = int(chunk.query_length[row]) + 2 - int(chunk.span_start[row])
                spans.append((pieces_to_word[start - offset], pieces_to_word[end - offset]))
            feature += windows
            assert spans, question.qas_id
            # The doc tokens that hold the annotated characters (an answer may start or end
            # inside a token, e.g. 273.15 in −273.15℃; then it covers that whole token).
            begin = answer["answer_start"]
            where = (word_of_char(paragraph.token_starts, begin),
                     word_of_char(paragraph.token_starts, begin + len(answer["text"]) - 1))
            assert set(spans) == {where}, (question.qas_id, spans, where)
            labelled += 1
            not_first_occurrence += context.find(answer["text"]) != answer["answer_start"]
    assert feature == len(chunk.start_positions)
    assert labelled == 3524
    assert not_first_occurrence == 504  # the cases Google labels at the first occurrence


def test_drcd_traditional_characters_are_in_the_chinese_vocab(
    drcd_dev_encoded: tuple[Any, Any, Any],
) -> None:
    _document, _read, chunk = drcd_dev_encoded
    pieces = [piece for paragraph in chunk.paragraph_pieces for piece in paragraph]
    unknown = sum(piece == "[UNK]" for piece in pieces)
    assert len(pieces) > 400_000
    assert unknown / len(pieces) < 0.002  # measured: 538 of 434,991 (0.12%)


def test_word_of_char_maps_character_tokens_one_to_one() -> None:
    tokens, starts = cjk_doc_tokens("北京 大学")
    assert [word_of_char(starts, i) for i in range(5)] == [0, 1, 1, 2, 3]


def test_a_test_file_without_answers_converts_for_prediction(
    shared_data: Path, chinese_vocab: Path, tmp_path: Path
) -> None:
    document = load_json(shared_data / "drcd" / "DRCD_test.json")
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                del qa["answers"]
    path = tmp_path / "test.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = prep_squad(path, tmp_path / "out", SquadPrepOptions(split="eval"),
                        vocab=chinese_vocab, workers=1)
    assert (result.doc_tokens, result.num_examples) == (CJK_CHARS, 3493)
    assert not result.skipped and not result.repaired
