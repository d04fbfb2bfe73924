"""The training dataset over TFRecords: names, dtypes, order, rank sharding, bad records."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from train_support import write_classification_records, write_ner_records, write_squad_records

from bertkit.errors import InputError
from bertkit.tfrecord import TFRecordReader
from bertkit.train.data import (
    TFRecordDataset,
    batches_per_epoch,
    collate,
    epoch_batches,
    prediction_loader,
)
from bertkit.train.tasks import get_task


def test_squad_records_become_model_arguments(tmp_path):
    path = write_squad_records(tmp_path / "train.tf_record", 10, seq_length=24)
    dataset = TFRecordDataset(path, get_task("squad").layout(training=True), task="squad")
    raw = TFRecordReader(path)[3]
    item = dataset[3]
    assert set(item) == {"input_ids", "attention_mask", "token_type_ids", "start_positions",
                         "end_positions"}
    assert np.array_equal(item["attention_mask"], raw["input_mask"])
    assert np.array_equal(item["token_type_ids"], raw["segment_ids"])
    assert item["start_positions"].shape == () and item["start_positions"] == raw["start_positions"][0]
    batch = collate([dataset[i] for i in range(4)])
    assert batch["input_ids"].shape == (4, 24) and batch["input_ids"].dtype == torch.int64
    assert batch["start_positions"].shape == (4,)
    assert dataset.seq_length == 24
    # DataLoader workers get a pickled copy: it must reopen the file by itself.
    assert np.array_equal(pickle.loads(pickle.dumps(dataset))[5]["input_ids"], dataset[5]["input_ids"])


def test_prediction_layout_keeps_unique_ids_in_file_order(tmp_path):
    path = write_squad_records(tmp_path / "eval.tf_record", 7)
    dataset = TFRecordDataset(path, get_task("squad").layout(training=False), task="squad")
    ids = torch.cat([b["unique_ids"] for b in prediction_loader(dataset, batch_size=3)])
    assert ids.tolist() == [1000000000 + i for i in range(7)]


def test_classification_and_ner_labels(tmp_path):
    cls = write_classification_records(tmp_path / "c" / "train.tf_record", 6, ["x", "y"])
    item = TFRecordDataset(cls, get_task("classification").layout(True), task="classification")[3]
    assert item["labels"].shape == () and int(item["labels"]) == 1
    sts = write_classification_records(tmp_path / "s" / "train.tf_record", 4, ["score"],
                                       regression=True)
    assert TFRecordDataset(sts, get_task("classification").layout(True),
                           task="classification")[1]["labels"].dtype == np.float32
    ner = write_ner_records(tmp_path / "n" / "train.tf_record", 4, ["O", "B-X", "I-X"])
    ner_item = TFRecordDataset(ner, get_task("ner").layout(True), task="ner")[0]
    assert ner_item["labels"].shape == (32,)
    # Prediction files may or may not carry labels.
    no_labels = TFRecordDataset(ner, get_task("ner").layout(False), task="ner")
    assert "labels" in no_labels[0]


def test_missing_feature_is_named_with_file_and_record(tmp_path):
    path = write_squad_records(tmp_path / "train.tf_record", 3, drop=("start_positions",))
    with pytest.raises(InputError) as caught:
        TFRecordDataset(path, get_task("squad").layout(training=True), task="squad")
    assert str(caught.value).startswith(f"{path}:record 0: feature 'start_positions' needed by "
                                        "task squad is missing")


def test_label_outside_head_is_reported_with_record(tmp_path):
    path = write_classification_records(tmp_path / "train.tf_record", 5, ["a", "b"],
                                        label_ids=[0, 1, 0, 2, 1])
    dataset = TFRecordDataset(path, get_task("classification").layout(True), task="classification",
                              num_labels=2)
    with pytest.raises(InputError, match=r"record 3: label id 2 is outside the 2 labels"):
        dataset.check_all_labels()


@settings(max_examples=40, deadline=None)
@given(records=st.integers(8, 60), batch=st.integers(1, 6), world=st.integers(1, 4),
       seed=st.integers(0, 2**31 - 1), epoch=st.integers(0, 3))
def test_ranks_split_the_single_process_batches(records, batch, world, seed, epoch):
    """At every step, the ranks' batches together are the 1-process batch of the same size."""
    dataset = list(range(records))
    steps = batches_per_epoch(records, batch_size=batch, world_size=world)
    single = epoch_batches(dataset, batch_size=batch * world, seed=seed, epoch=epoch, rank=0,
                           world_size=1)
    per_rank = [epoch_batches(dataset, batch_size=batch, seed=seed, epoch=epoch, rank=r,
                              world_size=world) for r in range(world)]
    assert all(len(b) == steps for b in per_rank)
    for step in range(steps):
        together = sorted(i for rank in per_rank for i in rank[step])
        assert together == sorted(single[step])
    again = epoch_batches(dataset, batch_size=batch, seed=seed, epoch=epoch, rank=0,
                          world_size=world)
    assert again == per_rank[0]  # deterministic given the seed


def test_epochs_are_shuffled_differently(tmp_path):
    data = list(range(50))
    first = epoch_batches(data, batch_size=5, seed=1, epoch=0, rank=0, world_size=1)
    second = epoch_batches(data, batch_size=5, seed=1, epoch=1, rank=0, world_size=1)
    assert first != second
    assert sorted(i for b in first for i in b) == sorted(i for b in second for i in b)


def test_dataset_module_imports_no_tensorflow():
    import subprocess

    code = ("import sys, bertkit.train.data, bertkit.train.trainer, bertkit.train.predict; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
