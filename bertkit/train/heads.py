"""The fine-tuning heads on top of ``BertModel``: span, sequence and token classification.

Each head owns its loss (returned under ``"loss"`` when the labels are given), so the trainer
only ever calls ``model(**batch)["loss"]``. Which task builds which head, and how, is said by
the task registry (``bertkit.train.tasks``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bertkit.errors import UsageError
from bertkit.train.config import BertConfig
from bertkit.train.crf import LinearChainCRF
from bertkit.train.dropout import FastDropout
from bertkit.train.model import BertModel, init_bert_weights

# Attribute names follow HF (`bert`, `qa_outputs`, `classifier`) so the state-dict keys are
# those of transformers' BertFor* classes. HF builds the span and token heads without a
# pooler; so do we, so that export has no unexpected keys.


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


class _LabelHead(nn.Module):
    """The encoder, dropout and a linear ``classifier`` to ``num_labels`` outputs: what the
    sequence and token heads share (they differ in what the classifier reads)."""

    def __init__(self, config: BertConfig, num_labels: int, *, add_pooling_layer: bool):
        super().__init__()
        if num_labels < 1:
            raise UsageError(f"num_labels must be at least 1, got {num_labels}")
        self.config = config
        self.num_labels = num_labels
        self.bert = BertModel(config, add_pooling_layer=add_pooling_layer)
        self.dropout = FastDropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        init_bert_weights(self.classifier, config.initializer_range)


class BertForSequenceClassification(_LabelHead):
    """Pooled [CLS] -> dropout -> linear. One label means regression (MSE on float labels)."""

    task = "classification"

    def __init__(self, config: BertConfig, num_labels: int):
        super().__init__(config, num_labels, add_pooling_layer=True)

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


class BertForTokenClassification(_LabelHead):
    """Per-token tags, with an optional linear-chain CRF on top of the emissions.

    Only positions where the mask is 1 count: the ``label_mask`` when given (e.g. first
    word pieces only), else the ``attention_mask``. Padding never contributes to the loss.
    """

    task = "ner"

    def __init__(self, config: BertConfig, num_labels: int, use_crf: bool = False):
        super().__init__(config, num_labels, add_pooling_layer=False)
        self.use_crf = use_crf
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
