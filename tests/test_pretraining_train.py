"""`train --task pretrain` on real `prep pretrain` shards: the loss trajectory of a plain
transformers loop, exact resume, --max-steps across epochs, export that transformers loads as
BertForPreTraining, and fine-tuning from a pretraining run's model/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from torch.utils.data import DistributedSampler
from train_support import read_log, write_classification_records

from bertkit.errors import InputError
from bertkit.prep.pretrain import PretrainOptions, create_pretraining_data
from bertkit.tfrecord import read_columns
from bertkit.train.checkpoints import load_init_checkpoint
from bertkit.train.config import BertConfig
from bertkit.train.heads import BertForPreTraining, BertForSequenceClassification
from bertkit.train.tasks.pretrain import ShardedRecords, resolve_shards
from bertkit.train.trainer import TrainOptions, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# A tiny network over the real uncased vocabulary, so prep's ids fit; dropout off.
TINY = {"vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 128,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
BATCH, STEPS, SEED, LR = 8, 10, 7, 2e-3


@pytest.fixture(scope="module")
def corpus(shared_data: Path, uncased_vocab: Path, tmp_path_factory) -> Path:
    """The public sample text split into two input files: two shards, two seeds."""
    root = tmp_path_factory.mktemp("pretrain")
    documents = (shared_data / "pretrain" / "sample_text.txt").read_text(
        encoding="utf-8").strip().split("\n\n")
    inputs = []
    for number, part in enumerate((documents[:2], documents[2:])):
        path = root / f"part{number}.txt"
        path.write_text("\n\n".join(part) + "\n", encoding="utf-8")
        inputs.append(path)
    create_pretraining_data(inputs, root / "prep", PretrainOptions(vocab=str(uncased_vocab),
                                                                   dupe_factor=3))
    return root / "prep"


@pytest.fixture(scope="module")
def init_dir(tmp_path_factory) -> Path:
    """transformers' BertForPreTraining with seeded random weights, saved by save_pretrained:
    the starting point of both loops."""
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(transformers.BertConfig(**TINY))
    with torch.no_grad():
        model.cls.predictions.bias.normal_(0, 0.1)
    folder = tmp_path_factory.mktemp("init")
    model.save_pretrained(folder)
    return folder


def run(tmp_path: Path, name: str, corpus: Path, init_dir: Path, **changes) -> Path:
    options = {"task": "pretrain", "train_file": corpus, "output_dir": tmp_path / name,
               "init_checkpoint": init_dir, "max_steps": STEPS, "batch_size": BATCH, "lr": LR,
               "device": "cpu", "seed": SEED, "quiet": True}
    options.update(changes)
    return train(TrainOptions(**options)).run_dir


def run_until_interrupted(step: int, **options) -> None:
    """A run stopped by an exception after optimizer step ``step``, as a kill would stop it."""
    class Interrupted(Exception):
        pass

    def stop(at, record, model):
        if at == step:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(TrainOptions(**options), on_step=stop)


def all_records(corpus: Path) -> dict[str, np.ndarray]:
    """Every record of every shard, in manifest order, as columns."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    parts = [read_columns(corpus / entry["file"]) for entry in manifest["shards"]]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def transformers_loop(init_dir: Path, records: dict[str, np.ndarray], steps: int) -> list[dict]:
    """A plain loop: transformers' model, torch's DistributedSampler order, torch AdamW with
    Google's decay exclusions, linear warmup/decay, global-norm clip 1, Google's loss."""
    model = transformers.BertForPreTraining.from_pretrained(init_dir).train()
    decay = [p for n, p in model.named_parameters() if not any(
        marker in n for marker in ("bias", "LayerNorm", "layer_norm"))]
    no_decay = [p for n, p in model.named_parameters() if any(
        marker in n for marker in ("bias", "LayerNorm", "layer_norm"))]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=LR, betas=(0.9, 0.999), eps=1e-6)
    warmup = int(steps * 0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / max(1, warmup) if s < warmup else (steps - s) / (steps - warmup))
    count = len(records["input_ids"])
    per_epoch = count // BATCH
    out = []
    for step in range(steps):
        epoch, index = divmod(step, per_epoch)
        sampler = DistributedSampler(range(count), num_replicas=1, rank=0, shuffle=True,
                                     seed=SEED, drop_last=True)
        sampler.set_epoch(epoch)
        rows = list(sampler)[index * BATCH:(index + 1) * BATCH]
        t = {name: torch.from_numpy(values[rows]) for name, values in records.items()}
        encoded = model.bert(input_ids=t["input_ids"], attention_mask=t["input_mask"],
                             token_type_ids=t["segment_ids"])
        picked = encoded.last_hidden_state[torch.arange(BATCH)[:, None], t["masked_lm_positions"]]
        mlm_logits = model.cls.predictions(picked)
        nsp_logits = model.cls.seq_relationship(encoded.pooler_output)
        weights, labels = t["masked_lm_weights"], t["masked_lm_ids"]
        nll = -mlm_logits.log_softmax(-1).gather(-1, labels[..., None])[..., 0]
        nsp_labels = t["next_sentence_labels"].reshape(-1)
        loss = (weights * nll).sum() / (weights.sum() + 1e-5) + \
            torch.nn.functional.cross_entropy(nsp_logits, nsp_labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        hits = (mlm_logits.argmax(-1) == labels).float()
        out.append({"loss": loss.item(),
                    "mlm_accuracy": float((hits * weights).sum() / weights.sum()),
                    "nsp_accuracy": float((nsp_logits.argmax(-1) == nsp_labels).float().mean())})
    return out


def test_loss_trajectory_equals_a_plain_transformers_loop(corpus, init_dir, tmp_path):
    records = all_records(corpus)
    per_epoch = len(records["input_ids"]) // BATCH
    assert per_epoch < STEPS  # --max-steps runs across an epoch boundary
    run_dir = run(tmp_path, "ours", corpus, init_dir)
    ours = read_log(run_dir)
    theirs = transformers_loop(init_dir, records, STEPS)
    diffs = [abs(a["loss"] - b["loss"]) for a, b in zip(ours, theirs)]
    print(f"loss trajectory max abs diff over {STEPS} steps: {max(diffs):.2e}")
    assert [row["step"] for row in ours] == list(range(1, STEPS + 1))
    assert [row["loss"] for row in ours] == pytest.approx([row["loss"] for row in theirs],
                                                          rel=2e-5)
    for name in ("mlm_accuracy", "nsp_accuracy"):
        assert [row[name] for row in ours] == pytest.approx([row[name] for row in theirs],
                                                            abs=1e-6), name
    assert ours[0]["loss"] - ours[-1]["loss"] > 0.1  # it learned something
    assert (run_dir / "learning_curve.png").is_file()
    assert "final training mlm accuracy" in (run_dir / "report.md").read_text()


def test_resume_reproduces_the_uninterrupted_run(corpus, init_dir, tmp_path):
    whole = read_log(run(tmp_path, "whole", corpus, init_dir, save_steps=4))

    run_until_interrupted(6, task="pretrain", train_file=corpus,
                          output_dir=tmp_path / "broken", init_checkpoint=init_dir,
                          max_steps=STEPS, batch_size=BATCH, lr=LR, device="cpu", seed=SEED,
                          quiet=True, save_steps=4)
    resumed = read_log(run(tmp_path, "broken", corpus, init_dir, save_steps=4, resume=True))
    assert [row["step"] for row in resumed] == list(range(1, STEPS + 1))
    for name in ("loss", "mlm_accuracy", "nsp_accuracy"):
        assert [row[name] for row in resumed] == pytest.approx([row[name] for row in whole],
                                                               rel=1e-6), name


def test_export_loads_in_transformers_with_identical_logits(corpus, init_dir, tmp_path):
    from bertkit.train.export import export_run, load_model_dir

    run_dir = run(tmp_path, "run", corpus, init_dir, max_steps=3)
    result = export_run(run_dir, tmp_path / "export")
    assert result.task == "pretrain"
    hf, info = transformers.BertForPreTraining.from_pretrained(
        tmp_path / "export", output_loading_info=True)
    assert info["missing_keys"] == set() or not info["missing_keys"]
    assert not info["unexpected_keys"]
    ours, _, _ = load_model_dir(run_dir / "model")
    records = all_records(corpus)
    inputs = {"input_ids": torch.from_numpy(records["input_ids"][:4]),
              "attention_mask": torch.from_numpy(records["input_mask"][:4]),
              "token_type_ids": torch.from_numpy(records["segment_ids"][:4])}
    with torch.no_grad():
        mine = ours.eval()(**inputs)
        reference = hf.eval()(**inputs)
    mlm = (mine["prediction_logits"] - reference.prediction_logits).abs().max().item()
    nsp = (mine["seq_relationship_logits"] - reference.seq_relationship_logits).abs().max().item()
    print(f"export round trip max abs diff: MLM {mlm:.2e}, NSP {nsp:.2e}")
    assert mlm <= 1e-5 and nsp <= 1e-5
    # The trained heads, not fresh ones: the decoder bias moved away from the init's.
    init = transformers.BertForPreTraining.from_pretrained(init_dir)
    assert not torch.equal(hf.cls.predictions.bias, init.cls.predictions.bias)
    assert (tmp_path / "export" / "vocab.txt").is_file()  # from prep's manifest


def test_fine_tuning_starts_from_a_pretraining_run(corpus, init_dir, tmp_path):
    pretrained = run(tmp_path, "pre", corpus, init_dir, max_steps=2) / "model"
    config = BertConfig.from_json_file(pretrained / "config.json")
    classifier = BertForSequenceClassification(config, 3)
    report = load_init_checkpoint(classifier, pretrained)
    assert report.unexpected == [] and report.initialised_heads == ["classifier"]
    assert {"cls.predictions.bias", "cls.seq_relationship.weight"} <= set(report.ignored)
    from safetensors.torch import load_file

    saved = load_file(str(pretrained / "model.safetensors"))
    assert torch.equal(classifier.bert.encoder.layer[1].output.dense.weight,
                       saved["bert.encoder.layer.1.output.dense.weight"])
    data = write_classification_records(tmp_path / "cls" / "train.tf_record", 16, ["a", "b", "c"],
                                        vocab_size=30522)
    result = train(TrainOptions(task="classification", train_file=data,
                                output_dir=tmp_path / "fine", init_checkpoint=pretrained,
                                max_steps=2, batch_size=8, device="cpu", quiet=True))
    assert result.global_step == 2
    assert json.loads((result.run_dir / "model" / "config.json").read_text())[
        "architectures"] == ["BertForSequenceClassification"]


# ------------------------------------------------------------------ shards and their errors


def test_folder_files_globs_and_comma_lists_name_the_same_shards(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text())
    expected = [(corpus / entry["file"]).resolve() for entry in manifest["shards"]]
    assert len(expected) == 2
    assert resolve_shards(corpus) == expected
    assert resolve_shards(f"{corpus}/pretrain-*-of-00002.tf_record") == expected
    assert resolve_shards(",".join(str(path) for path in expected)) == expected
    assert resolve_shards(f"{expected[0]},{corpus}") == expected  # each once
    dataset = ShardedRecords(expected)
    sizes = [shard["counts"]["instances"] for shard in manifest["shards"]]
    assert len(dataset) == sum(sizes)
    last = read_columns(expected[1])
    assert np.array_equal(dataset[len(dataset) - 1]["masked_lm_ids"], last["masked_lm_ids"][-1])
    assert np.array_equal(dataset[sizes[0]]["input_ids"], last["input_ids"][0])


def test_bad_shard_sets_are_one_line_errors(corpus, uncased_vocab, tmp_path):
    with pytest.raises(InputError, match="matches no file"):
        resolve_shards(f"{tmp_path}/nothing-*.tf_record")
    with pytest.raises(InputError, match="no such file"):
        resolve_shards(tmp_path / "absent.tf_record")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .tf_record shards"):
        resolve_shards(tmp_path / "empty")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "manifest.json").write_text(json.dumps({"complete": False, "shards": []}))
    with pytest.raises(InputError, match="did not finish"):
        resolve_shards(unfinished)
    # Another --max-seq-length cannot share a batch with the corpus' records.
    text = corpus.parent / "part0.txt"
    other = create_pretraining_data([text], tmp_path / "short",
                                    PretrainOptions(vocab=str(uncased_vocab), dupe_factor=1,
                                                    max_seq_length=64))
    short = tmp_path / "short" / other.manifest["shards"][0]["file"]
    with pytest.raises(InputError, match="64 tokens long but .* 128; shards trained together"):
        ShardedRecords([*resolve_shards(corpus), short])


def test_masked_ids_outside_the_vocabulary_name_the_record(corpus, tmp_path):
    config = {**TINY, "vocab_size": 1000}  # the records' ids go up to ~30k
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=r"record 0: input_ids holds id \d+, outside the "
                                         "model's vocab_size of 1000"):
        train(TrainOptions(task="pretrain", train_file=corpus, output_dir=tmp_path / "run",
                           config_file=tmp_path / "small" / "config.json", max_steps=1,
                           batch_size=2, device="cpu", quiet=True))


def test_phase_two_continues_from_phase_one_with_every_tensor(corpus, init_dir, uncased_vocab,
                                                              tmp_path):
    """Sequence-length phases (Google, NVIDIA): phase 2 starts from phase 1's model/ on
    records of another length and loads both heads, nothing initialised."""
    phase1 = run(tmp_path, "phase1", corpus, init_dir, max_steps=2) / "model"
    longer = create_pretraining_data([corpus.parent / "part1.txt"], tmp_path / "p2",
                                     PretrainOptions(vocab=str(uncased_vocab), dupe_factor=2,
                                                     max_seq_length=96,
                                                     max_predictions_per_seq=14))
    assert longer.manifest["options"]["max_seq_length"] == 96
    report = load_init_checkpoint(BertForPreTraining(BertConfig.from_json_file(
        phase1 / "config.json")), phase1)
    assert report.initialised == [] and report.unexpected == []
    rows = read_log(run(tmp_path, "phase2", tmp_path / "p2", phase1, max_steps=2, batch_size=4))
    assert [row["step"] for row in rows] == [1, 2]


def test_records_of_another_task_are_refused_by_name(tmp_path):
    from train_support import write_squad_records

    data = write_squad_records(tmp_path / "squad" / "train.tf_record", 8, vocab_size=30522)
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text(json.dumps(TINY))
    with pytest.raises(InputError, match="feature 'masked_lm_positions' needed by task "
                                         "pretrain is missing"):
        train(TrainOptions(task="pretrain", train_file=data, output_dir=tmp_path / "run",
                           config_file=tmp_path / "cfg" / "config.json", max_steps=1,
                           batch_size=2, device="cpu", quiet=True))


THE = 1996  # "the" in the uncased vocabulary


@pytest.mark.distributed
def test_two_processes_sum_the_accuracy_counts_over_ranks(corpus, init_dir, tmp_path):
    """2 gloo processes x 4 records against one process x 8. With a decoder bias that makes
    every prediction "the", step 1's masked-LM accuracy is the weighted share of "the" among
    the 8 records' labels: only a sum of counts over ranks gives it, not one rank's share.
    Later steps differ a little: Google's masked-LM loss is a ratio per micro-batch (per
    TPU core in Google's runs), so the split changes the gradient slightly."""
    import os
    import subprocess
    import sys

    model = transformers.BertForPreTraining.from_pretrained(init_dir)
    with torch.no_grad():
        model.cls.predictions.bias[THE] = 30.0
    model.save_pretrained(tmp_path / "init_the")
    records = all_records(corpus)
    count = len(records["input_ids"])

    def share_of_the(rank: int, world: int) -> float:
        sampler = DistributedSampler(range(count), num_replicas=world, rank=rank, shuffle=True,
                                     seed=SEED, drop_last=True)
        rows = list(sampler)[:8 // world]
        weights = records["masked_lm_weights"][rows]
        return float((weights * (records["masked_lm_ids"][rows] == THE)).sum() / weights.sum())

    expected = share_of_the(0, 1)
    assert 0 < expected < 1 and share_of_the(0, 2) != pytest.approx(expected, abs=1e-6)

    single = read_log(run(tmp_path, "single", corpus, tmp_path / "init_the", max_steps=3))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "bertkit", "train", "--task", "pretrain",
               "--train-file", str(corpus), "--init-checkpoint", str(tmp_path / "init_the"),
               "-o", str(tmp_path / "ddp"), "--max-steps", "3", "--batch-size", "4",
               "--lr", str(LR), "--device", "cpu", "--seed", str(SEED)]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = read_log(tmp_path / "ddp")
    assert [row["step"] for row in ddp] == [1, 2, 3]
    assert single[0]["mlm_accuracy"] == pytest.approx(expected, abs=1e-7)
    assert ddp[0]["mlm_accuracy"] == pytest.approx(expected, abs=1e-7)
    assert ddp[0]["nsp_accuracy"] == pytest.approx(single[0]["nsp_accuracy"], abs=1e-7)
    assert [row["loss"] for row in ddp] == pytest.approx([row["loss"] for row in single],
                                                         rel=0.05)


def test_do_eval_is_refused_for_pretraining(corpus, init_dir, tmp_path):
    from bertkit.errors import UsageError

    with pytest.raises(UsageError, match="the pretrain task has no prediction step"):
        train(TrainOptions(task="pretrain", train_file=corpus, output_dir=tmp_path / "run",
                           init_checkpoint=init_dir, do_eval=True, eval_file=corpus,
                           max_steps=1, device="cpu", quiet=True))


@pytest.mark.parametrize("spec, needle", [
    ("{tmp}/nothing-*.tf_record", "the pattern matches no file"),
    ("{corpus}/manifest.json", "manifest.json: record 0 at byte 0: length CRC mismatch"),
    ("{corpus},{tmp}/absent.tf_record", "absent.tf_record: no such file or directory"),
])
def test_cli_bad_shard_sets_are_one_line_and_exit_1(corpus, init_dir, tmp_path, spec, needle):
    from typer.testing import CliRunner

    from bertkit.cli import app

    result = CliRunner().invoke(app, [
        "train", "--task", "pretrain", "--train-file", spec.format(tmp=tmp_path, corpus=corpus),
        "--init-checkpoint", str(init_dir), "-o", str(tmp_path / "run"), "--max-steps", "1",
        "--device", "cpu"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert needle in " ".join(result.stderr.split())


def label_shares_by_hand(corpus: Path, vocab_size: int) -> np.ndarray:
    """Each token's share of the weighted masked-LM labels, 0.1 added to every count."""
    records = all_records(corpus)
    counts = np.full(vocab_size, 0.1)
    for ids, weights in zip(records["masked_lm_ids"], records["masked_lm_weights"]):
        for token, weight in zip(ids.tolist(), weights.tolist()):
            counts[token] += weight
    return np.log(counts / counts.sum())


def test_mlm_bias_init_unigram_sets_the_labels_log_shares_from_scratch(corpus, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    run_dir = run(tmp_path, "from-scratch", corpus, None, config_file=config, max_steps=1,
                  lr=1e-12, mlm_bias_init="unigram")
    model, _ = load_init_checkpoint_model(run_dir / "model")
    expected = label_shares_by_hand(corpus, TINY["vocab_size"])
    # lr 1e-12: one step leaves the initial bias as it was, to float32 precision.
    np.testing.assert_allclose(model.cls.predictions.bias.detach().numpy(), expected,
                               rtol=0, atol=1e-5)
    # Unseen tokens start far below seen ones; the zeros default would leave all equal.
    assert expected.min() < expected.max() - 5


def test_mlm_bias_init_unigram_keeps_a_checkpoints_own_bias(corpus, init_dir, tmp_path):
    run_dir = run(tmp_path, "continued", corpus, init_dir, max_steps=1, lr=1e-12,
                  mlm_bias_init="unigram")
    model, _ = load_init_checkpoint_model(run_dir / "model")
    peer = transformers.BertForPreTraining.from_pretrained(init_dir)
    np.testing.assert_allclose(model.cls.predictions.bias.detach().numpy(),
                               peer.cls.predictions.bias.detach().numpy(), atol=1e-6)


def load_init_checkpoint_model(folder: Path):
    model = BertForPreTraining(BertConfig.from_dict(TINY))
    return model, load_init_checkpoint(model, folder)



def test_mlm_bias_init_unigram_fills_a_checkpoint_without_the_head(corpus, tmp_path):
    """A bare encoder (no cls.*): the bias is new, so the labels' shares are set."""
    torch.manual_seed(0)
    encoder = tmp_path / "encoder"
    transformers.BertModel(transformers.BertConfig(**TINY)).save_pretrained(encoder)
    run_dir = run(tmp_path, "from-encoder", corpus, encoder, max_steps=1, lr=1e-12,
                  mlm_bias_init="unigram")
    model, _ = load_init_checkpoint_model(run_dir / "model")
    np.testing.assert_allclose(model.cls.predictions.bias.detach().numpy(),
                               label_shares_by_hand(corpus, TINY["vocab_size"]), atol=1e-5)


def test_label_counts_stop_at_the_record_limit(corpus):
    from bertkit.train.tasks.pretrain import masked_lm_label_counts

    dataset = ShardedRecords(resolve_shards(corpus))
    first = dataset[0]
    expected = np.zeros(TINY["vocab_size"])
    np.add.at(expected, first["masked_lm_ids"], first["masked_lm_weights"])
    counts, records = masked_lm_label_counts(dataset, TINY["vocab_size"], record_limit=1)
    assert records == 1
    np.testing.assert_array_equal(counts, expected)
    # Past the first shard's end the count runs on into the second.
    shard_size = len(dataset.parts[0])
    _, records = masked_lm_label_counts(dataset, TINY["vocab_size"],
                                        record_limit=shard_size + 2)
    assert records == shard_size + 2


def test_a_resumed_run_keeps_recording_how_its_bias_began(corpus, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))

    run_until_interrupted(2, task="pretrain", train_file=corpus, output_dir=tmp_path / "run",
                          config_file=config, max_steps=4, batch_size=BATCH, lr=LR,
                          device="cpu", seed=SEED, quiet=True, save_steps=2,
                          mlm_bias_init="unigram")
    run(tmp_path, "run", corpus, None, config_file=config, max_steps=4, save_steps=2,
        resume=True)  # no --mlm-bias-init: the default, zeros
    recorded = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert recorded["mlm_bias_init"] == "unigram"
