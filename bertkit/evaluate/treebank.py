"""Penn-Treebank-style word splitting, the behaviour of NLTK's ``word_tokenize`` per sentence.

CMRC 2018's scorer runs ``nltk.word_tokenize`` on the non-Chinese runs of an answer. NLTK
would first split sentences with its Punkt model, which is data that is not available
offline; the text it sees there is already lower-cased, where Punkt almost never breaks
(a lower-case word after a period does not start a sentence), so the whole run is treated
as one sentence. The word rules below reproduce NLTK 3.x's ``NLTKWordTokenizer`` (tested
against it with hypothesis): quotes become `` and '', punctuation is split off, a period
is split only at the end, ``n't``/``'s``-style clitics and a few fused words are separated.
"""

from __future__ import annotations

import re

_Rule = tuple["re.Pattern[str]", str]


def _rules(*pairs: tuple[str, str]) -> list[_Rule]:
    return [(re.compile(pattern), replacement) for pattern, replacement in pairs]


# Opening quotes: typographic/backtick quotes, a leading or bracket-preceded double quote
# (becomes ``), and a single quote that opens a word (but not a clitic such as 's or n't).
_OPENING = _rules(
    ("([«“‘„]|[`]+)", r" \1 "),
    (r'^"', "``"),
    ("(``)", r" \1 "),
    (r"([ \(\[{<])(\"|\'{2})", r"\1 `` "),
    (r"(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)", r"\1 "),
)

# A sentence-final period (possibly followed by closing brackets/quotes) is split off;
# inner periods (3.5, u.s.) stay inside the word.
_FINAL_PERIOD_WITH_CLOSERS = r'([^\.])(\.)([\]\)}>"\'»”’ ]*+)\s*$'
_PUNCTUATION = _rules(
    (_FINAL_PERIOD_WITH_CLOSERS, r"\1 \2 \3 "),
    (r"([:,])([^\d])", r" \1 \2"),   # comma/colon not inside a number
    (r"([:,])$", r" \1 "),
    (r"\.{2,}", r" \g<0> "),          # ellipsis
    (r"[;@#$%&]", r" \g<0> "),
    (r"[\u2012-\u2015]", r" \g<0> "),  # figure/en/em dashes, horizontal bar
    (r'([^\.])(\.)([\]\)}>"\']*)\s*$', r"\1 \2\3 "),
    (r"[?!]", r" \g<0> "),
    (r"([^'])' ", r"\1 ' "),
    (r"[*]", r" \g<0> "),
    (r"[\]\[\(\)\{\}\<\>]", r" \g<0> "),
    (r"--", r" -- "),
)

# Closing quotes and clitics, applied after the text is padded with spaces.
_CLOSING = _rules(
    ("([»”’])", r" \1 "),
    ("''", " '' "),
    ('"', " '' "),
    (r"\s+", " "),
    (r"([^' ])('[sS]|'[mM]|'[dD]|') ", r"\1 \2 "),
    (r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r"\1 \2 "),
)

# Fused words split in two (cannot -> can not, gonna -> gon na, 'tis -> 't is ...): the
# whole word; "wanna" only before a space; "'tis"/"'twas" only after one.
_FUSED = _rules(*(
    (rf"(?i){before}({first})({second}){after}", r" \1 \2 ")
    for before, after, words in (
        (r"\b", r"\b", ("can not", "d 'ye", "gim me", "gon na", "got ta", "lem me", "more 'n")),
        (r"\b", r"(?=\s)", ("wan na",)),
        (" ", r"\b", ("'t is", "'t was")),
    )
    for first, second in (word.split() for word in words)
))


def word_tokenize(text: str) -> list[str]:
    for pattern, replacement in _OPENING + _PUNCTUATION:
        text = pattern.sub(replacement, text)
    text = f" {text} "
    for pattern, replacement in _CLOSING + _FUSED:
        text = pattern.sub(replacement, text)
    return text.split()
