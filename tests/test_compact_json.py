"""compact_json writes exactly what json.dumps(ensure_ascii=False, compact) writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.compact_json import Raw, dumps, int_items, string_items


def reference(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def as_json_lists(lists: list[list], make) -> list[bytes]:
    flat = [item for items in lists for item in items]
    bounds = np.cumsum([0, *map(len, lists)])
    return [raw.text for raw in make(flat).lists(bounds)]


@pytest.mark.parametrize(
    "lists",
    [
        [["中", "文"], [], ["a"]],
        [[], []],
        [['"', "\\", "\n", "x\ty", "\x01"], ["ok", "é", "😀", ""]],
        [["word", "##piece", "a-very-long-doc-token-of-many-bytes", "дом"]],
    ],
)
def test_string_lists_equal_json(lists):
    assert as_json_lists(lists, string_items) == [reference(items) for items in lists]


@pytest.mark.parametrize(
    "lists", [[[0, 1, 2], [], [9, 10, 99999]], [[(1 << 17) - 1, 1 << 17, 10**12]], [[-1, -500]]]
)
def test_int_lists_equal_json(lists):
    made = as_json_lists(lists, lambda flat: int_items(np.asarray(flat, dtype=np.int64)))
    assert made == [reference(items) for items in lists]


@settings(deadline=None, max_examples=60)
@given(st.lists(st.lists(st.text(min_size=0, max_size=12), max_size=6), max_size=6),
       st.data())
def test_take_gathers_the_chosen_items(lists, data):
    flat = [item for items in lists for item in items]
    texts = string_items(flat)
    if flat:
        chosen = data.draw(st.lists(st.integers(0, len(flat) - 1), max_size=20))
    else:
        chosen = []
    taken = texts.take(np.asarray(chosen, dtype=np.int64))
    assert [raw.text for raw in taken.lists([0, len(chosen)])] == [
        reference([flat[index] for index in chosen])
    ]
    assert as_json_lists(lists, string_items) == [reference(items) for items in lists]


def test_dumps_writes_raw_text_in_place_and_the_rest_as_json():
    value = {"a": [{"x": Raw(b"[1,2]"), "y": "z"}, {"x": Raw(b"[]"), "y": None}],
             "b": {"c": [1.5, True, "é"]}, "d": {}, "e": []}
    expected = {"a": [{"x": [1, 2], "y": "z"}, {"x": [], "y": None}],
                "b": {"c": [1.5, True, "é"]}, "d": {}, "e": []}
    assert dumps(value) == reference(expected)
    assert dumps(expected) == reference(expected)


@pytest.mark.parametrize("long_items", [0, 2, 7, 40])
def test_take_with_narrow_rows_splices_the_few_long_items(long_items):
    """Chinese characters fit 8-byte rows; a few longer items (Latin words, escapes)
    among many must still come out whole, wherever they fall."""
    short = list("北京大學中文，。") + ["a", '"', "é"]
    long = ["a-long-doc-token", "😀😀", "\\\\\\x", "année-2010"][: long_items] * 3
    flat = short + long
    rng = np.random.default_rng(long_items)
    chosen = rng.integers(0, len(short), 400)
    if long_items:  # 2 and 7 of 400 take 8-byte rows, 40 takes 16-byte rows
        places = rng.choice(400, long_items, replace=False)
        chosen[places] = rng.integers(len(short), len(flat), long_items)
    taken = string_items(flat).take(chosen)
    assert [raw.text for raw in taken.lists([0, 150, 400])] == [
        reference([flat[index] for index in chosen[:150]]),
        reference([flat[index] for index in chosen[150:]]),
    ]
