"""Write tests/data/tokenizer_edge_cases.txt: one hard text per line for the tokenizer parity tests.

The characters are spelled as escapes here so that a reader can see exactly which
invisible or confusable code point each line holds. Lines never contain "\\n"; every
other code point (including "\\r", NEL, LINE SEPARATOR) may appear, so read the file
with `split("\\n")`, not `splitlines()`.
    /work/venv/bin/python tools/gen_tokenizer_edge_cases.py
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "tokenizer_edge_cases.txt"


def long_words() -> list[str]:
    lines = []
    for n in (99, 100, 101, 150, 199, 200, 201, 250):
        lines.append("a" * n)
        lines.append("x " + "ab" * (n // 2) + "c" * (n % 2) + " y")
        lines.append("\u00e9" * n)                       # composed e-acute: NFD doubles, Mn drops
        lines.append("E\u0301" * n)                      # decomposed: 2n chars raw, n after stripping
        lines.append("\u0130" * n)                       # dotted I: lower() gives 2 chars each
        lines.append("1" * n + ",5")
        lines.append("\u4e2d" * n)                       # CJK: one token per char, no word limit
        lines.append("\u0434" * n)                       # Cyrillic
        lines.append("un" + "aff" * ((n - 2) // 3) + "able")
    return lines


EDGE_CASES = [
    # control, format and zero-width characters
    "a\x00b\x01c\x7fd\x85e\u200bf\u200cg\u200dh\u2060i\ufeffj\u00adk\ufffdl",
    "tab\tnewline-free\x0bvt\x0cff\rcr\x1cfs\x1fus end",
    "spaces\u00a0nbsp\u2000enquad\u2003em\u2009thin\u202fnnbsp\u205fmm\u3000ideo\u1680ogham",
    "line\u2028sep\u2029para\x1ePR",
    "\u200b\u200b\u200b",
    "bidi \u202aLRE\u202c \u202eRLO\u202c \u2066iso\u2069 \u061cALM",
    "tags \U000e0001\U000e0065\U000e006e variation \ufe0f\ufe0e \U000e0100",
    # combining marks
    "Ame\u0301lie cafe\u0301 nai\u0308ve resume\u0301 n\u0303 a\u0323\u0302 \u0301lead",
    "Am\u00e9lie caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00f1 \u1ead",
    "\u0301\u0302\u0303 \u20dd\u20de enclosing a\u20dd",
    "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd Hebrew points",
    "\u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627 Arabic harakat \u0640tatweel",
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u0926\u0947\u0935\u0928\u093e\u0917\u0930\u0940 Devanagari",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a Thai",
    "music \U0001d165\U0001d16d\U0001d166 \U0001d15f\U0001d165",
    "Hangul tone \u302e\u302f mark",
    # CJK blocks, inside and outside Google's ranges
    "\u4e00\u9fff\u3400\u4dbf \U00020000\U0002a6df \U0002a700\U0002b73f \U0002b740\U0002b81f",
    "\U0002b820\U0002ceaf \U0002ceb0\U0002ebe0 \U00030000\U0003134a ext F and G",
    "compat \uf900\uf901\ufa6c\ufaff \U0002f800\U0002fa1d supplement",
    "radicals \u2f00\u2f01\u2e80 strokes \u31c0 ideographic \u3007\u3021",
    "\u4e2d\u6587\u3002\u4f60\u597d\uff0c\u4e16\u754c\uff01\u300c\u5f15\u53f7\u300d\u3010\u62ec\u53f7\u3011",
    "\ud55c\uad6d\uc5b4 Hangul \u1100\u1161\u11a8 jamo",
    "\u3072\u3089\u304c\u306a \u30ab\u30bf\u30ab\u30ca \uff76\uff80\uff76\uff85 \u30fc\u30fb",
    "\u5317\u4eac2008\u5e74\u5965\u8fd0\u4f1aBeijing Olympics\u4e2d\u56fd",
    "BERT\u6a21\u578b\u7684tokenizer\u662fWordPiece",
    # full-width and half-width forms
    "\uff21\uff22\uff23\uff41\uff42\uff43\uff11\uff12\uff13\uff01\uff1f\uff08\u5168\u89d2\uff09\uff20\uff03",
    "\uff5e\uff5f\uff60\uff61\uff64\uffe0\uffe1\uffe5\uffe6 half \uffa0\uffa1",
    # Greek sigma, including final sigma and its contexts
    "\u039f\u0394\u039f\u03a3 \u03a3\u0391\u03a3 \u03a3 \u0391\u03a3. \u0391\u03a3'\u0392 \u0391\u03a3\u0301",
    "\u038c\u03a3\u039f\u03a3 \u039f\u0394\u03a5\u03a3\u03a3\u0395\u038e\u03a3 \u03ac\u03c3\u03c2 \u03a3\u03a3\u03a3",
    "\u0391\u03a3\u4e2d \u0391\u03a3\u00ad \u0391\u200b\u03a3 \u0391\u03a3\u200bB \u0391.\u03a3 1\u03a3",
    "\u0391\u03a3\u2028\u0392 \u0391\u03a3\u3000\u0392 \u0391\u03a3\u0345 \u1f08\u03a3",
    # Turkish dotted and dotless I, other special casings
    "\u0130stanbul I\u011eDIR \u0131s\u0131k \u0130i\u0131I \u0130\u0301",
    "Stra\u00dfe \u1e9e \u00c4\u00d6\u00dc \u01c5\u01c8 \u0149 \u1e96 \u1f88\u1fbc",
    # ligatures and letterlike symbols
    "\ufb01nance \ufb02ow \ufb00 \ufb03 \u0153uvre \u00c6sir \u0132 \u2126 \u212a \u212b \u2160\u2161",
    # emoji
    "\U0001f600\U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f1e9\U0001f1ea \u2764\ufe0f #\ufe0f\u20e3",
    "emoji\U0001f600inside word\U0001f60e end\u263a",
    # literal special-token text and ## text
    "[MASK] [CLS] [SEP] [UNK] [PAD] [unused1] [unused99]",
    "[MASK]the man went to the [MASK] store[SEP]",
    "##ing ## # ### ##a a##b #hashtag",
    "<s> </s> <pad> <unk> <mask> \u2581underline",
    # punctuation classes
    "$100 + 5 < 6 = 7 > 8 ^ ` | ~ \\ @ & * _ {x} [y] (z)",
    "can't won't it's rock'n'roll \u2019quote\u2019 \u201cdouble\u201d \u00abguillemets\u00bb",
    "\u2013dash\u2014dash\u2015 \u2026ellipsis \u00bfqu\u00e9? \u00a1s\u00ed! \u00a7\u00b6 \u2020\u2021",
    "math \u2211\u222b\u221a\u2264\u2265 \u00b1 \u00d7 \u00f7 \u2202x \u00b2\u00b3\u00b9 \u00bd",
    "money $\u20ac\u00a3\u00a5\u20b9\u20bf 3.14 1,000,000 -5e10 0x1F",
    "https://example.com/a?b=c&d=e#f user@example.org C:\\path\\file.txt",
    "\u0f3a\u0f3b \u2e2e \u061f \u060c \u066a \u0964\u0965 \u104a \u1362",
    # other scripts
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0401\u0451\u0419\u0439",
    "\u0532\u0561\u0580\u0587 \u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0 \u1200\u1208 \u13a0\u13a1",
    "Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u \u01a0\u01b0",
    # private use, unassigned, non-characters, replacement
    "private \ue000\uf8ff \U000f0000 unassigned \u0378\u0379 \U0001fffe nonchar \ufffe\uffff \ufdd0",
    "\U00010000 linear B \U0001d400 math bold \U0001f100 \U0001f130",
    # whitespace-only and empty-ish lines
    "",
    " ",
    "\t \u3000 \u00a0",
    "\x00\x01\u200b",
    "   leading and trailing   ",
]


def main() -> None:
    lines = EDGE_CASES + long_words()
    assert not any("\n" in line for line in lines)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(lines)} lines")


if __name__ == "__main__":
    main()
