"""A BERT config.json with odd values: an InputError naming the file and the field, not a
ZeroDivisionError, a '%' formatting TypeError, or a dropout that CPU training silently
skips (p < 0) or turns into zeros (p > 1) where CUDA's F.dropout would raise."""

from __future__ import annotations

import pytest
from train_support import tiny_config

from bertkit.errors import InputError
from bertkit.train.config import BertConfig


@pytest.mark.parametrize(("field", "value", "said"), [
    ("hidden_dropout_prob", 1.5, "hidden_dropout_prob must be a probability"),
    ("attention_probs_dropout_prob", -0.1, "attention_probs_dropout_prob must be a probability"),
    ("hidden_dropout_prob", "0.1", "hidden_dropout_prob must be a probability"),
    ("num_attention_heads", 0, "num_attention_heads must be a whole number"),
    ("hidden_size", "x", "hidden_size must be a whole number"),
    ("num_hidden_layers", 2.5, "num_hidden_layers must be a whole number"),
])
def test_odd_config_value_names_file_and_field(tmp_path, field, value, said):
    path = tiny_config(tmp_path, **{field: value})
    with pytest.raises(InputError) as raised:
        BertConfig.from_json_file(path)
    assert str(raised.value).startswith(f"{path}: ") and said in str(raised.value)


def test_edge_probabilities_are_kept(tmp_path):
    for value in (0.0, 1.0, 0):
        assert BertConfig.from_json_file(
            tiny_config(tmp_path, hidden_dropout_prob=value)).hidden_dropout_prob == value
