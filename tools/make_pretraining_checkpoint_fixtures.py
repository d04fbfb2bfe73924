"""Write the pretraining-head checkpoint fixtures under tests/fixtures/checkpoints with the
REAL tools: safetensors (HF BertForPreTraining names), tf.compat.v1 Saver (Google's
run_pretraining.py names) and mindspore.save_checkpoint (the model zoo's BertPreTraining
names, `bert.cls1` / `bert.cls2`).

Run once by hand; the outputs are committed and the tests need neither TensorFlow-writing
nor MindSpore:

    /work/main/.venv/bin/python tools/make_pretraining_checkpoint_fixtures.py reference google_tf
    /tmp/msvenv/bin/python tools/make_pretraining_checkpoint_fixtures.py mindspore  # has mindspore

The encoder weights and the fine-tuning fixtures' conventions come from
make_checkpoint_fixtures.py (same tiny configs, same encoder name tables); this script adds
the heads of BertForPreTraining. Like that script it does not import bertkit: the fixtures
must not be produced by the code they test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_checkpoint_fixtures import (  # noqa: E402 -- a sibling script, not a package
    OUT,
    TINY,
    TINY_MINDSPORE,
    google_names,
    mindspore_names,
    SeededWeights,
    reference_weights,
    save_google_checkpoint,
    save_reference,
)

# HF name -> (Google TF name, stored transposed in TF?). The decoder is tied to the word
# embeddings in all three formats, so only its bias is a tensor of its own.
GOOGLE_HEADS = {
    "cls.predictions.transform.dense.weight": ("cls/predictions/transform/dense/kernel", True),
    "cls.predictions.transform.dense.bias": ("cls/predictions/transform/dense/bias", False),
    "cls.predictions.transform.LayerNorm.weight":
        ("cls/predictions/transform/LayerNorm/gamma", False),
    "cls.predictions.transform.LayerNorm.bias": ("cls/predictions/transform/LayerNorm/beta", False),
    "cls.predictions.bias": ("cls/predictions/output_bias", False),
    "cls.seq_relationship.weight": ("cls/seq_relationship/output_weights", False),
    "cls.seq_relationship.bias": ("cls/seq_relationship/output_bias", False),
}

# HF name -> MindSpore zoo name (src/bert_for_pre_training.py: BertPreTraining.cls1 is
# GetMaskedLMOutput, cls2 GetNextSentenceOutput; Dense is [out, in] like PyTorch).
MINDSPORE_HEADS = {
    "cls.predictions.transform.dense.weight": "bert.cls1.dense.weight",
    "cls.predictions.transform.dense.bias": "bert.cls1.dense.bias",
    "cls.predictions.transform.LayerNorm.weight": "bert.cls1.layernorm.gamma",
    "cls.predictions.transform.LayerNorm.bias": "bert.cls1.layernorm.beta",
    "cls.predictions.bias": "bert.cls1.output_bias",
    "cls.seq_relationship.weight": "bert.cls2.dense.weight",
    "cls.seq_relationship.bias": "bert.cls2.dense.bias",
}


def pretraining_weights(config: dict, seed: int) -> dict[str, np.ndarray]:
    """HF-named BertForPreTraining weights: the encoder (with pooler) of the fine-tuning
    fixtures' generator, plus the two heads, all far from their init values."""
    hidden = config["hidden_size"]
    heads = SeededWeights(seed + 100)
    heads.dense("cls.predictions.transform.dense", hidden, hidden)
    heads.layer_norm("cls.predictions.transform.LayerNorm", hidden)
    heads.normal("cls.predictions.bias", config["vocab_size"])
    heads.dense("cls.seq_relationship", 2, hidden)
    encoder = {k: v for k, v in reference_weights(config, seed).items()
               if not k.startswith("qa_outputs.")}
    return {**encoder, **heads.weights}


def write_reference(name: str, config: dict, seed: int) -> None:
    hf_config = {**config, "model_type": "bert", "architectures": ["BertForPreTraining"]}
    save_reference(name, pretraining_weights(config, seed), hf_config, metadata={"format": "pt"})


def write_google_tf() -> None:
    """A run_pretraining.py checkpoint: encoder and heads under Google's names, with the
    optimizer's Adam slots on a head variable and global_step, as such checkpoints carry."""
    from safetensors.numpy import load_file

    reference = load_file(str(OUT / "reference_pretraining" / "model.safetensors"))
    table = {tf_name: pair for tf_name, pair in google_names(TINY).items()
             if not pair[0].startswith("qa_outputs.")}
    table.update({tf_name: (hf_name, transposed)
                  for hf_name, (tf_name, transposed) in GOOGLE_HEADS.items()})
    save_google_checkpoint("google_tf_pretraining", reference, table,
                           adam_slots_on="cls/predictions/output_bias")


def write_mindspore() -> None:
    """The zoo's pretraining net as its ModelCheckpoint leaves it: encoder `bert.bert.*`,
    heads `bert.cls1.*` / `bert.cls2.*`, an Adam moment and global_step; crc_check on."""
    import mindspore as ms
    from mindspore import Parameter, Tensor
    from safetensors.numpy import load_file

    reference = load_file(str(OUT / "reference_mindspore_pretraining" / "model.safetensors"))
    table = {ms_name: hf_name for ms_name, hf_name in mindspore_names(TINY_MINDSPORE).items()
             if not hf_name.startswith("qa_outputs.")}
    table.update({ms_name: hf_name for hf_name, ms_name in MINDSPORE_HEADS.items()})
    folder = OUT / "mindspore_pretraining"
    folder.mkdir(parents=True, exist_ok=True)
    params = [{"name": ms_name, "data": Parameter(Tensor(reference[hf_name]), name=ms_name)}
              for ms_name, hf_name in table.items()]
    extras = [
        {"name": "moments1.bert.cls1.output_bias",
         "data": Tensor(np.zeros_like(reference["cls.predictions.bias"]))},
        {"name": "global_step", "data": Tensor(np.array([11], dtype=np.int32))},
    ]
    ms.save_checkpoint(params + extras, str(folder / "bert_pretrain.ckpt"), crc_check=True)
    for written in folder.glob("*.ckpt"):
        written.chmod(0o644)
    (folder / "VERSION").write_text(f"written by mindspore {ms.__version__}\n")
    (folder / "config.json").write_text(json.dumps(TINY_MINDSPORE, indent=2) + "\n")


def write_references() -> None:
    write_reference("reference_pretraining", TINY, seed=3)
    write_reference("reference_mindspore_pretraining", TINY_MINDSPORE, seed=4)


STEPS = {"reference": write_references, "google_tf": write_google_tf, "mindspore": write_mindspore}

if __name__ == "__main__":
    for name in sys.argv[1:] or ["reference", "google_tf"]:
        if name not in STEPS:
            raise SystemExit(f"unknown step {name!r}: {', '.join(STEPS)}")
        STEPS[name]()
