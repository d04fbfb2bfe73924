"""The fast paths of `prep squad` on Chinese text give what the plain paths give.

Character doc tokens of many contexts at once (`cjk_doc_tokens_many`), the CJK share by
table lookup, and single-ideograph doc tokens tokenized by a vocab lookup
(`tokenize_words`); each is compared with the per-context / per-word original on real
CMRC and DRCD text and on generated text. Whole-file output (records and sidecar) is
checked byte for byte by the Google identity tests (English) and the Chinese prep tests.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.prep.squad.chinese import (
    CJK_CHARS,
    _cjk_doc_tokens_by_char,
    cjk_doc_token_arrays,
    cjk_doc_tokens,
    cjk_doc_tokens_many,
    cjk_share,
)
from bertkit.prep.squad.encode import _CjkWords, tokenize_words
from bertkit.prep.squad.reader import SquadParagraph, _Context, load_json
from bertkit.tokenization import load_tokenizer
from bertkit.tokenization.reference import CJK_RANGES

ALPHABET = list(
    "北京大學abc 12\t\n，。,.-'\"\\\u3000\u00a0\u200b\x00\u2028\x1c\x1f\ufffdé々豈\uffff"
    "\U00020000\U0001f600"
) + ["\ud800"]


def contexts_of(path: Path) -> list[str]:
    return [p["context"] for article in load_json(path)["data"] for p in article["paragraphs"]]


def share_by_regex(contexts: list[str]) -> float:
    cjk = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in CJK_RANGES) + "]")
    total = sum(len(c) - len(re.findall(r"\s", c)) for c in contexts)
    return sum(len(cjk.findall(c)) for c in contexts) / total if total else 0.0


@pytest.mark.parametrize("name", ["cmrc2018/cmrc2018_dev.json", "drcd/DRCD_dev.json",
                                  "squad_v1.1/dev-v1.1.json"])
def test_many_contexts_at_once_equal_one_by_one_on_real_files(shared_data: Path, name: str):
    contexts = contexts_of(shared_data / name)[:400]
    assert cjk_doc_tokens_many(contexts) == [cjk_doc_tokens(c) for c in contexts]
    assert cjk_share(contexts) == share_by_regex(contexts)


@settings(deadline=None, max_examples=150)
@given(st.lists(st.text(alphabet=st.sampled_from(ALPHABET), max_size=25), max_size=8))
def test_many_contexts_at_once_equal_the_per_character_rule(contexts: list[str]) -> None:
    assert cjk_doc_tokens_many(contexts) == [_cjk_doc_tokens_by_char(c) for c in contexts]
    assert cjk_share(contexts) == share_by_regex(contexts)


@settings(deadline=None, max_examples=150)
@given(st.lists(st.text(alphabet=st.sampled_from(ALPHABET), max_size=25), max_size=8))
def test_keyed_doc_tokens_stand_for_the_token_strings(contexts: list[str]) -> None:
    """Prep works on token keys and offsets, never on per-character strings: equal keys
    are equal tokens (across contexts), the distinct words found from the keys are the
    distinct tokens, and the answer check's joined tokens come from the context."""
    made = cjk_doc_token_arrays(contexts)
    tokens = [_cjk_doc_tokens_by_char(c)[0] for c in contexts]
    key_of: dict[str, int] = {}
    for item, expected in zip(made, tokens):
        for key, token in zip(item.keys.tolist(), expected):
            assert key_of.setdefault(token, key) == key
        assert len(set(item.keys.tolist())) == len(set(expected))
    paragraphs = [SquadParagraph([], context=c, cjk=item) for c, item in zip(contexts, made)]
    if paragraphs:
        words = _CjkWords(paragraphs)
        assert sorted(words.words) == sorted({t for ts in tokens for t in ts})
        assert [words.words[row] for row in words.rows.tolist()] == [t for ts in tokens
                                                                     for t in ts]
    for context, item, expected in zip(contexts, made, tokens):
        parsed = _Context(context, CJK_CHARS, item)
        for first in range(len(expected)):
            for last in range(first, len(expected)):
                assert parsed.words_text(first, last) == "".join(expected[first : last + 1])
        for char in range(len(context)):
            assert parsed.word_of_char(char) == sum(
                start <= char for start in _cjk_doc_tokens_by_char(context)[1]) - 1


def test_empty_inputs() -> None:
    assert cjk_doc_tokens_many([]) == []
    assert cjk_doc_tokens_many(["", " \n"]) == [([], []), ([], [])]
    assert cjk_share([]) == 0.0


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_single_ideographs_by_vocab_lookup_equal_the_tokenizer(
    chinese_vocab: Path, do_lower_case: bool
) -> None:
    tokenizer = load_tokenizer(vocab=chinese_vocab, do_lower_case=do_lower_case)
    ideographs = [chr(cp) for low, high in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF))
                  for cp in range(low, high + 1)]
    others = ["豈", "\U00020000", "中文", "Ａ", "ab", "，", "x"]  # left to the tokenizer
    words = others + random.Random(0).sample(ideographs, 3000) + others
    # Every ideograph the vocab lacks is [UNK]; some are in it.
    assert tokenize_words(tokenizer, words) == [tokenizer.tokenize_exact(w) for w in words]
    assert tokenize_words(tokenizer, ideographs) == [[w] if w in tokenizer.vocab else ["[UNK]"]
                                                     for w in ideographs]
    assert {tuple(p) for p in tokenize_words(tokenizer, ideographs)} >= {("[UNK]",), ("中",)}
