"""SentencePiece tokenizer (ALBERT style) on the real German ALBERT-style model."""

from __future__ import annotations

import hashlib
import io

import pytest
import sentencepiece
import tokenization_corpora as corpora
from conftest import SPM_MODEL

from bertkit.errors import InputError
from bertkit.tokenization import load_tokenizer
from bertkit.tokenization.sentencepiece_tokenizer import (
    SPIECE_UNDERLINE,
    SentencePieceTokenizer,
    albert_preprocess,
)


@pytest.fixture(scope="module")
def spm(shared_data):
    return load_tokenizer(spm_model=SPM_MODEL)


def test_special_pieces_have_albert_ids(spm):
    # ids documented in the model's provenance (same layout as ALBERT's own model)
    assert (spm.pad_id, spm.unk_id, spm.cls_id, spm.sep_id, spm.mask_id) == (0, 1, 2, 3, 4)
    assert (spm.pad_token, spm.unk_token, spm.cls_token, spm.sep_token, spm.mask_token) == (
        "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")
    assert spm.kind == "sentencepiece" and len(spm.vocab) == 30000


def test_documented_example_encoding(shared_data):
    raw = SentencePieceTokenizer(SPM_MODEL, do_lower_case=False, keep_accents=True)
    text = "Der schnelle braune Fuchs springt \u00fcber den faulen Hund."
    expected = ["▁Der", "▁schnelle", "▁braun", "e", "▁Fuchs", "▁", "spring", "t", "▁über",
                "▁den", "▁", "faul", "en", "▁Hund", "."]
    assert raw.tokenize(text) == expected


def test_albert_preprocessing_rules():
    assert albert_preprocess("  Der  ``Hund''\t\nbellt ", do_lower_case=False) == 'Der "Hund" bellt'
    assert albert_preprocess("\u00c4rger \u00fcber Stra\u00dfe", do_lower_case=True) == "arger uber stra\u00dfe"
    assert albert_preprocess("\u00c4rger", do_lower_case=False, keep_accents=True) == "\u00c4rger"
    assert albert_preprocess("\ufb01 \u2460", do_lower_case=False) == "fi 1"  # NFKD folds these


def test_lower_casing_and_accents_follow_albert(spm):
    assert spm.tokenize("Der HUND") == spm.tokenize("der hund")
    assert spm.tokenize("\u00fcber") == spm.tokenize("uber")


def test_digit_comma_pieces_are_split_like_albert(spm):
    for text in ("Es kostet 1,000, oder 25,5, Euro", "Jahr 2019, Seite 12, Zeile 3,"):
        pieces = spm.tokenize(text)
        assert not any(len(p) > 1 and p[-1] == "," and p[-2].isdigit() for p in pieces)
        # nothing is lost or added: the pieces spell the preprocessed text
        assert "".join(pieces).replace(SPIECE_UNDERLINE, "") == albert_preprocess(text, True).replace(" ", "")


def test_batch_equals_single_and_ids_round_trip(spm):
    texts = corpora.squad_texts()[:200] + corpora.edge_cases()
    batch = spm.tokenize_many(texts)
    assert batch == [spm.tokenize(text) for text in texts]
    for pieces in batch[:50]:
        ids = spm.convert_tokens_to_ids(pieces)
        assert spm.convert_ids_to_tokens(ids) == pieces
    assert spm.convert_tokens_to_ids(["[CLS]", "[SEP]", "no-such-piece-xyz"]) == [2, 3, 1]


def test_describe(spm):
    described = spm.describe()
    assert described["vocab_sha256"] == hashlib.sha256(SPM_MODEL.read_bytes()).hexdigest()
    assert described["kind"] == "sentencepiece" and described["vocab_size"] == 30000


def test_missing_empty_and_garbage_models_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_tokenizer(spm_model=tmp_path / "missing.model")
    empty = tmp_path / "empty.model"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_tokenizer(spm_model=empty)
    garbage = tmp_path / "garbage.model"
    garbage.write_bytes(b"this is not a protobuf \x00\xff" * 10)
    with pytest.raises(InputError, match="not a readable SentencePiece model") as caught:
        load_tokenizer(spm_model=garbage)
    assert "\n" not in str(caught.value)


def test_model_without_albert_specials_is_an_error(tmp_path):
    model = io.BytesIO()
    sentences = [text for text in corpora.squad_texts()[:300]]
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=200,
        model_type="unigram", minloglevel=2)
    path = tmp_path / "plain.model"
    path.write_bytes(model.getvalue())
    with pytest.raises(InputError, match=r"lacks the special piece\(s\) \[CLS\], \[SEP\], <pad>, \[MASK\]"):
        load_tokenizer(spm_model=path)
