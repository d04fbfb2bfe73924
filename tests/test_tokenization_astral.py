"""Astral characters: the fast BasicTokenizer's classes cover only those met, and stay exact.

bertkit/tokenization/fast_basic.py builds its character classes over the BMP plus the
astral code points of the texts it has seen (growing as new ones come), not over all
1,114,112 code points. A class that misses a member met in a text gives a wrong split,
a kept control character or a kept accent; these tests put every astral member of a
class (punctuation, Cf controls, Mn marks), Google's astral CJK ranges and the
compatibility ideographs into texts and compare with Google's own BasicTokenizer
(bert-tensorflow), each starting from classes that know no astral character.
"""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest
from google_oracle import google_tokenization

from bertkit.tokenization import fast_basic
from bertkit.tokenization.fast_basic import fast_basic_tokenize
from bertkit.tokenization.reference import CJK_RANGES, is_cjk, is_control, is_punctuation

ASTRAL = range(0x10000, sys.maxunicode + 1)
# Every astral member of a category-defined class (Unicode has no astral Cc or Zs).
ASTRAL_MEMBERS = [cp for cp in ASTRAL
                  if unicodedata.category(chr(cp))[0] == "P"
                  or unicodedata.category(chr(cp)) in ("Cf", "Mn")]
ASTRAL_CJK = [cp for low, high in CJK_RANGES if high > 0xFFFF
              for cp in (low, low + 1, (low + high) // 2, high - 1, high)]
# NFD maps these to other ideographs, 107 of them astral (U+2F803 -> U+20122).
COMPATIBILITY_SUPPLEMENT = list(range(0x2F800, 0x2FA20, 7)) + [0x2F803, 0x2FA1D, 0x2FA1F]
# Not members: they must stay inside their word (letters, one that NFD splits into a
# letter and an astral Mn, symbols and emoji, Mc marks, digits, private use, unassigned,
# code points just outside Google's CJK ranges).
NON_MEMBERS = [0x10400, 0x10428, 0x1109A, 0x1D15E, 0x1F600, 0x1F3FB, 0x1D165, 0x1D7CE,
               0xF0000, 0x10FFFD, 0x2A6E0, 0x2CEB0, 0x30000, 0x2FA20, 0xE0080, 0x1FFFE]
INTERESTING = sorted(set(ASTRAL_MEMBERS + ASTRAL_CJK + COMPATIBILITY_SUPPLEMENT + NON_MEMBERS))


@pytest.fixture
def fresh_classes(monkeypatch):
    """Classes that know no astral character yet, with no fallback to the full ones."""
    grower = fast_basic._AstralPatterns()
    monkeypatch.setattr(fast_basic, "_astral_patterns", lambda: grower)
    monkeypatch.setattr(fast_basic, "_MAX_REBUILDS", 10_000)
    monkeypatch.setattr(fast_basic, "_MAX_ASTRAL_MET", 10_000)
    return grower


@pytest.fixture(scope="module")
def google_basic():
    tokenization = google_tokenization()
    return {lower: tokenization.BasicTokenizer(do_lower_case=lower) for lower in (True, False)}


def in_contexts(char: str) -> str:
    """`char` between letters, doubled, between CJK ideographs, after a digit and before a
    combining mark."""
    return f"a{char}b {char}{char} \u4e2d{char}\u6587 1{char}. A{char}\u0301"


def differing(texts: list[str], basic, lower: bool) -> list[tuple[str, list[str], list[str]]]:
    return [(text, got, want) for text in texts
            if (got := fast_basic_tokenize(text, lower)) != (want := basic.tokenize(text))]


def test_member_lists_are_what_the_rules_name():
    assert len(ASTRAL_MEMBERS) > 1000  # 886 Mn, 194 punctuation, 120 Cf in Unicode 14
    assert sum(is_cjk(cp) for cp in ASTRAL_CJK) == len(ASTRAL_CJK)
    assert any(ord(unicodedata.normalize("NFD", chr(cp))) > 0xFFFF
               for cp in COMPATIBILITY_SUPPLEMENT)
    assert not any(is_cjk(cp) or is_punctuation(chr(cp)) or is_control(chr(cp))
                   or unicodedata.category(chr(cp)) == "Mn" for cp in NON_MEMBERS)


def test_classes_over_some_astral_code_points_are_exact_on_them():
    """Each class, built over these astral code points, says of each what Google's
    per-character rules say (the rules are checked against Google in test_tokenization)."""
    chars = [chr(cp) for cp in INTERESTING]
    patterns = fast_basic._Patterns(frozenset(chars))
    wrong = [f"U+{ord(c):04X}" for c in chars
             if bool(patterns.control.fullmatch(c)) != is_control(c)
             or bool(patterns.nonspacing_mark.fullmatch(c)) != (unicodedata.category(c) == "Mn")
             or bool(patterns.cjk.fullmatch(c)) != is_cjk(ord(c))
             # a punctuation or CJK char is a token alone; another is part of a word
             or (patterns.token.findall(f"a{c}b") == ["a", c, "b"])
             != (is_punctuation(c) or is_cjk(ord(c)))]
    assert wrong == []


@pytest.mark.parametrize("lower", [True, False], ids=["lower", "cased"])
def test_texts_with_astral_characters_match_google(fresh_classes, google_basic, lower):
    chars = [chr(cp) for cp in INTERESTING]
    # Many new characters per text first (the classes grow by a batch), then each one in
    # the contexts; every text is checked against Google.
    batches = [" ".join(in_contexts(c) for c in chars[i:i + 40]) for i in range(0, len(chars), 40)]
    assert differing(batches, google_basic[lower], lower) == []
    assert fresh_classes.current.astral is not None  # the subset classes did the work
    assert differing([in_contexts(c) for c in chars], google_basic[lower], lower) == []


@pytest.mark.parametrize("lower", [True, False], ids=["lower", "cased"])
def test_each_astral_character_alone_with_fresh_classes(monkeypatch, google_basic, lower):
    """One character per text, each time from classes that know no astral character."""
    samples = [0x1E95E, 0x10100, 0x16FE2, 0x11A3F, 0xE0001, 0x1D173, 0x110BD, 0x13430,
               0x1D167, 0xE0100, 0x101FD, 0x20000, 0x2A6DF, 0x2CEAF, 0x2F803, 0x2FA1D,
               0x1109A, 0x1D15E, 0x10400, 0x1F600, 0x30000]
    wrong = []
    for cp in samples:
        grower = fast_basic._AstralPatterns()
        monkeypatch.setattr(fast_basic, "_astral_patterns", lambda grower=grower: grower)
        wrong += differing([chr(cp), in_contexts(chr(cp))], google_basic[lower], lower)
    assert wrong == []


def test_the_classes_grow_only_for_new_characters_then_fall_back(monkeypatch, google_basic):
    grower = fast_basic._AstralPatterns()
    monkeypatch.setattr(fast_basic, "_astral_patterns", lambda: grower)
    monkeypatch.setattr(fast_basic, "_MAX_REBUILDS", 3)
    basic = google_basic[True]
    # U+1109A decomposes into U+11099 and the astral mark U+110BA, which the classes
    # must learn after NFD for the mark to be stripped.
    assert fast_basic_tokenize("x\U0001109Ay", True) == basic.tokenize("x\U0001109Ay") == ["x\U00011099y"]
    assert grower.current.astral == frozenset("\U0001109A\U00011099\U000110BA")
    rebuilds = grower.rebuilds
    fast_basic_tokenize("\U0001109A \u4e2d", True)
    assert grower.rebuilds == rebuilds  # nothing new: no rebuild
    texts = ["a\U0001E95Eb", "\U00020000\U0002A6DF", "a\U000E0001b", "\U0002F803 a\U00010100"]
    assert differing(texts, basic, True) == []
    assert grower.current.astral is None  # past the limit: the classes over all of Unicode
    assert differing([in_contexts(chr(cp)) for cp in INTERESTING[::7]], basic, True) == []


@pytest.mark.parametrize("lower", [True, False], ids=["lower", "cased"])
def test_chinese_contexts_with_astral_characters_match_google(shared_data, fresh_classes,
                                                              google_basic, lower):
    """The CMRC 2018 and DRCD dev paragraphs that hold astral characters (the corpus of
    the prep pretrain benchmark), whole and line by line."""
    paragraphs = []
    for path in (shared_data / "cmrc2018" / "cmrc2018_dev.json",
                 shared_data / "drcd" / "DRCD_dev.json"):
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        paragraphs += [p["context"] for article in data for p in article["paragraphs"]
                       if fast_basic._ASTRAL.search(p["context"])]
    assert paragraphs  # 4 astral characters in 3 distinct ones at the time of writing
    texts = paragraphs + [line for p in paragraphs for line in p.splitlines()]
    assert differing(texts, google_basic[lower], lower) == []
    assert fresh_classes.current.astral  # learnt from these texts
