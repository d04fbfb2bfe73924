"""WordPiece tokenizer: parity with Google's FullTokenizer (bert-tensorflow) and the vocab rules.

Fast slices of the real corpora run always; the full corpora are in
test_tokenization_parity_full.py (slow) and every code point in
test_tokenization_codepoints.py.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

import pytest
import tokenization_corpora as corpora
from conftest import CHINESE_VOCAB, UNCASED_VOCAB
from google_oracle import google_tokenization
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.errors import InputError, UsageError
from bertkit.tokenization import load_tokenizer
from bertkit.tokenization.fast_basic import fast_basic_tokenize
from bertkit.tokenization.reference import basic_tokenize
from bertkit.tokenization.vocab import load_vocab

VOCABS = {"uncased": UNCASED_VOCAB, "chinese": CHINESE_VOCAB}
CONFIGS = [(name, lower) for name in VOCABS for lower in (True, False)]
CONFIG_IDS = [f"{name}-{'lower' if lower else 'cased'}" for name, lower in CONFIGS]


@cache
def tokenizer_pair(name: str, lower: bool):
    """(ours, Google's) for one vocab and casing; built once per test session."""
    vocab = VOCABS[name]
    return (load_tokenizer(vocab=vocab, do_lower_case=lower),
            google_tokenization().FullTokenizer(str(vocab), lower))


@pytest.fixture(scope="module")
def pair(shared_data):
    return tokenizer_pair


def assert_same(ours, google, texts: list[str]) -> None:
    expected = [google.tokenize(text) for text in texts]
    batch = ours.tokenize_many(texts)
    differing = [(text, got, want) for text, got, want in zip(texts, batch, expected) if got != want]
    assert not differing, f"{len(differing)} of {len(texts)} texts differ, first: {differing[0]!r}"
    singles = [ours.tokenize(text) for text in texts[:200]]
    assert singles == expected[:200]


# --- parity with Google on the edge cases and slices of the real data -------------------------

@pytest.mark.parametrize(("name", "lower"), CONFIGS, ids=CONFIG_IDS)
def test_edge_cases_match_google(pair, name, lower):
    ours, google = pair(name, lower)
    texts = corpora.edge_cases()
    assert len(texts) > 100
    assert_same(ours, google, texts)
    # the reference port is exact too (it is what the fast path is reasoned from)
    assert [ours.tokenize_exact(t) for t in texts] == [google.tokenize(t) for t in texts]


def test_edge_cases_exercise_the_hard_rules(pair):
    ours, _ = pair("uncased", True)
    by_text = dict(zip(corpora.edge_cases(), ours.tokenize_many(corpora.edge_cases())))
    assert by_text["[MASK] [CLS] [SEP] [UNK] [PAD] [unused1] [unused99]"][:3] == ["[", "mask", "]"]
    assert by_text["a" * 200] != ["[UNK]"] and by_text["a" * 201] == ["[UNK]"]
    # 201 composed e-acute: NFD then stripping keeps 201 chars -> [UNK]
    assert by_text["\u00e9" * 201] == ["[UNK]"]
    # 200 decomposed e + accent: 400 chars raw, 200 after stripping -> not [UNK]
    assert by_text["E\u0301" * 200] != ["[UNK]"]


@pytest.mark.parametrize(("name", "lower"), CONFIGS, ids=CONFIG_IDS)
def test_real_data_slice_matches_google(pair, name, lower):
    ours, google = pair(name, lower)
    texts = (corpora.squad_texts()[:600] + corpora.cluener_texts()[:400]
             + corpora.tnews_texts()[:400] + corpora.glue_sentences()[:400])
    assert_same(ours, google, texts)


def test_squad_doc_tokens_one_by_one_match_google(pair):
    ours, google = pair("uncased", True)
    doc_tokens = corpora.squad_doc_tokens(corpora.squad_texts()[:300])
    assert len(doc_tokens) > 4000
    assert_same(ours, google, doc_tokens)


def test_long_words_around_the_200_char_limit(pair):
    for name, lower in CONFIGS:
        ours, google = pair(name, lower)
        texts = [prefix + "x" * n for n in range(99, 202) for prefix in ("", "\u00e9", "\u0130")]
        assert_same(ours, google, texts)


ALPHABET = st.sampled_from(list(
    "aAzZ09 .,;'\"-[]#$^`|~\t\r\u00a0\u3000\u2028\x00\x01\x7f\x85\u200b\u00ad\ufffd"
    "\u00e9\u00c9\u0301\u0308\u0323\u0345\u0130\u0131\u03a3\u03c3\u03c2\u0391\u1f08\u00df\ufb01"
    "\u4e2d\u6587\u3002\uff0c\uff21\uff41\uf900\u2f00\u3400\ud55c\u30ab\U00020000\U0002b820"
    "\U0001f600\U0001d165\U0001d16d\ue000\u0378\u302e\u0e31\u094d"))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=40), lower=st.booleans())
def test_fast_basic_equals_reference_on_random_text(text, lower):
    assert fast_basic_tokenize(text, lower) == basic_tokenize(text, lower)


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=40))
def test_random_text_matches_google(pair, text):
    ours, google = pair("chinese", True)
    assert ours.tokenize(text) == google.tokenize(text)


# --- interface ---------------------------------------------------------------------------------

def test_special_tokens_ids_and_describe(uncased_vocab):
    tokenizer = load_tokenizer(vocab=uncased_vocab)
    assert tokenizer.kind == "wordpiece" and tokenizer.do_lower_case is True
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id,
            tokenizer.mask_id) == (0, 100, 101, 102, 103)
    assert tokenizer.convert_ids_to_tokens([101, 1996, 102]) == ["[CLS]", "the", "[SEP]"]
    tokens = tokenizer.tokenize("The unaffable man.")
    assert tokenizer.convert_ids_to_tokens(tokenizer.convert_tokens_to_ids(tokens)) == tokens
    described = tokenizer.describe()
    assert described["vocab_sha256"] == hashlib.sha256(uncased_vocab.read_bytes()).hexdigest()
    assert described["vocab_size"] == 30522 and described["do_lower_case"] is True
    with pytest.raises(InputError, match="not in the vocab"):
        tokenizer.convert_tokens_to_ids(["no-such-piece"])


def test_ids_match_google(pair):
    ours, google = pair("chinese", True)
    texts = corpora.cluener_texts()[:50]
    for text in texts:
        tokens = ours.tokenize(text)
        assert ours.convert_tokens_to_ids(tokens) == google.convert_tokens_to_ids(tokens)


def test_exactly_one_source_is_a_usage_error(uncased_vocab):
    with pytest.raises(UsageError):
        load_tokenizer()
    with pytest.raises(UsageError):
        load_tokenizer(vocab=uncased_vocab, spm_model=uncased_vocab)


# --- vocab loading -----------------------------------------------------------------------------

def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vocab.txt"
    path.write_bytes(text.encode("utf-8"))
    return path


SPECIALS = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n"


def test_vocab_semantics(tmp_path):
    vocab = load_vocab(_write(tmp_path, SPECIALS + "  hello \n\nworld\r\n##s\n"))
    assert vocab["hello"] == 4 and vocab[""] == 5 and vocab["world"] == 6 and vocab["##s"] == 7
    assert load_vocab(UNCASED_VOCAB) == google_tokenization().load_vocab(str(UNCASED_VOCAB))


def test_missing_vocab_is_one_line_error(tmp_path):
    with pytest.raises(InputError, match="vocab file not found") as caught:
        load_tokenizer(vocab=tmp_path / "nope.txt")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("content", ["", "\n\n", "  \n"])
def test_empty_vocab_is_an_error(tmp_path, content):
    with pytest.raises(InputError, match="vocab file is empty"):
        load_tokenizer(vocab=_write(tmp_path, content))


@pytest.mark.parametrize("missing", ["[CLS]", "[SEP]", "[UNK]", "[PAD]"])
def test_vocab_lacking_a_special_token_is_an_error(tmp_path, missing):
    lines = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "the") if t != missing]
    with pytest.raises(InputError, match=re.escape(f"lacks the special token(s) {missing}")):
        load_tokenizer(vocab=_write(tmp_path, "\n".join(lines) + "\n"))
