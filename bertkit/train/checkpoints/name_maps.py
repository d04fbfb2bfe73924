"""Declarative name tables: foreign checkpoint names -> our (= transformers') names.

Each rule is (source template, target template, transform). ``{n}`` stands for a layer
index. Targets are written relative to the encoder (``embeddings...``, ``encoder.layer...``)
for encoder tensors and as full names for heads (``qa_outputs.weight``). Every transpose is
spelled out: Google's TF ``kernel`` tensors are stored ``[in, out]`` while PyTorch's
``nn.Linear.weight`` is ``[out, in]``; Google's head ``output_weights`` and every MindSpore
``Dense`` weight already use ``[out, in]``.

Because the attention matrices are square, a shape check cannot catch a wrong transpose:
the parity tests (same input, same outputs) are what guard these tables.
"""

from __future__ import annotations

import dataclasses
import re
from enum import Enum


class Transform(Enum):
    KEEP = "keep"
    TRANSPOSE = "transpose"


KEEP, TRANSPOSE = Transform.KEEP, Transform.TRANSPOSE


@dataclasses.dataclass(frozen=True)
class Rule:
    source: str
    target: str
    transform: Transform = KEEP

    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.escape(self.source).replace(r"\{n\}", r"(?P<n>\d+)") + "$")


# --------------------------------------------------------------------------------------------
# Google TF (google-research/bert modeling.py scopes; run_squad / run_classifier heads).
# Encoder targets are relative to the `bert.` module.
# --------------------------------------------------------------------------------------------

def _tf_dense(scope: str, module: str) -> tuple[Rule, Rule]:
    """A TF dense layer's ``kernel`` ([in, out], transposed) and ``bias``."""
    return (Rule(f"{scope}/kernel", f"{module}.weight", TRANSPOSE),
            Rule(f"{scope}/bias", f"{module}.bias"))


def _tf_layer_norm(scope: str, module: str) -> tuple[Rule, Rule]:
    """A TF LayerNorm's ``gamma`` and ``beta``."""
    return (Rule(f"{scope}/gamma", f"{module}.weight"), Rule(f"{scope}/beta", f"{module}.bias"))


_TF_LAYER, _LAYER = "bert/encoder/layer_{n}", "encoder.layer.{n}"

GOOGLE_TF_ENCODER: tuple[Rule, ...] = (
    Rule("bert/embeddings/word_embeddings", "embeddings.word_embeddings.weight"),
    Rule("bert/embeddings/position_embeddings", "embeddings.position_embeddings.weight"),
    Rule("bert/embeddings/token_type_embeddings", "embeddings.token_type_embeddings.weight"),
    *_tf_layer_norm("bert/embeddings/LayerNorm", "embeddings.LayerNorm"),
    *_tf_dense(f"{_TF_LAYER}/attention/self/query", f"{_LAYER}.attention.self.query"),
    *_tf_dense(f"{_TF_LAYER}/attention/self/key", f"{_LAYER}.attention.self.key"),
    *_tf_dense(f"{_TF_LAYER}/attention/self/value", f"{_LAYER}.attention.self.value"),
    *_tf_dense(f"{_TF_LAYER}/attention/output/dense", f"{_LAYER}.attention.output.dense"),
    *_tf_layer_norm(f"{_TF_LAYER}/attention/output/LayerNorm",
                    f"{_LAYER}.attention.output.LayerNorm"),
    *_tf_dense(f"{_TF_LAYER}/intermediate/dense", f"{_LAYER}.intermediate.dense"),
    *_tf_dense(f"{_TF_LAYER}/output/dense", f"{_LAYER}.output.dense"),
    *_tf_layer_norm(f"{_TF_LAYER}/output/LayerNorm", f"{_LAYER}.output.LayerNorm"),
    *_tf_dense("bert/pooler/dense", "pooler.dense"),
)

GOOGLE_TF_HEADS: tuple[Rule, ...] = (
    Rule("cls/squad/output_weights", "qa_outputs.weight"),  # run_squad.py, [2, hidden]
    Rule("cls/squad/output_bias", "qa_outputs.bias"),
    Rule("output_weights", "classifier.weight"),  # run_classifier.py, [num_labels, hidden]
    Rule("output_bias", "classifier.bias"),
    # run_pretraining.py: the masked-LM transform (a dense kernel, [in, out]), the output
    # bias of the decoder tied to the word embeddings, and the next-sentence layer, whose
    # output_weights are [2, hidden] already.
    Rule("cls/predictions/transform/dense/kernel", "cls.predictions.transform.dense.weight", TRANSPOSE),
    Rule("cls/predictions/transform/dense/bias", "cls.predictions.transform.dense.bias"),
    Rule("cls/predictions/transform/LayerNorm/gamma", "cls.predictions.transform.LayerNorm.weight"),
    Rule("cls/predictions/transform/LayerNorm/beta", "cls.predictions.transform.LayerNorm.bias"),
    Rule("cls/predictions/output_bias", "cls.predictions.bias"),
    Rule("cls/seq_relationship/output_weights", "cls.seq_relationship.weight"),
    Rule("cls/seq_relationship/output_bias", "cls.seq_relationship.bias"),
)

# Optimizer slots and step counters: known, deliberately not loaded.
GOOGLE_TF_IGNORED = re.compile(
    r"(.*/adam_[mv]|global_step|AdamWeightDecayOptimizer.*"
    r"|_CHECKPOINTABLE_OBJECT_GRAPH|.*/ExponentialMovingAverage)$"
)

# --------------------------------------------------------------------------------------------
# MindSpore model zoo (official/nlp/Bert src/bert_model.py). Source templates are relative to
# the BertModel cell, which the zoo nets wrap two levels deep (`bert.bert.`); heads relative
# to the task cell one level up (`bert.`). Dense weights are [out, in]: no transposes.
# --------------------------------------------------------------------------------------------

MINDSPORE_ANCHOR = "bert_embedding_lookup.embedding_table"  # locates the encoder prefix

MINDSPORE_ENCODER: tuple[Rule, ...] = (
    Rule("bert_embedding_lookup.embedding_table", "embeddings.word_embeddings.weight"),
    Rule("bert_embedding_postprocessor.full_position_embedding.embedding_table", "embeddings.position_embeddings.weight"),
    Rule("bert_embedding_postprocessor.token_type_embedding.embedding_table", "embeddings.token_type_embeddings.weight"),
    # An older zoo generation named the two tables differently.
    Rule("bert_embedding_postprocessor.full_position_embeddings", "embeddings.position_embeddings.weight"),
    Rule("bert_embedding_postprocessor.embedding_table", "embeddings.token_type_embeddings.weight"),
    Rule("bert_embedding_postprocessor.layernorm.gamma", "embeddings.LayerNorm.weight"),
    Rule("bert_embedding_postprocessor.layernorm.beta", "embeddings.LayerNorm.bias"),
    Rule("bert_encoder.layers.{n}.attention.attention.query_layer.weight", "encoder.layer.{n}.attention.self.query.weight"),
    Rule("bert_encoder.layers.{n}.attention.attention.query_layer.bias", "encoder.layer.{n}.attention.self.query.bias"),
    Rule("bert_encoder.layers.{n}.attention.attention.key_layer.weight", "encoder.layer.{n}.attention.self.key.weight"),
    Rule("bert_encoder.layers.{n}.attention.attention.key_layer.bias", "encoder.layer.{n}.attention.self.key.bias"),
    Rule("bert_encoder.layers.{n}.attention.attention.value_layer.weight", "encoder.layer.{n}.attention.self.value.weight"),
    Rule("bert_encoder.layers.{n}.attention.attention.value_layer.bias", "encoder.layer.{n}.attention.self.value.bias"),
    Rule("bert_encoder.layers.{n}.attention.output.dense.weight", "encoder.layer.{n}.attention.output.dense.weight"),
    Rule("bert_encoder.layers.{n}.attention.output.dense.bias", "encoder.layer.{n}.attention.output.dense.bias"),
    Rule("bert_encoder.layers.{n}.attention.output.layernorm.gamma", "encoder.layer.{n}.attention.output.LayerNorm.weight"),
    Rule("bert_encoder.layers.{n}.attention.output.layernorm.beta", "encoder.layer.{n}.attention.output.LayerNorm.bias"),
    Rule("bert_encoder.layers.{n}.intermediate.weight", "encoder.layer.{n}.intermediate.dense.weight"),
    Rule("bert_encoder.layers.{n}.intermediate.bias", "encoder.layer.{n}.intermediate.dense.bias"),
    Rule("bert_encoder.layers.{n}.output.dense.weight", "encoder.layer.{n}.output.dense.weight"),
    Rule("bert_encoder.layers.{n}.output.dense.bias", "encoder.layer.{n}.output.dense.bias"),
    Rule("bert_encoder.layers.{n}.output.layernorm.gamma", "encoder.layer.{n}.output.LayerNorm.weight"),
    Rule("bert_encoder.layers.{n}.output.layernorm.beta", "encoder.layer.{n}.output.LayerNorm.bias"),
    Rule("dense.weight", "pooler.dense.weight"),
    Rule("dense.bias", "pooler.dense.bias"),
)

MINDSPORE_HEADS: tuple[Rule, ...] = (
    Rule("dense1.weight", "qa_outputs.weight"),  # BertSquadModel, [2, hidden]
    Rule("dense1.bias", "qa_outputs.bias"),
    Rule("dense_1.weight", "classifier.weight"),  # BertCLSModel and BertNERModel
    Rule("dense_1.bias", "classifier.bias"),
    # BertPreTraining (src/bert_for_pre_training.py): cls1 is GetMaskedLMOutput (dense with
    # the activation, layernorm, output_bias; the decoder is the embedding table), cls2 is
    # GetNextSentenceOutput. Dense weights are [out, in] like PyTorch's: renames only.
    Rule("cls1.dense.weight", "cls.predictions.transform.dense.weight"),
    Rule("cls1.dense.bias", "cls.predictions.transform.dense.bias"),
    Rule("cls1.layernorm.gamma", "cls.predictions.transform.LayerNorm.weight"),
    Rule("cls1.layernorm.beta", "cls.predictions.transform.LayerNorm.bias"),
    Rule("cls1.output_bias", "cls.predictions.bias"),
    Rule("cls2.dense.weight", "cls.seq_relationship.weight"),
    Rule("cls2.dense.bias", "cls.seq_relationship.bias"),
)

# Optimizer moments, loss scaling, step counters, and the zoo CRF's
# `loss.transitions` (it folds <START>/<STOP> into a (n+2)x(n+2) matrix that our CRF, with
# separate start/end vectors, does not share; a CRF is trained from scratch instead).
MINDSPORE_IGNORED = re.compile(
    r"((moments1|moments2|moment1|moment2|adam_m|adam_v|accu_grads|accum|momentum|"
    r"global_step|learning_rate|beta1_power|beta2_power|loss_scale|scale_sense|"
    r"current_iterator_step|last_overflow_iterator_step|epoch_num|step_num)(\..*)?"
    r"|loss\.transitions)$"
)

# --------------------------------------------------------------------------------------------
# Hugging Face: the same names as ours. Old PyTorch ports still say gamma/beta in LayerNorm.
# --------------------------------------------------------------------------------------------

HF_LEGACY_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("LayerNorm.gamma", "LayerNorm.weight"),
    ("LayerNorm.beta", "LayerNorm.bias"),
)
HF_ENCODER_ROOTS = ("embeddings.", "encoder.", "pooler.")
# The heads' names are each task's (`bertkit.train.tasks`, ``hf_heads``; pretraining's are
# ``cls.*``). cls.predictions.decoder.{weight,bias} are aliases of the word embeddings and
# of cls.predictions.bias (tied in transformers; older files store them twice).
HF_IGNORED = re.compile(r"(.*position_ids|cls\.predictions\.decoder\..*|.*\.num_batches_tracked)$")
