"""Every code point: the fast BasicTokenizer equals the char-by-char reference, both casings.

The fast path's whole-text tricks (lower-casing and NFD on the whole text, one regex for
the splits; see bertkit/tokenization/fast_basic.py) are only valid if no character
behaves differently in context. Each code point is therefore probed alone and inside
neighbourhoods that stress those tricks: letters on both sides, doubled, after digits,
between CJK ideographs, in brackets, before a combining mark, next to capital sigma
(final-sigma context), and next to a compatibility ideograph (CJK spacing before NFD).
The reference itself is checked against Google's code in test_tokenization.py.
"""

from __future__ import annotations

import sys

import pytest

from bertkit.tokenization.fast_basic import fast_basic_tokenize
from bertkit.tokenization.reference import basic_tokenize


def probes(char: str) -> tuple[str, str]:
    in_context = (f"a{char}b A{char}B {char}{char} 1{char}. \u4e2d{char}\u6587 ({char}) "
                  f"x{char}\u0301 \u03a3{char} A\u03a3{char} {char}\u03a3 \uf900{char}")
    return (char, in_context)


def differing_code_points(code_points, do_lower_case: bool) -> list[str]:
    bad = []
    for code_point in code_points:
        for probe in probes(chr(code_point)):
            if fast_basic_tokenize(probe, do_lower_case) != basic_tokenize(probe, do_lower_case):
                bad.append(f"U+{code_point:04X}")
                break
    return bad


# Blocks where the rules bite: ASCII, Latin-1 and Latin Extended, combining marks, Greek,
# Cyrillic, Hebrew, Arabic, Devanagari, Thai, Hangul jamo, general punctuation, letterlike,
# CJK symbols, kana, CJK compatibility, ligatures, full-width forms, specials, and astral
# samples (musical symbols, emoji, CJK extensions, tags, private use).
SLICE = [
    *range(0x0600), *range(0x0900, 0x0980), *range(0x0E00, 0x0E80),
    *range(0x1100, 0x1200), *range(0x1E00, 0x2200), *range(0x2E80, 0x3100),
    *range(0xF900, 0xFB50), *range(0xFE00, 0x10000),
    *range(0x1D150, 0x1D1F0), *range(0x1F300, 0x1F700), *range(0x2B800, 0x2B830),
    *range(0x2CEA0, 0x2CEC0), *range(0x2F800, 0x2F810), *range(0xE0000, 0xE0080),
    0x20000, 0x2A6DF, 0x30000, 0xF0000, 0x10FFFF,
    *range(0, sys.maxunicode + 1, 4999),   # a thin stride over everything
]


@pytest.mark.parametrize("lower", [True, False], ids=["lower", "cased"])
def test_code_point_slice(lower):
    assert differing_code_points(SLICE, lower) == []


# All 1,114,112 code points take about 150 s on CI's two cores, for what the slice above
# already probes block by block: run them with -m slow after touching fast_basic.py.
@pytest.mark.slow
@pytest.mark.oracle
@pytest.mark.parametrize("lower", [True, False], ids=["lower", "cased"])
def test_every_code_point(lower):
    assert differing_code_points(range(sys.maxunicode + 1), lower) == []
