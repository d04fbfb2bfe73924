"""Batch trimming, length-sorted prediction and --group-by-length change no result.

On real CLUENER / TNEWS / SQuAD records (prep with the tiny fixture vocab) and a tiny BERT:
- trimmed batches give the untrimmed logits (within 1e-5) for every task;
- with dropout off, training losses with trimming equal the untrimmed run's, step by step;
- `predict` sorted by length writes byte-identical files to file-order prediction, and with
  trimming too (the default) the same labels, tags and SQuAD answers (nbest logits within 1e-5);
- `length_grouped_batches` gives every rank the same number of batches, covers the same
  records per step on 1 or N ranks, and groups lengths.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA
from test_predict_tasks import _head
from test_train_e2e import V1_DEV, _sample
from train_support import TINY_BERT, read_log, tiny_config

from bertkit.train import data as train_data
from bertkit.train.tasks import get_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PREDICTION_FILES = ("predictions.json", "nbest_predictions.json", "predictions.tsv",
                    "predictions.txt")


# ------------------------------------------------------------------ trim_batch itself


def _batch(lengths: list[int], seq: int = 16) -> dict[str, torch.Tensor]:
    mask = (torch.arange(seq)[None, :] < torch.tensor(lengths)[:, None]).long()
    return {"input_ids": mask * 7, "attention_mask": mask, "token_type_ids": mask * 0,
            "labels": mask * 2, "unique_ids": torch.arange(len(lengths))}


def test_trim_batch_cuts_the_padded_tail_only():
    batch = _batch([3, 9, 5])
    trimmed = train_data.trim_batch(batch)
    assert {name: tuple(t.shape) for name, t in trimmed.items()} == {
        "input_ids": (3, 9), "attention_mask": (3, 9), "token_type_ids": (3, 9),
        "labels": (3, 9), "unique_ids": (3,)}
    assert torch.equal(trimmed["attention_mask"], batch["attention_mask"][:, :9])
    assert int(batch["attention_mask"][:, 9:].sum()) == 0  # nothing real was cut
    assert train_data.trim_batch(batch, multiple_of=8)["input_ids"].shape[1] == 16
    assert train_data.trim_batch(_batch([3, 5]), multiple_of=8)["input_ids"].shape[1] == 8
    # Never longer than the records, and a mask with a hole keeps its last real column.
    assert train_data.trim_batch(_batch([16, 2]))["input_ids"].shape[1] == 16
    holed = _batch([2])
    holed["attention_mask"][0, 11] = 1
    assert train_data.trim_batch(holed)["input_ids"].shape[1] == 12
    # Classification labels (one per record) pass through.
    classified = {**_batch([4, 6]), "labels": torch.tensor([1, 0])}
    assert torch.equal(train_data.trim_batch(classified)["labels"], torch.tensor([1, 0]))


def test_squad_training_batches_are_not_trimmed():
    # Google's span loss is a softmax over every position, padding included.
    assert not get_task("squad").trims_training_batches
    assert get_task("classification").trims_training_batches
    assert get_task("ner").trims_training_batches


# ------------------------------------------------------------------ real prepared data


def _prep(task: str, root: Path) -> Path:
    """A prep directory of real records, padded well past their real lengths."""
    from typer.testing import CliRunner

    from bertkit.cli import app

    vocab = str(TINY_BERT / "vocab.txt")
    prep = root / f"prep-{task}"
    if task == "squad":
        from bertkit.prep.squad.convert import SquadPrepOptions, prep_squad

        # Two prep runs, two folders: one -o holds one output set.
        for split, training in (("train", True), ("eval", False)):
            prep_squad(_sample(V1_DEV, root, 6, training),
                       _squad_train_dir(prep) if training else prep,
                       SquadPrepOptions(split=split, max_seq_length=256, doc_stride=64,
                                        max_query_length=32), vocab=TINY_BERT / "vocab.txt",
                       workers=1)
        return prep
    if task == "ner":
        source = SHARED_DATA / "cluener2020"
        files = [_head(source / "train.json", 48, root / "raw-ner" / "train.json"),
                 _head(source / "dev.json", 40, root / "raw-ner" / "dev.json")]
        args = ["prep", "cluener", *map(str, files), "--max-seq-length", "96"]
    else:
        source = SHARED_DATA / "tnews"
        files = [_head(source / "train.json", 64, root / "raw-cls" / "train.json"),
                 _head(source / "dev.json", 40, root / "raw-cls" / "dev.json")]
        args = ["prep", "tnews", *map(str, files), "--max-seq-length", "64"]
    result = CliRunner().invoke(app, [*args, "-o", str(prep), "--vocab", vocab, "--workers", "1"])
    assert result.exit_code == 0, result.output
    return prep


TASKS = {"classification": "classification", "ner": "ner", "ner-crf": "ner", "squad": "squad"}


@pytest.fixture(scope="module")
def prepared(shared_data, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trimming")
    return {task: _prep(task, root) for task in ("classification", "ner", "squad")}


def _squad_train_dir(prep: Path) -> Path:
    return prep.with_name(prep.name + "-train")


def _train_file(prep: Path) -> Path:
    """The training records beside ``prep``'s eval set (SQuAD's are in their own folder)."""
    separate = _squad_train_dir(prep) / "train.tf_record"
    return separate if separate.exists() else prep / "train.tf_record"


def _train(prep: Path, run: Path, task: str, steps: int = 6, **options: object) -> Path:
    from bertkit.train.trainer import TrainOptions, train

    config = tiny_config(run.parent / f"cfg-{run.name}", hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)
    train(TrainOptions(task=TASKS[task], train_file=_train_file(prep), output_dir=run,
                       init_checkpoint=TINY_BERT, config_file=config, max_steps=steps,
                       batch_size=8, lr=2e-3 if task == "squad" else 1e-3, device="cpu", seed=3,
                       use_crf=task == "ner-crf", quiet=True, **options))
    return run


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory) -> dict[str, Path]:
    """One short run per task (dropout off), trimmed as by default.

    SQuAD trains longer: Google's span loss is a softmax over every position, so training
    pushes the padded positions' logits down; after a few steps they can still rank among a
    feature's n-best, and then the untrimmed run loses n-best slots to them (see
    predict._run_model). With a trained model they never do, as here.
    """
    root = tmp_path_factory.mktemp("trimming-runs")
    return {task: _train(prepared[TASKS[task]], root / task, task,
                         steps=40 if task == "squad" else 6) for task in TASKS}


@pytest.mark.parametrize("task", list(TASKS))
def test_trimmed_logits_equal_untrimmed(prepared, trained, task):
    from bertkit.train.export import load_model_dir

    model, _config, _meta = load_model_dir(trained[task] / "model")
    model.eval()
    eval_file = prepared[TASKS[task]] / ("eval.tf_record" if task == "squad" else "dev.tf_record")
    dataset = train_data.TFRecordDataset(eval_file, get_task(TASKS[task]).layout(False),
                                         task=TASKS[task])
    # The shortest records but the longest of them: a batch of mixed lengths, with padding.
    chosen = [int(i) for i in np.argsort(dataset.lengths(), kind="stable")[:24]]
    batch = train_data.collate([dataset[i] for i in chosen])
    inputs = {name: batch[name] for name in ("input_ids", "attention_mask", "token_type_ids")}
    trimmed = train_data.trim_batch(inputs)
    kept = trimmed["input_ids"].shape[1]
    assert kept < dataset.seq_length  # the test really trims
    with torch.no_grad():
        if TASKS[task] == "ner":
            full_out = model.emissions(**inputs)[:, :kept]
            trim_out = model.emissions(**trimmed)
            assert model.decode(**inputs) == model.decode(**trimmed)  # identical tags
        else:
            full, short = model(**inputs), model(**trimmed)
            name = "start_logits" if task == "squad" else "logits"
            full_out = full[name][:, :kept] if task == "squad" else full[name]
            trim_out = short[name]
    mask = trimmed["attention_mask"].bool()
    if full_out.dim() == 3:  # per-position emissions: compare the real positions
        full_out, trim_out = full_out[mask], trim_out[mask]
    elif task == "squad":
        full_out, trim_out = full_out[mask], trim_out[mask]
    assert torch.allclose(full_out, trim_out, atol=1e-5, rtol=0), \
        float((full_out - trim_out).abs().max())


@pytest.mark.parametrize("task", ["classification", "ner", "ner-crf"])
def test_trimmed_training_losses_equal_untrimmed(prepared, trained, tmp_path, task):
    untrimmed = _train(prepared[TASKS[task]], tmp_path / "untrimmed", task, trim_batches=False)
    ours = [row["loss"] for row in read_log(trained[task])]
    reference = [row["loss"] for row in read_log(untrimmed)]
    assert len(ours) == len(reference) == 6
    assert ours == pytest.approx(reference, rel=1e-5, abs=1e-6)
    assert ours[0] != ours[-1]  # the model really trained


def _predict_files(prep: Path, run: Path, out: Path, **batching: bool) -> dict[str, bytes]:
    from bertkit.train.predict import PredictOptions, predict

    predict(PredictOptions(model_dir=run, eval_file=prep, output_dir=out, device="cpu",
                           batch_size=8, quiet=True, **batching))
    return {path.name: path.read_bytes() for path in out.iterdir()
            if path.name in PREDICTION_FILES}


@pytest.mark.parametrize("task", list(TASKS))
def test_sorted_prediction_files_are_byte_identical(prepared, trained, tmp_path, task):
    prep, run = prepared[TASKS[task]], trained[task]
    plain = _predict_files(prep, run, tmp_path / "plain", sort_by_length=False,
                           trim_batches=False)
    default = _predict_files(prep, run, tmp_path / "default")  # sorted and trimmed
    sorted_only = _predict_files(prep, run, tmp_path / "sorted", trim_batches=False)
    assert plain and sorted_only == plain
    if task != "squad":  # labels and tags: the default's files are the same bytes
        assert default == plain
        return
    # SQuAD: the same answers; nbest_predictions.json writes every logit and probability
    # with 17 digits, and a trimmed batch sums in another order (last-bit differences).
    assert default["predictions.json"] == plain["predictions.json"]
    ours, reference = (json.loads(files["nbest_predictions.json"]) for files in (default, plain))
    assert list(ours) == list(reference)
    for question, entries in reference.items():
        assert [e["text"] for e in ours[question]] == [e["text"] for e in entries]
        for mine, theirs in zip(ours[question], entries):
            for key in ("start_logit", "end_logit", "probability"):
                assert mine[key] == pytest.approx(theirs[key], abs=1e-5), (question, key)


def test_prediction_order_is_longest_first_and_stable(prepared):
    dataset = train_data.TFRecordDataset(prepared["classification"] / "dev.tf_record",
                                         get_task("classification").layout(False),
                                         task="classification")
    lengths = dataset.lengths()
    order = train_data.prediction_order(dataset, by_length=True)
    assert sorted(order) == list(range(len(dataset)))
    assert [lengths[i] for i in order] == sorted(lengths, reverse=True)
    for a, b in zip(order, order[1:]):  # equal lengths keep file order
        assert lengths[a] > lengths[b] or a < b
    assert train_data.prediction_order(dataset, by_length=False) == list(range(len(dataset)))
    masks = [dataset[i]["attention_mask"] for i in range(len(dataset))]
    assert lengths.tolist() == [int(np.flatnonzero(m)[-1]) + 1 for m in masks]


# ------------------------------------------------------------------ --group-by-length


def _lengths(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(5, 128, size=count)


@pytest.mark.parametrize("count,batch,world", [(1000, 8, 1), (1000, 8, 2), (997, 6, 3),
                                               (50, 4, 4)])
def test_grouped_batches_equal_on_every_rank(count, batch, world):
    lengths = _lengths(count)
    single = train_data.length_grouped_batches(lengths, batch_size=batch * world, seed=5,
                                               epoch=1, rank=0, world_size=1)
    per_rank = [train_data.length_grouped_batches(lengths, batch_size=batch, seed=5, epoch=1,
                                                  rank=rank, world_size=world)
                for rank in range(world)]
    expected = train_data.batches_per_epoch(count, batch_size=batch, world_size=world)
    assert [len(batches) for batches in per_rank] == [expected] * world  # no rank waits
    assert all(len(b) == batch for batches in per_rank for b in batches)
    # Each step, the ranks together take exactly the single process's global batch.
    for step, global_batch in enumerate(single):
        assert sorted(i for rank in per_rank for i in rank[step]) == sorted(global_batch)
    seen = [i for b in single for i in b]
    assert len(seen) == len(set(seen)) == expected * batch * world


def test_grouped_batches_group_lengths_and_keep_the_epoch_random():
    lengths = _lengths(4000)
    grouped = train_data.length_grouped_batches(lengths, batch_size=16, seed=1, epoch=0,
                                                rank=0, world_size=1)
    plain = train_data.epoch_batches(list(range(4000)), batch_size=16, seed=1, epoch=0,
                                     rank=0, world_size=1)

    def padding(batches):
        return sum(int(max(lengths[b]) * len(b) - lengths[b].sum()) for b in batches)

    assert padding(grouped) < padding(plain) / 5
    again = train_data.length_grouped_batches(lengths, batch_size=16, seed=1, epoch=0,
                                              rank=0, world_size=1)
    other_epoch = train_data.length_grouped_batches(lengths, batch_size=16, seed=1, epoch=1,
                                                    rank=0, world_size=1)
    assert again == grouped and other_epoch != grouped
    # Not a global sort: the batch lengths are not in order along the epoch.
    maxima = [max(lengths[b]) for b in grouped]
    assert maxima != sorted(maxima) and maxima != sorted(maxima, reverse=True)


def test_group_by_length_training_runs_and_trims(prepared, tmp_path):
    run = _train(prepared["classification"], tmp_path / "grouped", "classification",
                 group_by_length=True)
    rows = read_log(run)
    assert len(rows) == 6 and all(np.isfinite(row["loss"]) for row in rows)
    config = json.loads((run / "run_config.json").read_text())
    assert config["group_by_length"] is True


def test_prediction_leaves_the_model_in_the_callers_mode(prepared, trained):
    """predict switches to eval for its batches and back to whatever mode the caller had: a
    model kept in eval (a benchmark, a notebook) must not come back with dropout on."""
    from bertkit.train.export import load_model_dir
    from bertkit.train.predict import PredictOptions, _run_model

    model, _config, _meta = load_model_dir(trained["classification"] / "model")
    prep = prepared["classification"]
    dataset = train_data.TFRecordDataset(prep / "dev.tf_record",
                                         get_task("classification").layout(False),
                                         task="classification")
    options = PredictOptions(model_dir=trained["classification"], eval_file=prep, quiet=True)
    for training in (False, True):
        model.train(training)
        _run_model(model, dataset, options, torch.device("cpu"))
        assert model.training is training
        assert all(module.training is training for module in model.modules())
