"""Loading HF, Google TF and MindSpore checkpoints: each format gives the source's outputs.

The fixtures under tests/fixtures/checkpoints were written by the real tools (safetensors,
tf.compat.v1 Saver, mindspore.save_checkpoint; see tools/make_checkpoint_fixtures.py) from
one set of reference weights. The oracle is transformers' BertForQuestionAnswering holding
the reference weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file
from train_support import random_bert_inputs

from bertkit.errors import BertkitError, InputError
from bertkit.train.checkpoints import (
    detect_format,
    find_config_for_checkpoint,
    load_init_checkpoint,
)
from bertkit.train.checkpoints.mindspore import read_mindspore_checkpoint
from bertkit.train.checkpoints.protowire import iter_fields, read_varint
from bertkit.train.config import BertConfig
from bertkit.train.heads import (
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
)
from bertkit.train.model import BertModel

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
GOOGLE = FIXTURES / "google_tf" / "bert_model.ckpt"
MINDSPORE = FIXTURES / "mindspore" / "bert_squad_crc.ckpt"


def batch(config: BertConfig):
    return random_bert_inputs(config, rows=3, length=20, seed=0, padded_row=2, pad_from=12,
                              second_segment_from=8)


def oracle_logits(reference: str) -> tuple[BertConfig, torch.Tensor, torch.Tensor]:
    """transformers' QA model with the reference weights: (config, start, end logits)."""
    import transformers
    config = BertConfig.from_json_file(FIXTURES / reference / "config.json")
    hf = transformers.BertForQuestionAnswering(transformers.BertConfig(**config.to_hf_dict())).eval()
    state = load_file(str(FIXTURES / reference / "model.safetensors"))
    hf.load_state_dict({k: v for k, v in state.items() if "pooler" not in k}, strict=False)
    ids, mask, types = batch(config)
    with torch.no_grad():
        out = hf(input_ids=ids, attention_mask=mask, token_type_ids=types)
    return config, out.start_logits, out.end_logits


def our_logits(config: BertConfig, checkpoint: Path):
    model = BertForQuestionAnswering(config).eval()
    report = load_init_checkpoint(model, checkpoint)
    with torch.no_grad():
        out = model(*batch(config))
    return report, out["start_logits"], out["end_logits"]


@pytest.mark.parametrize(
    ("reference", "checkpoint", "fmt"),
    [
        ("reference", FIXTURES / "reference", "hf"),
        ("reference", GOOGLE, "google_tf"),
        ("reference", FIXTURES / "google_tf" / "bert_model.ckpt.index", "google_tf"),
        ("reference_mindspore", MINDSPORE, "mindspore"),
        ("reference_mindspore", FIXTURES / "mindspore" / "bert_squad.ckpt", "mindspore"),
    ],
    ids=["hf", "google-prefix", "google-index", "mindspore-crc", "mindspore-plain"],
)
def test_each_format_gives_the_reference_outputs(reference: str, checkpoint: Path, fmt: str) -> None:
    config, start, end = oracle_logits(reference)
    report, our_start, our_end = our_logits(config, checkpoint)
    assert report.format == fmt
    assert report.initialised_heads == [] and report.unexpected == []
    assert "qa_outputs.weight" in report.loaded
    torch.testing.assert_close(our_start, start, atol=1e-5, rtol=0)
    torch.testing.assert_close(our_end, end, atol=1e-5, rtol=0)


def test_mindspore_fixture_uses_zoo_settings_and_skips_optimizer_state() -> None:
    config = BertConfig.from_json_file(find_config_for_checkpoint(FIXTURES / "reference_mindspore"))
    assert (config.type_vocab_size, config.layer_norm_eps) == (16, 1e-7)
    report = load_init_checkpoint(BertForQuestionAnswering(config), MINDSPORE)
    assert set(report.ignored) == {
        "moments1.bert.bert.bert_embedding_lookup.embedding_table", "global_step",
        "bert.bert.dense.weight", "bert.bert.dense.bias",  # the pooler: span heads have none
    }


@pytest.mark.oracle  # importing TensorFlow alone takes ~15 s here
def test_google_reader_agrees_with_tensorflow_on_every_tensor() -> None:
    import tensorflow as tf
    from bertkit.train.checkpoints.google_tf import open_tf_checkpoint

    names, read = open_tf_checkpoint(GOOGLE)
    reader = tf.train.load_checkpoint(str(GOOGLE))
    assert sorted(names) == sorted(reader.get_variable_to_shape_map())
    for name in names:
        ours, theirs = read(name).numpy(), reader.get_tensor(name)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape and (ours == theirs).all(), name


def test_hf_checkpoint_with_and_without_bert_prefix_and_as_pytorch_bin(tmp_path: Path) -> None:
    config, start, _ = oracle_logits("reference")
    state = load_file(str(FIXTURES / "reference" / "model.safetensors"))
    bare = {k.removeprefix("bert."): v for k, v in state.items() if k.startswith("bert.")}
    save_file(bare, str(tmp_path / "model.safetensors"))  # a bare BertModel export
    report, our_start, _ = our_logits(config, tmp_path / "model.safetensors")
    assert report.initialised_heads == ["qa_outputs"]  # announced, not an error
    (tmp_path / "bin").mkdir()
    legacy = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
              for k, v in state.items()}
    torch.save(legacy, tmp_path / "bin" / "pytorch_model.bin")
    report, our_start, _ = our_logits(config, tmp_path / "bin")
    assert report.format == "hf" and not report.initialised_heads
    torch.testing.assert_close(our_start, start, atol=1e-5, rtol=0)


def test_bare_encoder_and_other_heads_load_the_encoder(tmp_path: Path) -> None:
    config = BertConfig.from_json_file(FIXTURES / "google_tf" / "bert_config.json")
    encoder = BertModel(config)
    report = load_init_checkpoint(encoder, GOOGLE)
    assert sorted(report.unexpected) == ["cls/squad/output_bias", "cls/squad/output_weights"]
    reference = load_file(str(FIXTURES / "reference" / "model.safetensors"))
    torch.testing.assert_close(encoder.pooler.dense.weight, reference["bert.pooler.dense.weight"])
    classifier = BertForSequenceClassification(config, 3)
    report = load_init_checkpoint(classifier, GOOGLE)
    assert report.initialised_heads == ["classifier"] and "bert.pooler.dense.weight" in report.loaded
    ner = BertForTokenClassification(config, 5, use_crf=True)
    assert load_init_checkpoint(ner, GOOGLE).initialised_heads == ["classifier", "crf"]


def test_shape_mismatch_names_both_shapes() -> None:
    config = BertConfig.from_json_file(FIXTURES / "google_tf" / "bert_config.json")  # 2 token types
    with pytest.raises(BertkitError, match=r"\(16, 32\) in the checkpoint .* \(2, 32\) in the model.*type_vocab_size"):
        load_init_checkpoint(BertForQuestionAnswering(config), MINDSPORE)
    wider = BertConfig(**{**config.to_dict(), "intermediate_size": 48})
    with pytest.raises(BertkitError, match=r"intermediate/dense/\w+ has shape \(64,.* has shape \(48,"):
        load_init_checkpoint(BertForQuestionAnswering(wider), GOOGLE)


def test_missing_encoder_weight_is_an_error(tmp_path: Path) -> None:
    config = BertConfig.from_json_file(FIXTURES / "reference" / "config.json")
    state = load_file(str(FIXTURES / "reference" / "model.safetensors"))
    del state["bert.encoder.layer.1.output.dense.weight"]
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(BertkitError, match="lacks 1 encoder weights: bert.encoder.layer.1.output.dense.weight"):
        load_init_checkpoint(BertForQuestionAnswering(config), tmp_path)


def test_mindspore_refuses_encrypted_corrupt_and_truncated_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="encrypted"):
        read_mindspore_checkpoint(FIXTURES / "mindspore" / "encrypted.ckpt")
    data = bytearray(MINDSPORE.read_bytes())
    data[100] ^= 0xFF
    (tmp_path / "corrupt.ckpt").write_bytes(bytes(data))
    with pytest.raises(InputError, match="CRC check failed"):
        read_mindspore_checkpoint(tmp_path / "corrupt.ckpt")
    plain = (FIXTURES / "mindspore" / "bert_squad.ckpt").read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(plain[: len(plain) // 2])
    with pytest.raises(InputError, match="cannot parse"):
        read_mindspore_checkpoint(tmp_path / "truncated.ckpt")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_mindspore_parser_never_crashes_on_garbage(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("garbage") / "x.ckpt"
    path.write_bytes(data)
    try:
        read_mindspore_checkpoint(path)
    except InputError:
        pass


@settings(deadline=None)
@given(st.integers(0, 2**64 - 1))
def test_varint_round_trip(value: int) -> None:
    encoded = bytearray()
    rest = value
    while True:
        byte, rest = rest & 0x7F, rest >> 7
        encoded.append(byte | (0x80 if rest else 0))
        if not rest:
            break
    assert read_varint(bytes(encoded), 0) == (value, len(encoded))
    assert list(iter_fields(bytes([0x08]) + bytes(encoded))) == [(1, 0, value)]


def test_format_detection_and_config_discovery(tmp_path: Path) -> None:
    assert detect_format(FIXTURES / "google_tf")[0] == "google_tf"
    assert detect_format(FIXTURES / "google_tf" / "bert_model.ckpt.data-00000-of-00001") == ("google_tf", GOOGLE)
    assert detect_format(FIXTURES / "reference")[0] == "hf"
    assert detect_format(MINDSPORE)[0] == "mindspore"
    assert find_config_for_checkpoint(GOOGLE) == FIXTURES / "google_tf" / "bert_config.json"
    assert find_config_for_checkpoint(MINDSPORE) is None
    with pytest.raises(InputError, match="not found"):
        detect_format(tmp_path / "nothing")
    (tmp_path / "weights.npz").write_bytes(b"")
    with pytest.raises(InputError, match="cannot tell the checkpoint format"):
        detect_format(tmp_path / "weights.npz")


def test_google_checkpoint_with_missing_shard_is_one_line_error(tmp_path: Path) -> None:
    shutil.copy(f"{GOOGLE}.index", tmp_path / "bert_model.ckpt.index")
    (tmp_path / "bert_config.json").write_text(json.dumps({"vocab_size": 99}))
    config = BertConfig.from_json_file(FIXTURES / "google_tf" / "bert_config.json")
    with pytest.raises(InputError, match="missing data shard"):
        load_init_checkpoint(BertForQuestionAnswering(config), tmp_path / "bert_model.ckpt")


def test_head_with_another_label_count_is_an_error_naming_both_shapes(tmp_path: Path) -> None:
    config = BertConfig.from_json_file(FIXTURES / "reference" / "config.json")
    three = BertForSequenceClassification(config, 3)
    save_file(dict(three.state_dict()), str(tmp_path / "model.safetensors"))
    with pytest.raises(BertkitError, match=r"classifier\.\w+ has shape \(3,.* has shape \(5,.*different label count"):
        load_init_checkpoint(BertForSequenceClassification(config, 5), tmp_path)


@pytest.mark.oracle  # imports TensorFlow
def test_google_bundle_the_reader_cannot_parse_falls_back_to_tensorflow(monkeypatch) -> None:
    import tensorflow  # noqa: F401  (an oracle: conftest requires it)
    from bertkit.train.checkpoints import tf_bundle

    def refuse(path):
        # A well-formed bundle using a feature this reader lacks: TensorFlow reads it instead.
        raise tf_bundle.BundleFeatureError("compressed table block (type 1) is not supported")

    monkeypatch.setattr(tf_bundle, "read_bundle_index", refuse)
    config, start, _ = oracle_logits("reference")
    report, our_start, _ = our_logits(config, GOOGLE)
    assert report.format == "google_tf"
    torch.testing.assert_close(our_start, start, atol=1e-5, rtol=0)
