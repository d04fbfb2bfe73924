"""Pretraining heads from Google TF, MindSpore zoo and HF checkpoints: each gives the source's
masked-LM and next-sentence logits.

The fixtures (tests/fixtures/checkpoints/*pretraining*) were written by the real tools from
one set of HF-named reference weights (tools/make_pretraining_checkpoint_fixtures.py). The
oracle is transformers' BertForPreTraining holding the reference weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers
from safetensors.torch import load_file
from test_checkpoints import batch  # the same inputs as the fine-tuning checkpoint tests

from bertkit.train.checkpoints import load_init_checkpoint, read_checkpoint
from bertkit.train.checkpoints.mapping import map_names
from bertkit.train.checkpoints.name_maps import (
    MINDSPORE_ENCODER,
    MINDSPORE_HEADS,
    MINDSPORE_IGNORED,
)
from bertkit.train.config import BertConfig
from bertkit.train.heads import BertForPreTraining, BertForSequenceClassification

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
GOOGLE = FIXTURES / "google_tf_pretraining" / "bert_model.ckpt"
MINDSPORE = FIXTURES / "mindspore_pretraining" / "bert_pretrain.ckpt"
HEAD_TENSORS = sorted([
    "cls.predictions.bias", "cls.predictions.transform.dense.weight",
    "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
    "cls.predictions.transform.LayerNorm.bias", "cls.seq_relationship.weight",
    "cls.seq_relationship.bias"])


def reference_model(reference: str, hf_class: type = transformers.BertForPreTraining):
    config = BertConfig.from_json_file(FIXTURES / reference / "config.json")
    hf = hf_class(transformers.BertConfig(**config.to_hf_dict()))
    state = load_file(str(FIXTURES / reference / "model.safetensors"))
    expected = hf.state_dict()
    hf.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=False)
    hf.tie_weights()
    return config, hf.eval()


def oracle_logits(reference: str):
    config, hf = reference_model(reference)
    with torch.no_grad():
        out = hf(*batch(config))
    return config, out.prediction_logits, out.seq_relationship_logits


@pytest.mark.parametrize(("reference", "checkpoint", "fmt", "ignored"), [
    ("reference_pretraining", FIXTURES / "reference_pretraining", "hf", set()),
    ("reference_pretraining", GOOGLE, "google_tf",
     {"cls/predictions/output_bias/adam_m", "cls/predictions/output_bias/adam_v", "global_step"}),
    ("reference_mindspore_pretraining", MINDSPORE, "mindspore",
     {"moments1.bert.cls1.output_bias", "global_step"}),
    ("reference_mindspore_pretraining", MINDSPORE.parent, "mindspore",
     {"moments1.bert.cls1.output_bias", "global_step"}),
], ids=["hf", "google-tf", "mindspore-zoo", "mindspore-dir"])
def test_each_format_loads_both_heads_and_gives_the_reference_logits(reference, checkpoint,
                                                                     fmt, ignored):
    config, mlm, nsp = oracle_logits(reference)
    model = BertForPreTraining(config).eval()
    report = load_init_checkpoint(model, checkpoint)
    assert report.format == fmt
    assert report.initialised_heads == [] and report.unexpected == []
    assert set(report.ignored) == ignored
    assert set(HEAD_TENSORS) <= set(report.loaded)
    assert "newly initialised" not in report.summary()
    with torch.no_grad():
        out = model(*batch(config))
    torch.testing.assert_close(out["prediction_logits"], mlm, atol=1e-5, rtol=0)
    torch.testing.assert_close(out["seq_relationship_logits"], nsp, atol=1e-5, rtol=0)


def test_mindspore_cls1_cls2_map_names_every_head_tensor():
    """The zoo's BertPreTraining names (bert_for_pre_training.py) -> transformers' names."""
    zoo_and_hf_names = (
        ("bert.cls1.dense.weight", "cls.predictions.transform.dense.weight"),
        ("bert.cls1.dense.bias", "cls.predictions.transform.dense.bias"),
        ("bert.cls1.layernorm.gamma", "cls.predictions.transform.LayerNorm.weight"),
        ("bert.cls1.layernorm.beta", "cls.predictions.transform.LayerNorm.bias"),
        ("bert.cls1.output_bias", "cls.predictions.bias"),
        ("bert.cls2.dense.weight", "cls.seq_relationship.weight"),
        ("bert.cls2.dense.bias", "cls.seq_relationship.bias"),
    )
    names = [zoo for zoo, _ in zoo_and_hf_names]
    names += ["moments2.bert.cls2.dense.bias", "bert.cls3.dense.bias"]
    mapped = map_names(names, lambda name: torch.zeros(1), encoder_rules=MINDSPORE_ENCODER,
                       head_rules=MINDSPORE_HEADS, ignored=MINDSPORE_IGNORED,
                       encoder_prefix="bert.bert.", head_prefix="bert.")
    assert mapped.source_names == {hf: zoo for zoo, hf in zoo_and_hf_names}
    assert mapped.ignored == ["moments2.bert.cls2.dense.bias"]  # optimizer state
    assert mapped.unexpected == ["bert.cls3.dense.bias"]  # unknown: reported, not dropped


def test_google_and_mindspore_heads_are_the_same_tensors_after_mapping():
    """Google stores the transform kernel [in, out]; MindSpore and HF [out, in]. After the
    maps, each head tensor equals the HF reference bit for bit."""
    for reference, checkpoint in (("reference_pretraining", GOOGLE),
                                  ("reference_mindspore_pretraining", MINDSPORE)):
        state = load_file(str(FIXTURES / reference / "model.safetensors"))
        _, _, mapped = read_checkpoint(checkpoint)
        for name in HEAD_TENSORS:
            assert torch.equal(mapped.tensors[name], state[name]), (checkpoint.name, name)


def test_hf_masked_lm_checkpoint_loads_the_mlm_head_and_initialises_the_rest(tmp_path):
    """transformers' BertForMaskedLM (no pooler, no NSP layer), saved by save_pretrained:
    the masked-LM logits are its own, and the report names the tensors initialised."""
    config, hf = reference_model("reference_pretraining", transformers.BertForMaskedLM)
    hf.save_pretrained(tmp_path / "mlm")
    model = BertForPreTraining(config).eval()
    report = load_init_checkpoint(model, tmp_path / "mlm")
    assert report.unexpected == []
    assert report.initialised == ["bert.pooler.dense.weight", "bert.pooler.dense.bias",
                                  "cls.seq_relationship.weight", "cls.seq_relationship.bias"]
    line = report.summary()
    assert "\n" not in line and "newly initialised: bert.pooler.dense.weight, " \
        "bert.pooler.dense.bias, cls.seq_relationship.weight, cls.seq_relationship.bias" in line
    ids, mask, types = batch(config)
    with torch.no_grad():
        ours = model(ids, mask, types)["prediction_logits"]
        theirs = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_old_pytorch_bin_with_gamma_beta_and_a_stored_decoder_loads(tmp_path):
    """Early PyTorch ports (bert-base-uncased's pytorch_model.bin) say LayerNorm.gamma/beta
    and store the tied decoder weight and bias again: the aliases are skipped."""
    state = load_file(str(FIXTURES / "reference_pretraining" / "model.safetensors"))
    legacy = {k.replace("LayerNorm.weight", "LayerNorm.gamma")
              .replace("LayerNorm.bias", "LayerNorm.beta"): v for k, v in state.items()}
    legacy["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
    legacy["cls.predictions.decoder.bias"] = state["cls.predictions.bias"]
    (tmp_path / "bin").mkdir()
    torch.save(legacy, tmp_path / "bin" / "pytorch_model.bin")
    config, mlm, nsp = oracle_logits("reference_pretraining")
    model = BertForPreTraining(config).eval()
    report = load_init_checkpoint(model, tmp_path / "bin")
    assert report.initialised == [] and report.unexpected == []
    assert sorted(report.ignored) == ["cls.predictions.decoder.bias",
                                      "cls.predictions.decoder.weight"]
    with torch.no_grad():
        out = model(*batch(config))
    torch.testing.assert_close(out["prediction_logits"], mlm, atol=1e-5, rtol=0)


@pytest.mark.parametrize("checkpoint", [GOOGLE, MINDSPORE, FIXTURES / "reference_pretraining"],
                         ids=["google-tf", "mindspore-zoo", "hf"])
def test_a_fine_tuning_model_skips_the_pretraining_heads(checkpoint):
    reference = "reference_mindspore_pretraining" if checkpoint == MINDSPORE \
        else "reference_pretraining"
    config = BertConfig.from_json_file(FIXTURES / reference / "config.json")
    report = load_init_checkpoint(BertForSequenceClassification(config, 3), checkpoint)
    assert report.unexpected == [] and report.initialised_heads == ["classifier"]
    assert len([name for name in report.ignored if "cls" in name]) >= 7
