"""Write the tiny checkpoint fixtures under tests/fixtures/checkpoints with the REAL tools.

Run once by hand; the outputs are committed and the tests never need TensorFlow-writing or
MindSpore:

    /work/venv/bin/python tools/make_checkpoint_fixtures.py reference google_tf
    /tmp/msvenv/bin/python tools/make_checkpoint_fixtures.py mindspore   # a venv with mindspore

Every fixture holds the same random weights, stored once in HF naming as the reference
(`reference/model.safetensors`, written with the safetensors library): the Google checkpoint
(tf.compat.v1 Saver, Google's variable names, kernels stored [in, out]) and the MindSpore
checkpoints (mindspore.save_checkpoint, the model zoo's names) are converted from it here,
so a parity test can load any of them and compare against the reference. The MindSpore
weights use the zoo's Chinese-model settings (type_vocab_size 16, LayerNorm eps 1e-7) and so
have their own reference file.

This script deliberately does not import bertkit: the fixtures must not be produced by the
code they test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "checkpoints"

TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
}
TINY_MINDSPORE = {**TINY, "type_vocab_size": 16, "layer_norm_eps": 1e-7}


class SeededWeights:
    """HF-named random weights drawn from one seeded generator in the order they are added
    (the order fixes the values, so keep it when editing). Scaled up from the usual 0.02 so
    that a wrong transpose or swapped tensor changes the outputs clearly."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.weights: dict[str, np.ndarray] = {}

    def normal(self, name: str, *shape: int) -> None:
        self.weights[name] = (self.rng.standard_normal(shape) * 0.2).astype(np.float32)

    def dense(self, name: str, out_size: int, in_size: int) -> None:
        self.normal(f"{name}.weight", out_size, in_size)
        self.normal(f"{name}.bias", out_size)

    def layer_norm(self, name: str, size: int) -> None:
        self.normal(f"{name}.weight", size)
        self.weights[f"{name}.weight"] += 1  # a scale near 1, as after training
        self.normal(f"{name}.bias", size)


def reference_weights(config: dict, seed: int) -> dict[str, np.ndarray]:
    """HF-named weights of a BertForQuestionAnswering with a pooler (so every encoder tensor
    of the foreign formats has a counterpart)."""
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    draw = SeededWeights(seed)
    draw.normal("bert.embeddings.word_embeddings.weight", config["vocab_size"], hidden)
    draw.normal("bert.embeddings.position_embeddings.weight",
                config["max_position_embeddings"], hidden)
    draw.normal("bert.embeddings.token_type_embeddings.weight", config["type_vocab_size"], hidden)
    draw.layer_norm("bert.embeddings.LayerNorm", hidden)
    for n in range(config["num_hidden_layers"]):
        layer = f"bert.encoder.layer.{n}"
        for name in ("query", "key", "value"):
            draw.dense(f"{layer}.attention.self.{name}", hidden, hidden)
        draw.dense(f"{layer}.attention.output.dense", hidden, hidden)
        draw.layer_norm(f"{layer}.attention.output.LayerNorm", hidden)
        draw.dense(f"{layer}.intermediate.dense", inter, hidden)
        draw.dense(f"{layer}.output.dense", hidden, inter)
        draw.layer_norm(f"{layer}.output.LayerNorm", hidden)
    draw.dense("bert.pooler.dense", hidden, hidden)
    draw.dense("qa_outputs", 2, hidden)
    return draw.weights


def save_reference(name: str, weights: dict[str, np.ndarray], config: dict,
                   metadata: dict[str, str] | None = None) -> None:
    """OUT/name/model.safetensors (world-readable) and OUT/name/config.json."""
    from safetensors.numpy import save_file

    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(folder / "model.safetensors"), metadata=metadata)
    (folder / "model.safetensors").chmod(0o644)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def write_reference(name: str, config: dict, seed: int) -> None:
    save_reference(name, reference_weights(config, seed), config)


def google_names(config: dict) -> dict[str, tuple[str, bool]]:
    """Google TF variable name -> (HF name, stored transposed?). Dense kernels are [in, out]
    in TF and [out, in] in PyTorch; output_weights of the heads are already [out, in]."""
    table = {
        "bert/embeddings/word_embeddings": ("bert.embeddings.word_embeddings.weight", False),
        "bert/embeddings/position_embeddings": ("bert.embeddings.position_embeddings.weight", False),
        "bert/embeddings/token_type_embeddings": ("bert.embeddings.token_type_embeddings.weight", False),
        "bert/embeddings/LayerNorm/gamma": ("bert.embeddings.LayerNorm.weight", False),
        "bert/embeddings/LayerNorm/beta": ("bert.embeddings.LayerNorm.bias", False),
        "bert/pooler/dense/kernel": ("bert.pooler.dense.weight", True),
        "bert/pooler/dense/bias": ("bert.pooler.dense.bias", False),
        "cls/squad/output_weights": ("qa_outputs.weight", False),
        "cls/squad/output_bias": ("qa_outputs.bias", False),
    }
    for n in range(config["num_hidden_layers"]):
        tf, hf = f"bert/encoder/layer_{n}", f"bert.encoder.layer.{n}"
        for name in ("query", "key", "value"):
            table[f"{tf}/attention/self/{name}/kernel"] = (f"{hf}.attention.self.{name}.weight", True)
            table[f"{tf}/attention/self/{name}/bias"] = (f"{hf}.attention.self.{name}.bias", False)
        for tf_part, hf_part in (("attention/output", "attention.output"), ("intermediate", "intermediate"), ("output", "output")):
            table[f"{tf}/{tf_part}/dense/kernel"] = (f"{hf}.{hf_part}.dense.weight", True)
            table[f"{tf}/{tf_part}/dense/bias"] = (f"{hf}.{hf_part}.dense.bias", False)
        for tf_part, hf_part in (("attention/output", "attention.output"), ("output", "output")):
            table[f"{tf}/{tf_part}/LayerNorm/gamma"] = (f"{hf}.{hf_part}.LayerNorm.weight", False)
            table[f"{tf}/{tf_part}/LayerNorm/beta"] = (f"{hf}.{hf_part}.LayerNorm.bias", False)
    return table


def save_google_checkpoint(folder_name: str, reference: dict[str, np.ndarray],
                           table: dict[str, tuple[str, bool]], adam_slots_on: str) -> None:
    """OUT/folder_name/bert_model.ckpt saved by tf.compat.v1 Saver: every TF variable of
    `table` (TF name -> (HF name, stored transposed?)) from `reference`, an Adam slot pair
    (`adam_m`, `adam_v`, zeros) on the variable `adam_slots_on`, and global_step, as Google's
    training checkpoints carry them; plus TINY as bert_config.json."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    folder = OUT / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        variables = []
        for tf_name, (hf_name, transposed) in table.items():
            value = reference[hf_name].T if transposed else reference[hf_name]
            variables.append(tf.compat.v1.get_variable(tf_name, initializer=tf.constant(value)))
        hf_name, transposed = table[adam_slots_on]
        slot_shape = reference[hf_name].T if transposed else reference[hf_name]
        for slot in ("adam_m", "adam_v"):
            variables.append(tf.compat.v1.get_variable(
                f"{adam_slots_on}/{slot}", initializer=tf.zeros_like(slot_shape)))
        variables.append(tf.compat.v1.train.get_or_create_global_step())
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(folder / "bert_model.ckpt"), write_meta_graph=False,
                       write_state=False)  # the "checkpoint" state file holds absolute paths
    (folder / "bert_config.json").write_text(json.dumps(TINY, indent=2) + "\n")


def write_google_tf() -> None:
    """A fine-tuned run_squad-style checkpoint: Google's names, one Adam slot pair on the word
    embeddings (as fine-tuned checkpoints carry) and global_step, saved by tf.compat.v1 Saver."""
    from safetensors.numpy import load_file

    reference = load_file(str(OUT / "reference" / "model.safetensors"))
    save_google_checkpoint("google_tf", reference, google_names(TINY),
                           adam_slots_on="bert/embeddings/word_embeddings")


def mindspore_names(config: dict) -> dict[str, str]:
    """Model-zoo (official/nlp/Bert) SQuAD fine-tune net name -> HF name. MindSpore's Dense
    stores [out, in] like PyTorch, so nothing is transposed."""
    encoder, head = "bert.bert.", "bert."
    table = {
        f"{encoder}bert_embedding_lookup.embedding_table": "bert.embeddings.word_embeddings.weight",
        f"{encoder}bert_embedding_postprocessor.token_type_embedding.embedding_table":
            "bert.embeddings.token_type_embeddings.weight",
        f"{encoder}bert_embedding_postprocessor.full_position_embedding.embedding_table":
            "bert.embeddings.position_embeddings.weight",
        f"{encoder}bert_embedding_postprocessor.layernorm.gamma": "bert.embeddings.LayerNorm.weight",
        f"{encoder}bert_embedding_postprocessor.layernorm.beta": "bert.embeddings.LayerNorm.bias",
    }
    for n in range(config["num_hidden_layers"]):
        ms, hf = f"{encoder}bert_encoder.layers.{n}", f"bert.encoder.layer.{n}"
        for name in ("query", "key", "value"):
            for kind in ("weight", "bias"):
                table[f"{ms}.attention.attention.{name}_layer.{kind}"] = f"{hf}.attention.self.{name}.{kind}"
        for kind in ("weight", "bias"):
            table[f"{ms}.attention.output.dense.{kind}"] = f"{hf}.attention.output.dense.{kind}"
            table[f"{ms}.intermediate.{kind}"] = f"{hf}.intermediate.dense.{kind}"
            table[f"{ms}.output.dense.{kind}"] = f"{hf}.output.dense.{kind}"
        for ms_kind, hf_kind in (("gamma", "weight"), ("beta", "bias")):
            table[f"{ms}.attention.output.layernorm.{ms_kind}"] = f"{hf}.attention.output.LayerNorm.{hf_kind}"
            table[f"{ms}.output.layernorm.{ms_kind}"] = f"{hf}.output.LayerNorm.{hf_kind}"
    table[f"{encoder}dense.weight"] = "bert.pooler.dense.weight"
    table[f"{encoder}dense.bias"] = "bert.pooler.dense.bias"
    table[f"{head}dense1.weight"] = "qa_outputs.weight"
    table[f"{head}dense1.bias"] = "qa_outputs.bias"
    return table


def write_mindspore() -> None:
    """Three files: the zoo SQuAD net saved with crc_check=True (2.x trailer) plus optimizer
    state and global_step as a fine-tuning run leaves them; the same without the trailer; and
    an encrypted one that readers must refuse."""
    import mindspore as ms
    from mindspore import Parameter, Tensor
    from safetensors.numpy import load_file

    reference = load_file(str(OUT / "reference_mindspore" / "model.safetensors"))
    folder = OUT / "mindspore"
    folder.mkdir(parents=True, exist_ok=True)
    params = [
        {"name": ms_name, "data": Parameter(Tensor(reference[hf_name]), name=ms_name)}
        for ms_name, hf_name in mindspore_names(TINY_MINDSPORE).items()
    ]
    word = reference["bert.embeddings.word_embeddings.weight"]
    extras = [
        {"name": "moments1.bert.bert.bert_embedding_lookup.embedding_table",
         "data": Tensor(np.zeros_like(word))},
        {"name": "global_step", "data": Tensor(np.array([7], dtype=np.int32))},
    ]
    ms.save_checkpoint(params + extras, str(folder / "bert_squad_crc.ckpt"), crc_check=True)
    ms.save_checkpoint(params, str(folder / "bert_squad.ckpt"))
    ms.save_checkpoint(params[:2], str(folder / "encrypted.ckpt"), enc_key=b"0123456789abcdef")
    for written in folder.glob("*.ckpt"):
        written.chmod(0o644)  # MindSpore writes them read-only for the owner
    (folder / "VERSION").write_text(f"written by mindspore {ms.__version__}\n")


def main(steps: list[str]) -> None:
    for step in steps:
        if step == "reference":
            write_reference("reference", TINY, seed=1)
            write_reference("reference_mindspore", TINY_MINDSPORE, seed=2)
        elif step == "google_tf":
            write_google_tf()
        elif step == "mindspore":
            write_mindspore()
        else:
            raise SystemExit(f"unknown step {step!r}: reference, google_tf or mindspore")


if __name__ == "__main__":
    main(sys.argv[1:] or ["reference", "google_tf"])
