"""The BERT encoder, top to bottom (the fine-tuning heads are in ``heads.py``).

Every submodule and parameter carries the name transformers' ``modeling_bert`` uses
(``embeddings.LayerNorm``, ``encoder.layer.N.attention.self.query`` ...), which are in turn
the TF scope names of Google's ``modeling.py``. So a state dict of ours *is* an HF state dict:
export is a plain copy and the checkpoint tables only have to speak one target language.

The forward pass is the post-LayerNorm BERT of the paper: exact (erf) GELU, dropout on
embeddings, attention probabilities and every residual branch; attention itself goes through
``torch.nn.functional.scaled_dot_product_attention`` so each device gets its fused kernel.
Two CPU exceptions, both for speed and both leaving the results as they were: in training,
dropout draws cheap lane masks and attention is written out to take them
(``bertkit.train.dropout``); in eval, the feed-forward runs over blocks of token rows
(``BertLayer._feed_forward_in_row_blocks``), so its big intermediate temporary is not a
fresh, page-faulting mmap on every call.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bertkit.errors import BertkitError
from bertkit.train.config import BertConfig
from bertkit.train.dropout import FastDropout, attention_with_lane_dropout


# --------------------------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------------------------


class BertEmbeddings(nn.Module):
    """word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = FastDropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        seq_length = input_ids.shape[1]
        positions = torch.arange(seq_length, device=input_ids.device)
        embeddings = (
            self.word_embeddings(input_ids)
            + self.token_type_embeddings(token_type_ids)
            + self.position_embeddings(positions)  # [L, H] broadcasts over the batch
        )
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    """Multi-head self-attention: SDPA, or on CPU in training the lane-dropout path."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = FastDropout(config.attention_probs_dropout_prob)

    def forward(self, hidden: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        batch, length, width = hidden.shape
        heads = (batch, length, self.num_heads, self.head_dim)
        lane_dropout = self.dropout.uses_lane_mask(hidden)
        if lane_dropout:
            # The 1/sqrt(head_dim) score scale folded into the query projection's weight and
            # bias ([H, H]) instead of a pass over the [B, L, H] queries.
            scale = self.head_dim ** -0.5
            query = F.linear(hidden, self.query.weight * scale, self.query.bias * scale)
        else:
            query = self.query(hidden)
        # [B, L, H] -> [B, heads, L, head_dim] as views; the kernels accept the strides.
        query = query.view(heads).transpose(1, 2)
        key = self.key(hidden).view(heads).transpose(1, 2)
        value = self.value(hidden).view(heads).transpose(1, 2)
        if lane_dropout:
            context = attention_with_lane_dropout(query, key, value, attn_mask, self.dropout)
        else:
            context = F.scaled_dot_product_attention(
                query, key, value, attn_mask=attn_mask,
                dropout_p=self.dropout.p if self.training else 0.0,
            )
        return context.transpose(1, 2).reshape(batch, length, width)


class BertSelfOutput(nn.Module):
    """dense -> dropout -> add the residual -> LayerNorm (also the feed-forward's output)."""

    def __init__(self, config: BertConfig, input_size: int | None = None):
        super().__init__()
        self.dense = nn.Linear(input_size or config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = FastDropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout.add_to(self.dense(hidden), residual))


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)  # "self" is the HF/TF scope name
        self.output = BertSelfOutput(config)

    def forward(self, hidden: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(hidden, attn_mask), hidden)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = _activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden))


def _activation(name: str) -> Any:
    if name == "gelu":
        return F.gelu  # exact erf form, as Google's modeling.py and HF "gelu"
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: F.gelu(x, approximate="tanh")
    return F.relu


class BertOutput(BertSelfOutput):
    """The feed-forward's way back: intermediate_size -> hidden, dropout, add & norm."""

    def __init__(self, config: BertConfig):
        super().__init__(config, input_size=config.intermediate_size)


# Row blocks of the CPU eval feed-forward (see BertLayer._feed_forward_in_row_blocks): the
# [rows, intermediate] temporary stays well under glibc's 32 MiB mmap ceiling.
_FEED_FORWARD_BLOCK_BYTES = 8 << 20
_MIN_BLOCK_ROWS = 512


class BertLayer(nn.Module):
    """attention -> add & norm -> feed-forward -> add & norm (post-LN)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        attended = self.attention(hidden, attn_mask)
        if not self.training and attended.device.type == "cpu":
            return self._feed_forward_in_row_blocks(attended)
        return self.output(self.intermediate(attended), attended)

    def _feed_forward_in_row_blocks(self, attended: torch.Tensor) -> torch.Tensor:
        """The feed-forward block over slices of the B x L token rows (CPU eval only).

        Every row is independent through dense -> GELU -> dense -> add & norm, so the result
        is that of one pass; but one pass makes an [B*L, intermediate] temporary that for a
        batch of 32 x 177 tokens (MiniLM) is 35 MB. Above 32 MiB glibc's malloc serves
        each such temporary with a fresh mmap, so every call page-faults (and zeroes) it
        twice per layer, the GEMM output and the GELU output: a quarter of the feed-forward
        time at one thread. Blocks of at most ``_FEED_FORWARD_BLOCK_BYTES`` are reused from
        the heap and stay in cache between the GEMM and the GELU. Blocks are equal in size
        and never under ``_MIN_BLOCK_ROWS`` rows, so the GEMMs keep their kernel (and the
        result its bits) as measured: bitwise equal to the single pass on MiniLM and
        BERT-base shapes.
        """
        width = attended.shape[-1]
        rows = attended.numel() // width
        per_row = self.intermediate.dense.out_features * attended.element_size()
        block_rows = max(_MIN_BLOCK_ROWS, _FEED_FORWARD_BLOCK_BYTES // per_row)
        blocks = -(-rows // block_rows)
        if blocks <= 1:
            return self.output(self.intermediate(attended), attended)
        flat = attended.reshape(rows, width)
        out = torch.cat([self.output(self.intermediate(block), block)
                         for block in flat.tensor_split(blocks)])
        return out.view(attended.shape)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, hidden: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layer:
            hidden = layer(hidden, attn_mask)
        return hidden


class BertPooler(nn.Module):
    """tanh(dense(hidden state of [CLS]))."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, sequence_output: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(sequence_output[:, 0]))


class BertModel(nn.Module):
    """The encoder: returns (sequence_output [B, L, H], pooled_output [B, H] or None)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.apply(lambda module: init_bert_weights(module, config.initializer_range))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        length = input_ids.shape[1]
        if length > self.config.max_position_embeddings:
            raise BertkitError(
                f"sequence length {length} exceeds the model's max_position_embeddings "
                f"{self.config.max_position_embeddings}"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        hidden = self.embeddings(input_ids, token_type_ids)
        sequence_output = self.encoder(hidden, attention_bias(attention_mask, hidden.dtype))
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        return sequence_output, pooled_output


def attention_bias(attention_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """[B, L] 1/0 mask -> additive [B, 1, 1, L] bias (None: attend everywhere).

    An additive bias with the dtype's most negative value (rather than a boolean mask) keeps a
    fully padded row finite: Google's eval pads batches with all-zero dummy examples, and a
    boolean mask would turn those rows into NaN.
    """
    if attention_mask is None:
        return None
    # Nothing to mask: drop the bias so SDPA skips its add and safe-softmax passes. Only on
    # CPU, where the check is free; on a GPU it would wait for the device (a sync per step).
    if attention_mask.device.type == "cpu" and bool(attention_mask.all()):
        return None
    bias = torch.zeros(attention_mask.shape, dtype=dtype, device=attention_mask.device)
    bias.masked_fill_(attention_mask == 0, torch.finfo(dtype).min)
    return bias[:, None, None, :]


def init_bert_weights(module: nn.Module, initializer_range: float) -> None:
    """Google's initialisation (truncated to a plain normal, as HF does)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=initializer_range)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())

