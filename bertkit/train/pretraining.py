"""BERT pretraining: the masked-LM and next-sentence heads, Google's loss, and its metrics.

``BertForPreTraining`` has transformers' module and parameter names (``bert``,
``cls.predictions.transform.dense``, ``cls.predictions.transform.LayerNorm``,
``cls.predictions.bias``, ``cls.seq_relationship``), so its state dict loads into
transformers' ``BertForPreTraining`` as it is. The decoder is the word-embedding matrix
itself (tied, as in Google's ``get_masked_lm_output`` and HF), plus the output bias
``cls.predictions.bias``. The tie is made without registering the embedding a second time:
HF's ``cls.predictions.decoder.{weight,bias}`` are aliases, and a state dict holding them
twice could not be written to safetensors (which refuses tensors that share memory); HF
re-ties them when it loads.

The loss is ``run_pretraining.py``'s, not HF's: the masked-LM cross-entropy is weighted by
``masked_lm_weights`` (0 on padded prediction slots) and divided by their sum plus 1e-5,
then the mean next-sentence cross-entropy is added. Logits are computed only at the masked
positions (Google's ``gather_indexes``), 20 of 128 positions by default, so the
[positions, vocab] product, the largest matmul of a small BERT, is 6x smaller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from bertkit.train.config import BertConfig
from bertkit.train.model import BertModel, _activation, init_bert_weights

# The 1e-5 of run_pretraining.py's `denominator = tf.reduce_sum(label_weights) + 1e-5`.
MLM_DENOMINATOR_EPSILON = 1e-5

# The features `prep pretrain` writes, by the name the model's forward takes.
PRETRAINING_LABELS = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
                      "next_sentence_labels")

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

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        masked_lm_positions: torch.Tensor | None = None,
        masked_lm_ids: torch.Tensor | None = None,
        masked_lm_weights: torch.Tensor | None = None,
        next_sentence_labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Logits, and with all four labels the loss and the metric sums.

        With ``masked_lm_positions`` the masked-LM logits are those positions' only
        (``mlm_logits`` [B, P, vocab]); without, every position's (``prediction_logits``
        [B, L, vocab], as transformers returns them).
        """
        sequence_output, pooled_output = self.bert(input_ids, attention_mask, token_type_ids)
        assert pooled_output is not None
        outputs: dict[str, torch.Tensor] = {
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


class StepMetrics:
    """The accuracy counts of one optimizer step: summed over its micro-batches, then over
    ranks. The total stays on the device until the loop reads the step's loss back."""

    def __init__(self) -> None:
        self.sums: torch.Tensor | None = None

    def add(self, outputs: Mapping[str, torch.Tensor]) -> None:
        values = torch.stack([outputs[name].detach().float() for name in METRIC_SUMS])
        self.sums = values if self.sums is None else self.sums + values

    def total(self, world_size: int = 1,
              mean_over_ranks: Callable[[torch.Tensor], torch.Tensor] | None = None
              ) -> torch.Tensor:
        """The counts over every rank: under DDP pass the world size and
        ``distributed.mean_over_ranks`` bound to the run's context (mean x size = sum)."""
        assert self.sums is not None, "no micro-batch was added"
        return self.sums if mean_over_ranks is None else mean_over_ranks(self.sums) * world_size

    @staticmethod
    def fields(total: list[float]) -> dict[str, float]:
        """The step's log fields (mlm_accuracy, nsp_accuracy) from ``total``'s values."""
        return accuracies(dict(zip(METRIC_SUMS, total)))
