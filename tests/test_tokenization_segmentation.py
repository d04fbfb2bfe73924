"""jieba word-boundary features (zjy-ucas/ChineseNER `get_seg_features` semantics)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import tokenization_corpora as corpora
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.tokenization.segmentation import word_boundary_features


def words_from_features(text: str, features: list[int]) -> list[str]:
    """Rebuild the words the features describe (0 = one-char word, 1..3 = first..last)."""
    words, current = [], ""
    for char, feature in zip(text, features):
        if feature == 0:
            assert current == "", "a single-char word inside another word"
            words.append(char)
        elif feature == 1:
            assert current == ""
            current = char
        elif feature == 2:
            assert current != ""
            current += char
        else:
            assert feature == 3 and current != ""
            words.append(current + char)
            current = ""
    assert current == "", "a word without its last character"
    return words


def test_known_sentence():
    # jieba's accurate mode: 我 / 爱 / 北京 / 天安门
    assert word_boundary_features("我爱北京天安门") == [0, 0, 1, 3, 1, 2, 3]


def test_features_describe_jiebas_segmentation_on_real_text(shared_data):
    import jieba

    texts = corpora.cluener_texts()[:300] + corpora.tnews_texts()[:300]
    for text in texts:
        features = word_boundary_features(text)
        assert len(features) == len(text)
        assert words_from_features(text, features) == list(jieba.cut(text))


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("中文分词测试北京大学生 ab1,.，。\t\n")), max_size=30))
def test_one_well_formed_feature_per_char(text):
    features = word_boundary_features(text)
    assert len(features) == len(text)
    assert "".join(words_from_features(text, features)) == text


def test_jieba_is_quiet():
    code = ("from bertkit.tokenization.segmentation import word_boundary_features as f;"
            "print(f('我爱北京天安门'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[0, 0, 1, 3, 1, 2, 3]"
    assert done.stderr == ""


@pytest.mark.parametrize("text", ["", " ", "a"])
def test_trivial_texts(text):
    assert word_boundary_features(text) == [0] * len(text)
