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
rules track the Python version exactly as Google's code would. Large classes are split
into a bitmap-friendly BMP part and an astral part behind a one-range check, so the
regex engine tests each character in constant time.

The whole-text equivalences above are checked on every code point in several contexts
(tests/test_tokenization_codepoints.py) and on all the real corpora against Google's
own code.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from array import array
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain

from bertkit.tokenization.reference import CJK_RANGES

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


class _Patterns:
    """The compiled character classes, derived from this Python's `unicodedata`.

    ``last_code_point`` 0xFFFF builds the classes over the BMP only: on text without
    astral characters they match exactly what the full classes match, and scanning
    65,536 code points instead of 1,114,112 takes a few ms instead of ~0.1 s, which
    every CLI run (a fresh process) would otherwise pay before its first text.
    """

    def __init__(self, last_code_point: int = sys.maxunicode) -> None:
        # Every code point's two-letter category, back to back: a run of code points in
        # some categories is then one regex match (categories are an upper-case letter
        # and a lower-case one, so a match never starts inside a category).
        categories = "".join(map(unicodedata.category, _text_of(range(last_code_point + 1))))

        def runs(category: str) -> list[tuple[int, int]]:
            return [(match.start() // 2, match.end() // 2 - 1)
                    for match in re.finditer(f"(?:{category})+", categories)]

        control = [0, 0xFFFD] + [cp for low, high in runs("C[cf]") for cp in range(low, high + 1)
                                 if cp not in (9, 10, 13)]
        punctuation = runs("P[a-z]") + list(ASCII_PUNCTUATION_RANGES)
        cjk = [(low, min(high, last_code_point)) for low, high in CJK_RANGES
               if low <= last_code_point]
        compatibility = [(low, min(high, last_code_point)) for low, high in CJK_COMPATIBILITY_RANGES
                         if low <= last_code_point]
        self.control = re.compile(char_class(control))
        self.nonspacing_mark = re.compile(ranges_class(runs("Mn")))
        self.cjk = re.compile(ranges_class(cjk))
        self.cjk_compatibility = re.compile(ranges_class(compatibility))
        splitting = ranges_class(punctuation + cjk)
        # One CJK or punctuation char, or a maximal run of chars that are neither nor space.
        self.token = re.compile(f"{splitting}|(?:(?!{splitting})\\S)+")


_ASCII_PUNCTUATION = "".join(re.escape(chr(cp)) for low, high in ASCII_PUNCTUATION_RANGES
                             for cp in range(low, high + 1))
_ASCII_TOKEN = re.compile(f"[{_ASCII_PUNCTUATION}]|[^\\s{_ASCII_PUNCTUATION}]+")
_ASCII_CONTROL = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]")
# Text that needs the full classes: an astral character, or a compatibility ideograph
# (NFD maps some of those, e.g. U+FA6C, to astral CJK characters).
_NEEDS_FULL_CLASSES = re.compile("[\\U00010000-\\U0010ffff\\uf900-\\ufaff]")


@lru_cache(maxsize=1)
def patterns() -> _Patterns:
    return _Patterns()


@lru_cache(maxsize=1)
def bmp_patterns() -> _Patterns | None:
    """The classes over the BMP, or None if they cannot stand in for the full ones.

    They can when lower-casing and NFD never carry a BMP character outside the
    compatibility ideographs into the astral planes (true for the Unicode versions we
    know; checked here in one C-level pass so a future table cannot silently break it).
    """
    bmp = _text_of(chain(range(0xD800), range(0xE000, 0xF900), range(0xFB00, 0x10000)))
    if max(unicodedata.normalize("NFD", bmp.lower())) > "\uffff":
        return None
    return _Patterns(0xFFFF)


def fast_basic_tokenize(text: str, do_lower_case: bool) -> list[str]:
    """Exactly `BasicTokenizer(do_lower_case).tokenize(text)` (see the module docstring)."""
    if text.isascii():
        # ASCII has no CJK, no marks, and lower() is context free: the short road.
        if _ASCII_CONTROL.search(text):
            text = _ASCII_CONTROL.sub("", text)
        return _ASCII_TOKEN.findall(text.lower() if do_lower_case else text)
    bmp = bmp_patterns()
    p = bmp if bmp is not None and not _NEEDS_FULL_CLASSES.search(text) else patterns()
    # Text with a compatibility ideograph always takes the full classes, so on the BMP
    # road there is none to look for.
    bmp_road = p is bmp
    if p.control.search(text):
        text = p.control.sub("", text)
    if do_lower_case:
        if not bmp_road and p.cjk_compatibility.search(text):
            text = p.cjk.sub(r" \g<0> ", text)
        text = text.lower()
        if not unicodedata.is_normalized("NFD", text):
            text = unicodedata.normalize("NFD", text)
        if p.nonspacing_mark.search(text):
            text = p.nonspacing_mark.sub("", text)
    return p.token.findall(text)
