"""Compact JSON as UTF-8, with long lists of small items written by numpy, not item by item.

`dumps(value)` returns exactly
``json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")``, except that
a `Raw` anywhere in ``value`` stands for JSON text made beforehand. The standard encoder
spends some 40 ns on every list item; the SQuAD eval sidecar holds lists with an item per
context character (doc tokens, word pieces, piece-to-word indices, token offsets), so for
Chinese paragraphs, where every character is a doc token, writing them with `json.dumps`
cost more than encoding the records. Here such lists are made from arrays the converter
has anyway: `ItemTexts` holds the text of many items (``"token",`` or ``123,``) back to
back, `string_items` and `int_items` make them, `ItemTexts.take` gathers them by index (a
paragraph's pieces from the distinct pieces) and `ItemTexts.lists` cuts them into the JSON
text of consecutive lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# What json.dumps(ensure_ascii=False) escapes inside a string; an item with none of these
# is written as it is.
_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_QUOTE, _COMMA = ord('"'), ord(",")
# Bytes of an item kept in `ItemTexts.take`'s fixed-width rows: 8 where nearly every item
# taken fits (Chinese characters: '"中",' is 6 bytes), else 16 (word pieces).
_HEADS = (8, 16)
_SHORT_ENOUGH = 0.02  # share of taken items longer than 8 bytes that 8-byte rows allow

# ASCII digits of every int below 2**17 and a comma, zero padded to 8 bytes, as one
# little-endian uint64 each, and how many of those bytes are used.
_DIGITS_LIMIT = 1 << 17
_digits: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class Raw:
    """JSON text (UTF-8) to be written as it is."""

    text: bytes


@dataclass
class ItemTexts:
    """The JSON text of many list items, each followed by a comma, back to back (UTF-8)."""

    data: np.ndarray  # uint8
    ends: np.ndarray  # int64, where each item's text (comma included) ends
    # For `take`, by row width: each item's first bytes as a 0-padded row, and the rest of
    # longer ones.
    _cut: dict[int, tuple[np.ndarray, dict[int, bytes]]] = field(default_factory=dict)

    def take(self, items: np.ndarray) -> ItemTexts:
        """Items ``items`` (indices, any order, repeats allowed), back to back.

        Gathering whole 8- or 16-byte rows (word pieces and Chinese characters fit one)
        costs far less than gathering byte by byte; the rare longer items get their
        remaining bytes spliced in after their first 8 or 16."""
        lengths = np.diff(self.ends, prepend=0)[items]
        width = _HEADS[0]
        if np.count_nonzero(lengths > width) > _SHORT_ENOUGH * lengths.size:
            width = _HEADS[1]
        heads, tails = self._cut_heads(width)
        # JSON text holds no NUL byte, so dropping the padding is one bytes.translate.
        data = heads[items].tobytes().translate(None, b"\0")
        long = np.flatnonzero(lengths > width) if tails else ()
        if len(long):
            head_ends = np.cumsum(np.minimum(lengths, width))[long].tolist()
            parts, previous = [], 0
            for end, item in zip(head_ends, np.asarray(items)[long].tolist()):
                parts += [data[previous:end], tails[item]]
                previous = end
            parts.append(data[previous:])
            data = b"".join(parts)
        return ItemTexts(np.frombuffer(data, np.uint8), np.cumsum(lengths))

    def _cut_heads(self, width: int) -> tuple[np.ndarray, dict[int, bytes]]:
        if width not in self._cut:
            lengths = np.diff(self.ends, prepend=0)
            starts = self.ends - lengths
            heads = np.zeros((lengths.size, width), dtype=np.uint8)
            item_of_byte = np.repeat(np.arange(lengths.size), lengths)
            within = np.arange(self.data.size) - starts[item_of_byte]
            first = within < width
            heads[item_of_byte[first], within[first]] = self.data[first]
            data = self.data.tobytes()
            long = lengths > width
            tails = {
                item: data[start + width : end]
                for item, start, end in zip(
                    np.flatnonzero(long).tolist(), starts[long].tolist(), self.ends[long].tolist()
                )
            }
            self._cut[width] = heads.view("<u8"), tails  # [items, width / 8]
        return self._cut[width]

    def lists(self, bounds: Sequence[int] | np.ndarray) -> list[Raw]:
        """JSON text of the lists made of items ``[bounds[k], bounds[k + 1])``."""
        offsets = np.concatenate([[0], self.ends])[np.asarray(bounds, dtype=np.int64)].tolist()
        data = self.data.tobytes()
        # Each item ends with a comma; a list's text is its items less the last comma, in [].
        return [
            Raw(b"[" + data[start : end - 1] + b"]" if end > start else b"[]")
            for start, end in zip(offsets[:-1], offsets[1:])
        ]


def string_items(strings: Sequence[str]) -> ItemTexts:
    """``"string",`` for each of ``strings``, as json.dumps writes it."""
    strings = list(strings)
    joined = "".join(strings)
    if _ESCAPED.search(joined):
        # The few items that need escapes (a '"' in Chinese text) go through json.
        char_ends = np.cumsum(np.fromiter(map(len, strings), np.int64, count=len(strings)))
        found = [match.start() for match in _ESCAPED.finditer(joined)]
        for index in np.unique(np.searchsorted(char_ends, found, side="right")).tolist():
            strings[index] = json.dumps(strings[index], ensure_ascii=False)[1:-1]
        joined = "".join(strings)
    encoded = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    if len(joined) == len(strings) and "" not in strings:  # one character each
        char_ends = np.arange(1, len(strings) + 1)
    else:
        char_ends = np.cumsum(np.fromiter(map(len, strings), np.int64, count=len(strings)))
    if encoded.size == len(joined):  # all ASCII: a byte per character
        byte_ends = char_ends
    else:  # a UTF-8 character starts at every byte that is not 10xxxxxx
        char_starts = np.flatnonzero((encoded & 0xC0) != 0x80)
        byte_ends = np.append(char_starts, encoded.size)[char_ends]
    lengths = np.diff(byte_ends, prepend=0).astype(np.int64)
    ends = np.cumsum(lengths + 3)
    out = np.empty(int(ends[-1]) if ends.size else 0, dtype=np.uint8)
    out[ends - lengths - 3] = _QUOTE
    out[ends - 2] = _QUOTE
    out[ends - 1] = _COMMA
    item_of_byte = np.repeat(np.arange(len(strings)), lengths)
    out[np.arange(encoded.size) + 3 * item_of_byte + 1] = encoded
    return ItemTexts(out, ends)


def _digit_table() -> tuple[np.ndarray, np.ndarray]:
    global _digits
    if _digits is None:
        text = [f"{value}," for value in range(_DIGITS_LIMIT)]
        used = np.fromiter(map(len, text), dtype=np.int64, count=_DIGITS_LIMIT)
        padded = "".join(item.ljust(8, "\0") for item in text).encode("ascii")
        _digits = np.frombuffer(padded, dtype="<u8"), used
    return _digits


def int_items(values: np.ndarray) -> ItemTexts:
    """``digits,`` for each integer in ``values``."""
    values = np.asarray(values).reshape(-1)
    if values.size and values.dtype.kind in "iu" and int(values.min()) >= 0 and int(
        values.max()
    ) < _DIGITS_LIMIT:
        table, used = _digit_table()
        data = table[values].tobytes().translate(None, b"\0")
        return ItemTexts(np.frombuffer(data, np.uint8), np.cumsum(used[values]))
    texts = [f"{value}," for value in values.tolist()]  # rare: negative or large values
    ends = np.cumsum(np.fromiter(map(len, texts), np.int64, count=len(texts)))
    return ItemTexts(np.frombuffer("".join(texts).encode("ascii"), np.uint8), ends)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dumps(value: Any) -> bytes:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` as UTF-8, with
    every `Raw` in ``value`` written as its text."""
    return b"".join(_chunks(value))


def _chunks(value: Any) -> Iterator[bytes]:
    if type(value) is Raw:
        yield value.text
    elif type(value) is dict and all(type(key) is str for key in value):
        separator = b"{"
        for key, item in value.items():
            yield separator + _json_bytes(key) + b":"
            yield from _chunks(item)
            separator = b","
        yield b"{}" if separator == b"{" else b"}"
    elif type(value) is list and value and type(value[0]) in (dict, Raw):
        separator = b"["
        for item in value:
            yield separator
            yield from _chunks(item)
            separator = b","
        yield b"]"
    else:
        yield _json_bytes(value)
