"""The heads on top of ``BertModel``: span, sequence and token classification, and pretraining.

Each head owns its loss (returned under ``"loss"`` when the labels are given), so the trainer
only ever calls ``model(**batch)["loss"]``. Which task builds which head, and how, is said by
the task registry (``bertkit.train.tasks``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from bertkit.errors import UsageError
from bertkit.train.config import BertConfig
from bertkit.train.crf import LinearChainCRF
from bertkit.train.dropout import FastDropout
from bertkit.train.model import BertModel, _activation, init_bert_weights

Outputs = dict[str, torch.Tensor]
MaybeTensor = torch.Tensor | None

# Attribute names follow HF (`bert`, `qa_outputs`, `classifier`) so the state-dict keys are
# those of transformers' BertFor* classes. HF builds the span and token heads without a
# pooler; so do we, so that export has no unexpected keys.


class _FineTuningHead(nn.Module):
    """The encoder and a linear output layer of ``num_labels`` outputs, initialised as Google
    does: what the span, sequence and token heads share. Each head keeps its ``forward``
    signature explicit, because its argument names are the record columns it reads."""

    def __init__(self, config: BertConfig, num_labels: int, *, add_pooling_layer: bool):
        super().__init__()
        self.config = config
        self.num_labels = num_labels
        self.bert = BertModel(config, add_pooling_layer=add_pooling_layer)

    def _output_layer(self, num_labels: int) -> nn.Linear:
        layer = nn.Linear(self.config.hidden_size, num_labels)
        init_bert_weights(layer, self.config.initializer_range)
        return layer


class BertForQuestionAnswering(_FineTuningHead):
    """SQuAD span head: a start and an end logit per token."""

    task = "squad"

    def __init__(self, config: BertConfig):
        super().__init__(config, 2, add_pooling_layer=False)
        self.qa_outputs = self._output_layer(2)

    def forward(self, input_ids: torch.Tensor, attention_mask: MaybeTensor = None,
                token_type_ids: MaybeTensor = None, start_positions: MaybeTensor = None,
                end_positions: MaybeTensor = None) -> Outputs:
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


class _LabelHead(_FineTuningHead):
    """Dropout and a linear ``classifier`` over the encoder: what the sequence and token
    heads share (they differ in what the classifier reads)."""

    def __init__(self, config: BertConfig, num_labels: int, *, add_pooling_layer: bool):
        if num_labels < 1:
            raise UsageError(f"num_labels must be at least 1, got {num_labels}")
        super().__init__(config, num_labels, add_pooling_layer=add_pooling_layer)
        self.dropout = FastDropout(config.hidden_dropout_prob)
        self.classifier = self._output_layer(num_labels)


class BertForSequenceClassification(_LabelHead):
    """Pooled [CLS] -> dropout -> linear. One label means regression (MSE on float labels)."""

    task = "classification"

    def __init__(self, config: BertConfig, num_labels: int):
        super().__init__(config, num_labels, add_pooling_layer=True)

    def forward(self, input_ids: torch.Tensor, attention_mask: MaybeTensor = None,
                token_type_ids: MaybeTensor = None, labels: MaybeTensor = None) -> Outputs:
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

    def emissions(self, input_ids: torch.Tensor, attention_mask: MaybeTensor,
                  token_type_ids: MaybeTensor) -> torch.Tensor:
        sequence_output, _ = self.bert(input_ids, attention_mask, token_type_ids)
        return self.classifier(self.dropout(sequence_output))

    def forward(self, input_ids: torch.Tensor, attention_mask: MaybeTensor = None,
                token_type_ids: MaybeTensor = None, labels: MaybeTensor = None,
                label_mask: MaybeTensor = None) -> Outputs:
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
    def decode(self, input_ids: torch.Tensor, attention_mask: MaybeTensor = None,
               token_type_ids: MaybeTensor = None,
               label_mask: MaybeTensor = None) -> list[list[int]]:
        """Best tag per valid position (Viterbi with a CRF, argmax without), one list per row;
        row i has as many tags as its mask has ones, in position order."""
        logits = self.emissions(input_ids, attention_mask, token_type_ids).float()
        mask = _valid_positions(input_ids, attention_mask, label_mask)
        if self.crf is not None:
            return self.crf.viterbi_decode(logits, mask)
        best = logits.argmax(dim=-1)
        return [row[row_mask].tolist() for row, row_mask in zip(best, mask)]


def _valid_positions(input_ids: torch.Tensor, attention_mask: MaybeTensor,
                     label_mask: MaybeTensor) -> torch.Tensor:
    chosen = label_mask if label_mask is not None else attention_mask
    if chosen is None:
        return torch.ones_like(input_ids, dtype=torch.bool)
    return chosen.bool()


# --------------------------------------------------------------------------------------------
# Pretraining (masked LM + next sentence)
#
# BERT pretraining: the masked-LM and next-sentence heads, Google's loss, and its metrics.
#
# ``BertForPreTraining`` has transformers' module and parameter names (``bert``,
# ``cls.predictions.transform.dense``, ``cls.predictions.transform.LayerNorm``,
# ``cls.predictions.bias``, ``cls.seq_relationship``), so its state dict loads into
# transformers' ``BertForPreTraining`` as it is. The decoder is the word-embedding matrix
# itself (tied, as in Google's ``get_masked_lm_output`` and HF), plus the output bias
# ``cls.predictions.bias``. The tie is made without registering the embedding a second time:
# HF's ``cls.predictions.decoder.{weight,bias}`` are aliases, and a state dict holding them
# twice could not be written to safetensors (which refuses tensors that share memory); HF
# re-ties them when it loads.
#
# The loss is ``run_pretraining.py``'s, not HF's: the masked-LM cross-entropy is weighted by
# ``masked_lm_weights`` (0 on padded prediction slots) and divided by their sum plus 1e-5,
# then the mean next-sentence cross-entropy is added. Logits are computed only at the masked
# positions (Google's ``gather_indexes``), 20 of 128 positions by default, so the
# [positions, vocab] product, the largest matmul of a small BERT, is 6x smaller.
# --------------------------------------------------------------------------------------------

# The 1e-5 of run_pretraining.py's `denominator = tf.reduce_sum(label_weights) + 1e-5`.
MLM_DENOMINATOR_EPSILON = 1e-5

# Sums that make the logged accuracies exact across micro-batches and ranks: accuracy is a
# ratio of sums, never a mean of per-batch ratios.
METRIC_SUMS = ("mlm_correct", "mlm_weight", "nsp_correct", "nsp_count")


class BertPredictionHeadTransform(nn.Module):
    """dense -> activation -> LayerNorm: `cls/predictions/transform` of Google's graph."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = _activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.activation(self.dense(hidden)))


class TiedDecoder(nn.Module):
    """Hidden states -> vocabulary logits through the word-embedding matrix.

    Holds the embedding module by a plain reference (not a submodule), so its weight has
    one name in the state dict, ``bert.embeddings.word_embeddings.weight``.
    """

    def __init__(self, word_embeddings: nn.Embedding):
        super().__init__()
        object.__setattr__(self, "_word_embeddings", word_embeddings)

    @property
    def weight(self) -> torch.Tensor:
        return self._word_embeddings.weight  # type: ignore[attr-defined]

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self.weight, bias)


class BertLMPredictionHead(nn.Module):
    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = TiedDecoder(word_embeddings)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))  # cls/predictions/output_bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden), self.bias)


class BertPreTrainingHeads(nn.Module):
    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.predictions = BertLMPredictionHead(config, word_embeddings)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)


class BertForPreTraining(nn.Module):
    """Encoder with pooler + masked-LM head (tied decoder) + next-sentence head."""

    task = "pretrain"

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=True)
        self.cls = BertPreTrainingHeads(config, self.bert.embeddings.word_embeddings)
        self.cls.apply(lambda module: init_bert_weights(module, config.initializer_range))
        # init_bert_weights leaves plain parameters alone; the output bias starts at 0 (Google).
        nn.init.zeros_(self.cls.predictions.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: MaybeTensor = None,
                token_type_ids: MaybeTensor = None, masked_lm_positions: MaybeTensor = None,
                masked_lm_ids: MaybeTensor = None, masked_lm_weights: MaybeTensor = None,
                next_sentence_labels: MaybeTensor = None) -> Outputs:
        """Logits, and with all four labels the loss and the metric sums.

        With ``masked_lm_positions`` the masked-LM logits are those positions' only
        (``mlm_logits`` [B, P, vocab]); without, every position's (``prediction_logits``
        [B, L, vocab], as transformers returns them).
        """
        sequence_output, pooled_output = self.bert(input_ids, attention_mask, token_type_ids)
        assert pooled_output is not None
        outputs: Outputs = {
            "seq_relationship_logits": self.cls.seq_relationship(pooled_output)}
        if masked_lm_positions is None:
            outputs["prediction_logits"] = self.cls.predictions(sequence_output)
            return outputs
        gathered = gather_positions(sequence_output, masked_lm_positions)
        outputs["mlm_logits"] = self.cls.predictions(gathered)
        if masked_lm_ids is not None and masked_lm_weights is not None \
                and next_sentence_labels is not None:
            outputs.update(pretraining_loss(outputs["mlm_logits"], masked_lm_ids,
                                            masked_lm_weights,
                                            outputs["seq_relationship_logits"],
                                            next_sentence_labels))
        return outputs


def gather_positions(sequence_output: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """[B, L, H] at [B, P] positions -> [B, P, H] (Google's ``gather_indexes``)."""
    index = positions.long().unsqueeze(-1).expand(-1, -1, sequence_output.shape[-1])
    return sequence_output.gather(1, index)


def pretraining_loss(mlm_logits: torch.Tensor, masked_lm_ids: torch.Tensor,
                     masked_lm_weights: torch.Tensor, nsp_logits: torch.Tensor,
                     next_sentence_labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """run_pretraining.py's loss (masked LM + next sentence) and the metric sums.

    masked LM: sum(w * nll) / (sum(w) + 1e-5) over the prediction slots; next sentence: the
    mean cross-entropy over the batch. Accuracy sums follow its eval metrics: masked-LM
    accuracy weighted by ``masked_lm_weights``, next-sentence accuracy per record.
    """
    weights = masked_lm_weights.float()
    log_probs = torch.log_softmax(mlm_logits.float(), dim=-1)
    targets = masked_lm_ids.long()
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    mlm_loss = (weights * nll).sum() / (weights.sum() + MLM_DENOMINATOR_EPSILON)
    nsp_targets = next_sentence_labels.long().reshape(-1)
    nsp_loss = F.cross_entropy(nsp_logits.float(), nsp_targets)
    with torch.no_grad():
        mlm_hit = (mlm_logits.argmax(dim=-1) == targets).float()
        nsp_hit = (nsp_logits.argmax(dim=-1) == nsp_targets).float()
        sums = {
            "mlm_correct": (mlm_hit * weights).sum(),
            "mlm_weight": weights.sum(),
            "nsp_correct": nsp_hit.sum(),
            "nsp_count": torch.tensor(float(nsp_targets.numel()), device=nsp_hit.device),
        }
    return {"loss": mlm_loss + nsp_loss, "mlm_loss": mlm_loss.detach(),
            "nsp_loss": nsp_loss.detach(), **sums}


def accuracies(sums: Mapping[str, float]) -> dict[str, float]:
    """mlm_accuracy and nsp_accuracy from summed counts (NaN where nothing was counted)."""
    def ratio(hits: float, count: float) -> float:
        return hits / count if count > 0 else float("nan")

    return {"mlm_accuracy": ratio(sums["mlm_correct"], sums["mlm_weight"]),
            "nsp_accuracy": ratio(sums["nsp_correct"], sums["nsp_count"])}

