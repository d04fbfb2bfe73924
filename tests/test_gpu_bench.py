"""bench/gpu_throughput.py: its --dry-run passes on CPU, and its FLOP count leaves out the
embedding lookups (a GPU session must get trustworthy MFU figures the first time)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_throughput.py"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _module():
    spec = importlib.util.spec_from_file_location("gpu_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_dry_run_prints_the_check_and_writes_json(tmp_path, capsys):
    # In this process: a second interpreter would import torch and transformers again.
    out = tmp_path / "gpu.json"
    returned = _module().main(["--dry-run", "--json-out", str(out)])
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["runs"] == returned["runs"]
    assert report["dry_run"] is True
    models = {(run["model"], run["mode"]) for run in report["runs"]}
    # transformers is timed by default, in the same process; predict runs on SQuAD lengths.
    assert {("bertkit", "train"), ("transformers", "train"),
            ("bertkit", "predict sorted-trimmed"), ("bertkit", "predict sorted-trimmed-x8"),
            ("transformers", "predict padded-384")} <= models
    summary = report["summary"]
    for key in ("train_384_seq_per_s", "train_12x512_step_s", "ratio_train_384",
                "ratio_predict_trimmed"):
        assert summary[key] > 0, key
    assert summary["published_12x512_step_s"] == 1.898
    assert "1.898 s/step" in printed and "transformers ratio" in printed
    assert report["predict_lengths"]["mean"] < 384  # real SQuAD lengths, not all 384


def test_flops_count_matmuls_not_embedding_lookups():
    gpu = _module()
    from bertkit.train.config import BertConfig
    from bertkit.train.tasks import build_model

    import torch

    with torch.device("meta"):  # shapes only: no memory, no initialisation time
        model = build_model("squad", BertConfig(vocab_size=30522, max_position_embeddings=512,
                                                **gpu.LARGE))
    total = sum(p.numel() for p in model.parameters())
    matmul = gpu.matmul_parameters(model)
    embeddings = sum(p.numel() for p in model.bert.embeddings.parameters())
    # BERT-large: 24 layers x (4 h^2 + 2 x 4 h^2) weights + the 2-way span head.
    assert matmul == 24 * 12 * 1024 * 1024 + 1024 * 2
    assert total - matmul > embeddings  # the tables (and biases, LayerNorm) are left out
    assert 0.08 < (total - matmul) / total < 0.12  # "about 10%"
    per_token = gpu.flops_per_sequence(matmul, 24, 1024, 384) / 384
    assert per_token == 3 * (2 * matmul + 4 * 24 * 1024 * 384)
    assert gpu.flops_per_sequence(matmul, 24, 1024, 384, training=False) * 3 == \
        gpu.flops_per_sequence(matmul, 24, 1024, 384)


def test_squad_lengths_file_is_the_real_distribution():
    gpu = _module()
    lengths, counts, source = gpu.squad_lengths()
    assert source.endswith("squad_dev_lengths.txt")
    assert sum(counts) > 10570  # at least one feature per dev question
    assert max(lengths) == 384 and min(lengths) > 0
    sampled = gpu.sample_lengths(1000, seed=0, cap=384)
    assert 100 < sum(sampled) / len(sampled) < 384


def test_pretraining_mode_times_both_models_on_the_same_records(tmp_path):
    gpu = _module()
    import torch

    ours = gpu.make_pretraining_batch(3, 16, 4, 1500, torch.device("cpu"), hf=False)
    theirs = gpu.make_pretraining_batch(3, 16, 4, 1500, torch.device("cpu"), hf=True)
    assert torch.equal(ours["input_ids"], theirs["input_ids"])
    # transformers' labels hold the masked ids at the masked positions, -100 elsewhere.
    rows = torch.arange(3)[:, None]
    assert torch.equal(theirs["labels"][rows, ours["masked_lm_positions"]], ours["masked_lm_ids"])
    assert int((theirs["labels"] != -100).sum()) == 12
    assert (ours["masked_lm_positions"] > 0).all()  # never [CLS]
    assert theirs["next_sentence_label"].tolist() == ours["next_sentence_labels"][:, 0].tolist()

    report = gpu.main(["--dry-run", "--mode", "pretrain", "--json-out", str(tmp_path / "p.json")])
    runs = {(run["model"], run["seq_length"], run["masked_positions"]) for run in report["runs"]}
    assert runs == {("bertkit", 128, 20), ("bertkit", 512, 80), ("transformers", 128, 20),
                    ("transformers", 512, 80)}
    for key in ("pretrain_128_seq_per_s", "pretrain_512_seq_per_s", "ratio_pretrain_128",
                "ratio_pretrain_512"):
        assert report["summary"][key] > 0, key
