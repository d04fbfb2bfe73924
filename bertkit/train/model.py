"""The BERT encoder and its three fine-tuning heads, top to bottom.

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

from bertkit.errors import BertkitError, UsageError
from bertkit.train.config import BertConfig
from bertkit.train.crf import LinearChainCRF
from bertkit.train.dropout import FastDropout, attention_with_lane_dropout

TASKS = ("squad", "classification", "ner")


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


# --------------------------------------------------------------------------------------------
# Heads. Attribute names follow HF (`bert`, `qa_outputs`, `classifier`) so the state-dict keys
# are those of transformers' BertFor* classes. HF builds the span and token heads without a
# pooler; so do we, so that export has no unexpected keys.
# --------------------------------------------------------------------------------------------


class BertForQuestionAnswering(nn.Module):
    """SQuAD span head: a start and an end logit per token."""

    task = "squad"

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = 2
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        init_bert_weights(self.qa_outputs, config.initializer_range)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        sequence_output, _ = self.bert(input_ids, attention_mask, token_type_ids)
        start_logits, end_logits = self.qa_outputs(sequence_output).unbind(dim=-1)
        outputs = {"start_logits": start_logits, "end_logits": end_logits}
        if start_positions is not None and end_positions is not None:
            # Google's loss: mean over the batch of the start and end cross-entropies, averaged.
            # A position outside the sequence is ignored (HF's convention) instead of crashing.
            ignored = start_logits.shape[1]
            start_loss = F.cross_entropy(
                start_logits.float(), start_positions.clamp(0, ignored), ignore_index=ignored
            )
            end_loss = F.cross_entropy(
                end_logits.float(), end_positions.clamp(0, ignored), ignore_index=ignored
            )
            outputs["loss"] = (start_loss + end_loss) / 2
        return outputs


class BertForSequenceClassification(nn.Module):
    """Pooled [CLS] -> dropout -> linear. One label means regression (MSE on float labels)."""

    task = "classification"

    def __init__(self, config: BertConfig, num_labels: int):
        super().__init__()
        if num_labels < 1:
            raise UsageError(f"num_labels must be at least 1, got {num_labels}")
        self.config = config
        self.num_labels = num_labels
        self.bert = BertModel(config, add_pooling_layer=True)
        self.dropout = FastDropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        init_bert_weights(self.classifier, config.initializer_range)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        _, pooled_output = self.bert(input_ids, attention_mask, token_type_ids)
        assert pooled_output is not None
        logits = self.classifier(self.dropout(pooled_output))
        outputs = {"logits": logits}
        if labels is not None:
            if self.num_labels == 1:
                outputs["loss"] = F.mse_loss(logits.squeeze(-1).float(), labels.float().view(-1))
            else:
                outputs["loss"] = F.cross_entropy(logits.float(), labels.view(-1).long())
        return outputs


class BertForTokenClassification(nn.Module):
    """Per-token tags, with an optional linear-chain CRF on top of the emissions.

    Only positions where the mask is 1 count: the ``label_mask`` when given (e.g. first
    word pieces only), else the ``attention_mask``. Padding never contributes to the loss.
    """

    task = "ner"

    def __init__(self, config: BertConfig, num_labels: int, use_crf: bool = False):
        super().__init__()
        if num_labels < 1:
            raise UsageError(f"num_labels must be at least 1, got {num_labels}")
        self.config = config
        self.num_labels = num_labels
        self.use_crf = use_crf
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = FastDropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        init_bert_weights(self.classifier, config.initializer_range)
        self.crf = LinearChainCRF(num_labels) if use_crf else None

    def emissions(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        token_type_ids: torch.Tensor | None,
    ) -> torch.Tensor:
        sequence_output, _ = self.bert(input_ids, attention_mask, token_type_ids)
        return self.classifier(self.dropout(sequence_output))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        label_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        logits = self.emissions(input_ids, attention_mask, token_type_ids)
        outputs = {"logits": logits}
        if labels is not None:
            mask = _valid_positions(input_ids, attention_mask, label_mask)
            if self.crf is not None:
                outputs["loss"] = self.crf.neg_log_likelihood(logits.float(), labels, mask)
            else:
                targets = labels.long().masked_fill(~mask, -100)
                outputs["loss"] = F.cross_entropy(
                    logits.float().reshape(-1, self.num_labels), targets.reshape(-1),
                    ignore_index=-100,
                )
        return outputs

    @torch.no_grad()
    def decode(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        label_mask: torch.Tensor | None = None,
    ) -> list[list[int]]:
        """Best tag per valid position (Viterbi with a CRF, argmax without), one list per row;
        row i has as many tags as its mask has ones, in position order."""
        logits = self.emissions(input_ids, attention_mask, token_type_ids).float()
        mask = _valid_positions(input_ids, attention_mask, label_mask)
        if self.crf is not None:
            return self.crf.viterbi_decode(logits, mask)
        best = logits.argmax(dim=-1)
        return [row[row_mask].tolist() for row, row_mask in zip(best, mask)]


def _valid_positions(
    input_ids: torch.Tensor, attention_mask: torch.Tensor | None, label_mask: torch.Tensor | None
) -> torch.Tensor:
    chosen = label_mask if label_mask is not None else attention_mask
    if chosen is None:
        return torch.ones_like(input_ids, dtype=torch.bool)
    return chosen.bool()


# --------------------------------------------------------------------------------------------


def build_model(
    task: str, config: BertConfig, num_labels: int | None = None, use_crf: bool = False
) -> nn.Module:
    """The head for a task name of the CLI: squad, classification or ner."""
    if task == "squad":
        if use_crf:
            raise UsageError("--use-crf applies to the ner task only")
        return BertForQuestionAnswering(config)
    if task in ("classification", "ner") and num_labels is None:
        raise UsageError(f"task {task!r} needs num_labels")
    if task == "classification":
        if use_crf:
            raise UsageError("--use-crf applies to the ner task only")
        return BertForSequenceClassification(config, int(num_labels))  # type: ignore[arg-type]
    if task == "ner":
        return BertForTokenClassification(config, int(num_labels), use_crf=use_crf)  # type: ignore[arg-type]
    if task == "pretrain":
        from bertkit.train.pretraining import BertForPreTraining  # it builds on this module

        return BertForPreTraining(config)
    raise UsageError(f"unknown task {task!r} (expected one of {', '.join(TASKS)})")


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())

