"""Google's BasicTokenizer rules, run with C-level string operations instead of per-char Python.

Google's `BasicTokenizer` spends its time in Python loops over characters. Every step
it takes can be expressed as a whole-text operation that CPython runs in C, using the
*same* `unicodedata` tables, so the result is identical by construction:

1. `_clean_text` drops U+0000, U+FFFD and control characters (`Cc`/`Cf` except tab,
   newline, carriage return): one regex substitution. Mapping whitespace to a space is
   not needed, because every character it maps is whitespace to the later splitting too.
2. lower-casing: `str.lower()` on the whole text instead of per whitespace token. The
   only context-sensitive rule, final sigma, looks at neighbouring cased and
   case-ignorable characters; whitespace is neither, so a token boundary and a space
   give the same answer (and the context-sensitive `Cf` characters were removed in 1).
3. accent stripping: NFD then delete `Mn`. NFD never reorders across whitespace (a
   starter), so normalizing the whole text equals normalizing token by token. Both are
   skipped when a quick check shows they would change nothing.
4. CJK spacing, whitespace split, punctuation split and the final split become one
   `findall`: a token is one CJK ideograph, one punctuation character, or a maximal run
   of other non-whitespace characters (`\\S` is `str.split`'s whitespace).
   Google spaces out CJK *before* NFD; we classify after it. The two agree unless NFD
   maps a CJK character out of the CJK ranges or into them, which happens only for the
   compatibility ideographs; texts containing one are spaced out first, like Google.

The character classes are built at first use from the running `unicodedata`, so the
rules track the Python version exactly as Google's code would. They cover the BMP plus
only the astral characters met so far (an emoji or a rare ideograph adds itself; text
with too many distinct ones gets the classes over all of Unicode): a class is only ever
asked about characters of the text in hand, so it is exact as long as it covers them.
Large classes are split into a bitmap-friendly BMP part and an astral part behind a
one-range check, so the regex engine tests each BMP character in constant time.

The whole-text equivalences above are checked code point by code point in several contexts
(tests/test_tokenization_codepoints.py: the blocks where the rules bite in every run, all
1,114,112 code points with -m slow) and on all the real corpora against Google's own code.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from array import array
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache
from itertools import chain
from typing import NamedTuple

from bertkit.tokenization.reference import CJK_RANGES, is_cjk

ASCII_PUNCTUATION_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))
# Compatibility ideographs: NFD maps them to other code points, so they need Google's
# spacing *before* normalization.
CJK_COMPATIBILITY_RANGES = ((0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _ranges(code_points: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for code_point in sorted(code_points):
        if out and out[-1][1] == code_point - 1:
            out[-1] = (out[-1][0], code_point)
        else:
            out.append((code_point, code_point))
    return out


def _class_body(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}"
                   for low, high in ranges)


def char_class(code_points: Iterable[int]) -> str:
    """A regex matching one of `code_points`, fast for BMP text (see `ranges_class`)."""
    return ranges_class(_ranges(set(code_points)))


def ranges_class(ranges: Iterable[tuple[int, int]]) -> str:
    """A regex matching a code point in one of the inclusive `ranges`, fast for BMP text.

    Python's regex compiler turns a BMP-only class into a bitmap but scans a list of
    ranges when astral code points are present, so the two halves are kept apart.
    """
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    bmp = [(low, min(high, 0xFFFF)) for low, high in merged if low <= 0xFFFF]
    astral = [(max(low, 0x10000), high) for low, high in merged if high > 0xFFFF]
    parts = []
    if bmp:
        parts.append(f"[{_class_body(bmp)}]")
    if astral:
        parts.append(f"(?=[\\U00010000-\\U0010ffff])[{_class_body(astral)}]")
    return "(?:" + "|".join(parts) + ")"


def _text_of(code_points: Iterable[int]) -> str:
    """The string of these code points (surrogates included), built in C, not by `chr`."""
    return array("I", code_points).tobytes().decode("utf-32-le" if sys.byteorder == "little"
                                                     else "utf-32-be", "surrogatepass")


class _ClassRanges(NamedTuple):
    """Each class's inclusive code-point ranges over some set of code points."""

    control: list[tuple[int, int]]
    nonspacing_mark: list[tuple[int, int]]
    punctuation: list[tuple[int, int]]
    cjk: list[tuple[int, int]]


def _class_ranges(code_points: Sequence[int]) -> _ClassRanges:
    """The classes over `code_points` (ascending; contiguous when a `range`), derived
    from this Python's `unicodedata`, exactly as Google's per-character tests decide."""
    # Every code point's two-letter category, back to back: a run of code points in
    # some categories is then one regex match (categories are an upper-case letter
    # and a lower-case one, so a match never starts inside a category).
    categories = "".join(map(unicodedata.category, _text_of(code_points)))
    contiguous = isinstance(code_points, range) and code_points.step == 1

    def runs(category: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for match in re.finditer(f"(?:{category})+", categories):
            first, last = match.start() // 2, match.end() // 2 - 1
            if contiguous:
                out.append((code_points[first], code_points[last]))
            else:  # a few scattered code points: one range each (merged later)
                out.extend((cp, cp) for cp in code_points[first:last + 1])
        return out

    control = _ranges(cp for low, high in runs("C[cf]") for cp in range(low, high + 1)
                      if cp not in (9, 10, 13))
    if contiguous:
        cjk = [(max(low, code_points.start), min(high, code_points.stop - 1))
               for low, high in CJK_RANGES
               if low < code_points.stop and high >= code_points.start]
    else:
        cjk = [(cp, cp) for cp in code_points if is_cjk(cp)]
    return _ClassRanges(control, runs("Mn"), runs("P[a-z]"), cjk)


@lru_cache(maxsize=1)
def _bmp_class_ranges() -> _ClassRanges:
    ranges = _class_ranges(range(0x10000))
    # The two fixed members: U+0000 (Cc anyway) and U+FFFD (So), dropped by _clean_text;
    # and ASCII's symbols, punctuation to Google.
    return ranges._replace(control=ranges.control + [(0, 0), (0xFFFD, 0xFFFD)],
                           punctuation=ranges.punctuation + list(ASCII_PUNCTUATION_RANGES))


class _Patterns:
    """The compiled character classes over the BMP and the astral code points `astral`
    (None: every astral code point).

    A single-character class built over a set of code points matches, on a text whose
    characters all lie in that set, exactly what the class over all of Unicode matches,
    and so do the patterns composed from such classes. Scanning the 1,048,576 astral code
    points for the full classes takes ~0.25 CPU s, which every CLI run (a fresh process)
    would pay for a single emoji or rare ideograph; the BMP takes ~0.02 s, and a few
    astral code points next to nothing.
    """

    def __init__(self, astral: frozenset[str] | None) -> None:
        self.astral = astral
        if astral is None:
            astral_code_points: Sequence[int] = range(0x10000, sys.maxunicode + 1)
        else:
            astral_code_points = sorted(map(ord, astral))
        parts = [_bmp_class_ranges()]
        if astral_code_points:
            parts.append(_class_ranges(astral_code_points))
        control, nonspacing_mark, punctuation, cjk = (
            [r for part in parts for r in getattr(part, name)] for name in _ClassRanges._fields)
        self.control = re.compile(ranges_class(control))
        self.nonspacing_mark = re.compile(ranges_class(nonspacing_mark))
        self.cjk = re.compile(ranges_class(cjk))
        splitting = ranges_class(punctuation + cjk)
        # One CJK or punctuation char, or a maximal run of chars that are neither nor space.
        self.token = re.compile(f"{splitting}|(?:(?!{splitting})\\S)+")

    def covers(self, astral: AbstractSet[str]) -> bool:
        return self.astral is None or astral <= self.astral


_ASCII_PUNCTUATION = "".join(re.escape(chr(cp)) for low, high in ASCII_PUNCTUATION_RANGES
                             for cp in range(low, high + 1))
_ASCII_TOKEN = re.compile(f"[{_ASCII_PUNCTUATION}]|[^\\s{_ASCII_PUNCTUATION}]+")
_ASCII_CONTROL = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]")
_ASTRAL = re.compile("[\\U00010000-\\U0010ffff]")
_CJK_COMPATIBILITY = re.compile(ranges_class(CJK_COMPATIBILITY_RANGES))
# Text that needs more than the BMP classes: an astral character, or a compatibility
# ideograph (NFD maps some of those, e.g. U+FA6C, to astral CJK characters).
_BEYOND_BMP_CLASSES = re.compile("[\\U00010000-\\U0010ffff\\uf900-\\ufaff]")
# Astral code points met before falling back to the full classes, and how many times the
# classes may be rebuilt for newly met ones: each rebuild costs a few ms, the full build
# ~0.25 s, so text full of distinct rare characters pays at most about twice the old cost.
_MAX_ASTRAL_MET = 2048
_MAX_REBUILDS = 24


@lru_cache(maxsize=1)
def patterns() -> _Patterns:
    """The classes over all of Unicode."""
    return _Patterns(None)


@lru_cache(maxsize=1)
def bmp_patterns() -> _Patterns | None:
    """The classes over the BMP, or None if BMP text may need more than them.

    They suffice when lower-casing and NFD never carry a BMP character outside the
    compatibility ideographs into the astral planes (true for the Unicode versions we
    know; checked here in one C-level pass so a future table cannot silently break it).
    """
    bmp = _text_of(chain(range(0xD800), range(0xE000, 0xF900), range(0xFB00, 0x10000)))
    if max(unicodedata.normalize("NFD", bmp.lower())) > "\uffff":
        return None
    return _Patterns(frozenset())


class _AstralPatterns:
    """Classes grown to cover the astral characters met so far in this process."""

    def __init__(self) -> None:
        self.current = bmp_patterns() or _Patterns(frozenset())
        self.rebuilds = 0

    def covering(self, text: str) -> _Patterns:
        """Patterns exact on `text` (and on every text met before)."""
        current = self.current
        met = frozenset(_ASTRAL.findall(text))
        if current.covers(met):
            return current
        assert current.astral is not None  # the full classes cover everything
        wanted = current.astral | met
        self.rebuilds += 1
        if len(wanted) > _MAX_ASTRAL_MET or self.rebuilds > _MAX_REBUILDS:
            self.current = patterns()
        else:
            self.current = _Patterns(wanted)
        return self.current


@lru_cache(maxsize=1)
def _astral_patterns() -> _AstralPatterns:
    return _AstralPatterns()


def fast_basic_tokenize(text: str, do_lower_case: bool) -> list[str]:
    """Exactly `BasicTokenizer(do_lower_case).tokenize(text)` (see the module docstring)."""
    if text.isascii():
        # ASCII has no CJK, no marks, and lower() is context free: the short road.
        if _ASCII_CONTROL.search(text):
            text = _ASCII_CONTROL.sub("", text)
        return _ASCII_TOKEN.findall(text.lower() if do_lower_case else text)
    bmp = bmp_patterns()
    # BMP text without a compatibility ideograph stays in the BMP through every step and
    # takes the BMP classes. Other text takes classes grown to cover the astral
    # characters of each text they are applied to: the input's (controls, CJK spacing)
    # and, after lower-casing and NFD, the new text's (marks, tokens; NFD maps some
    # characters to astral ones, and lower() some astral letters to others).
    grown = (None if bmp is not None and not _BEYOND_BMP_CLASSES.search(text)
             else _astral_patterns())
    p = bmp if grown is None else grown.covering(text)
    if p.control.search(text):
        text = p.control.sub("", text)
    if do_lower_case:
        if grown is not None and _CJK_COMPATIBILITY.search(text):
            text = p.cjk.sub(r" \g<0> ", text)
        text = text.lower()
        if not unicodedata.is_normalized("NFD", text):
            text = unicodedata.normalize("NFD", text)
        if grown is not None:
            p = grown.covering(text)
        if p.nonspacing_mark.search(text):
            text = p.nonspacing_mark.sub("", text)
    return p.token.findall(text)
