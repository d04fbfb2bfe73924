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
from collections.abc import Iterable
from functools import lru_cache

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
    """A regex matching one of `code_points`, fast for BMP text.

    Python's regex compiler turns a BMP-only class into a bitmap but scans a list of
    ranges when astral code points are present, so the two halves are kept apart.
    """
    points = sorted(set(code_points))
    bmp = [cp for cp in points if cp <= 0xFFFF]
    astral = [cp for cp in points if cp > 0xFFFF]
    parts = []
    if bmp:
        parts.append(f"[{_class_body(_ranges(bmp))}]")
    if astral:
        parts.append(f"(?=[\\U00010000-\\U0010ffff])[{_class_body(_ranges(astral))}]")
    return "(?:" + "|".join(parts) + ")"


class _Patterns:
    """The compiled character classes, derived from this Python's `unicodedata`."""

    def __init__(self) -> None:
        categories = list(map(unicodedata.category, map(chr, range(sys.maxunicode + 1))))
        control = [0, 0xFFFD] + [cp for cp, cat in enumerate(categories)
                                 if cat in ("Cc", "Cf") and cp not in (9, 10, 13)]
        nonspacing_marks = [cp for cp, cat in enumerate(categories) if cat == "Mn"]
        punctuation = [cp for cp, cat in enumerate(categories) if cat[0] == "P"]
        punctuation += [cp for low, high in ASCII_PUNCTUATION_RANGES for cp in range(low, high + 1)]
        cjk = [cp for low, high in CJK_RANGES for cp in range(low, high + 1)]
        compatibility = [cp for low, high in CJK_COMPATIBILITY_RANGES
                         for cp in range(low, high + 1)]
        self.control = re.compile(char_class(control))
        self.nonspacing_mark = re.compile(char_class(nonspacing_marks))
        self.cjk = re.compile(char_class(cjk))
        self.cjk_compatibility = re.compile(char_class(compatibility))
        splitting = char_class(set(punctuation) | set(cjk))
        # One CJK or punctuation char, or a maximal run of chars that are neither nor space.
        self.token = re.compile(f"{splitting}|(?:(?!{splitting})\\S)+")
        ascii_punct = "".join(re.escape(chr(cp)) for low, high in ASCII_PUNCTUATION_RANGES
                              for cp in range(low, high + 1))
        self.ascii_token = re.compile(f"[{ascii_punct}]|[^\\s{ascii_punct}]+")
        self.ascii_control = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]")


@lru_cache(maxsize=1)
def patterns() -> _Patterns:
    return _Patterns()


def fast_basic_tokenize(text: str, do_lower_case: bool) -> list[str]:
    """Exactly `BasicTokenizer(do_lower_case).tokenize(text)` (see the module docstring)."""
    p = patterns()
    if text.isascii():
        # ASCII has no CJK, no marks, and lower() is context free: the short road.
        if p.ascii_control.search(text):
            text = p.ascii_control.sub("", text)
        return p.ascii_token.findall(text.lower() if do_lower_case else text)
    if p.control.search(text):
        text = p.control.sub("", text)
    if do_lower_case:
        if p.cjk_compatibility.search(text):
            text = p.cjk.sub(r" \g<0> ", text)
        text = text.lower()
        if not unicodedata.is_normalized("NFD", text):
            text = unicodedata.normalize("NFD", text)
        if p.nonspacing_mark.search(text):
            text = p.nonspacing_mark.sub("", text)
    return p.token.findall(text)
