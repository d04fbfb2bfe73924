"""A pretraining record for people: its tokens, each masked position marked.

`bertkit inspect --vocab V` calls `masked_view` on every record it shows; records without
the masked-LM features (fine-tuning data) get None and are shown as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def masked_view(record: Mapping[str, Sequence[Any]], tokenizer: Any) -> list[str] | None:
    """Tokens up to the last real one; a masked position reads `{shown->label}`.

    `shown` is what the model sees ([MASK], the kept token or a random one) and `label`
    the token it must predict (`masked_lm_ids`); padding entries (weight 0) are ignored.
    """
    needed = ("input_ids", "masked_lm_positions", "masked_lm_ids")
    if any(name not in record for name in needed):
        return None
    ids = [int(value) for value in record["input_ids"]]
    mask = record.get("input_mask")
    length = int(sum(int(flag) for flag in mask)) if mask is not None else len(ids)
    tokens = tokenizer.convert_ids_to_tokens(ids[:length])
    weights = record.get("masked_lm_weights")
    positions = [int(value) for value in record["masked_lm_positions"]]
    labels = tokenizer.convert_ids_to_tokens([int(value) for value in record["masked_lm_ids"]])
    for number, (position, label) in enumerate(zip(positions, labels)):
        real = float(weights[number]) > 0 if weights is not None else position > 0
        if real and 0 <= position < len(tokens):
            tokens[position] = f"{{{tokens[position]}->{label}}}"
    return tokens
