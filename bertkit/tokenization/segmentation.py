"""Word-boundary features for Chinese NER, from jieba's segmentation.

The features follow zjy-ucas/ChineseNER's `get_seg_features`: segment the sentence with
`jieba.cut` in its default mode (accurate mode, HMM on), then give each character
0 if its word is one character long, else 1 for the word's first character, 3 for its
last and 2 for those in between.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

SINGLE, BEGIN, INSIDE, END = 0, 1, 2, 3


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    # jieba logs "Building prefix dict..." lines on its first cut; they are noise for us.
    jieba.setLogLevel(logging.WARNING)
    return jieba


def word_boundary_features(text: str) -> list[int]:
    """One feature per character of `text` (0 single-char word, 1 first, 2 inner, 3 last)."""
    features: list[int] = []
    for word in _jieba().cut(text):
        if len(word) == 1:
            features.append(SINGLE)
        else:
            features.append(BEGIN)
            features.extend([INSIDE] * (len(word) - 2))
            features.append(END)
    if len(features) != len(text):
        # jieba keeps every character today; if a future version drops some, the
        # features would silently misalign with the characters, so refuse instead.
        raise ValueError(f"jieba returned {len(features)} characters "
                         f"for a {len(text)}-character text")
    return features
