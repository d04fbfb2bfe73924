"""The BERT network configuration, read from Google's or Hugging Face's JSON.

Google's ``bert_config.json`` and HF's ``config.json`` use the same field names for the
network shape; HF adds ``layer_norm_eps`` and bookkeeping keys that we ignore. Two fields
are the classic porting traps and must always come from the checkpoint's own config, never
from a default: ``type_vocab_size`` (the MindSpore zoo's Chinese models use 16) and the
LayerNorm epsilon (MindSpore's ``nn.LayerNorm`` default is 1e-7, Google/HF use 1e-12).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from bertkit.errors import InputError

# Activations the encoder implements; "gelu" is the exact erf form used by Google and HF.
SUPPORTED_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")

# Alternative spellings seen in other configs, mapped onto our field names.
_FIELD_ALIASES = {
    "layer_norm_epsilon": "layer_norm_eps",
    "layernorm_epsilon": "layer_norm_eps",
}


@dataclasses.dataclass
class BertConfig:
    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            # CPU training's lane dropout would not refuse it (see dropout.quantised_keep):
            # p < 0 dropped nothing and p > 1 zeroed everything, where F.dropout raises.
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], not {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}"
            )
        if self.hidden_act not in SUPPORTED_ACTIVATIONS:
            raise ValueError(
                f"hidden_act {self.hidden_act!r} is not supported "
                f"(supported: {', '.join(SUPPORTED_ACTIVATIONS)})"
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BertConfig:
        """Build from a Google or HF config dict; unknown keys (HF bookkeeping) are ignored."""
        known = set(cls.field_names())
        picked: dict[str, Any] = {}
        for key, value in values.items():
            name = _FIELD_ALIASES.get(key, key)
            if name in known:
                picked[name] = value
        if "vocab_size" not in picked:
            raise ValueError("the config has no vocab_size")
        return cls(**picked)

    @classmethod
    def from_json_file(cls, path: str | Path) -> BertConfig:
        return cls.from_file_values(path, read_config_values(path))

    @classmethod
    def from_file_values(cls, path: str | Path, values: dict[str, Any]) -> BertConfig:
        """From the values `read_config_values` read from ``path`` (named in any error)."""
        try:
            return cls.from_dict(values)
        except (TypeError, ValueError) as error:
            raise InputError(path, str(error)) from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_hf_dict(self) -> dict[str, Any]:
        """The fields of transformers' ``BertConfig`` (``model_type`` "bert")."""
        return {
            "model_type": "bert",
            **self.to_dict(),
            "pad_token_id": 0,
            "position_embedding_type": "absolute",
        }


def read_config_values(path: str | Path) -> dict[str, Any]:
    """A config file's JSON object; missing, not JSON or not an object: one line naming it."""
    path = Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "config file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(path, f"not a JSON config: {error}") from None
    if not isinstance(values, dict):
        raise InputError(path, "a BERT config must be a JSON object")
    return values
