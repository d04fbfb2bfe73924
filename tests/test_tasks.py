"""The task registry: every task's declarations agree with its head, with transformers and
with `bertkit eval`, and a new task plugs into train, export and predict as one module."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from train_support import TINY_BERT, read_log, tiny_config

from bertkit.errors import UsageError
from bertkit.evaluate.detect import canonical_task
from bertkit.tfrecord import FloatList, TFRecordWriter
from bertkit.train import tasks
from bertkit.train.config import BertConfig
from bertkit.train.data import INPUT_FEATURES, MODEL_ARGUMENT, RecordLayout, labels_from_data
from bertkit.train.heads import BertForSequenceClassification
from bertkit.train.tasks.base import Task

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = BertConfig.from_json_file(TINY_BERT / "config.json")


def _head(task: Task) -> torch.nn.Module:
    return task.build_head(TINY, 3 if task.needs_labels else None, False)


def test_every_name_is_a_task_module_and_unknown_names_are_usage_errors() -> None:
    assert [task.name for task in tasks.all_tasks()] == list(tasks.TASK_NAMES)
    assert tasks.find_task("pretraining") is None
    with pytest.raises(UsageError, match="unknown task 'pretraining'.*squad, classification"):
        tasks.get_task("pretraining")


def test_importing_the_registry_imports_neither_torch_nor_a_task() -> None:
    """`train --help` and the option checks read TASK_NAMES before torch is imported."""
    code = ("import sys, bertkit.train.tasks, bertkit.train.options; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith("
            "'bertkit.train.tasks.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", tasks.TASK_NAMES)
def test_training_columns_are_arguments_of_the_head(name: str) -> None:
    """Each training column reaches the head's forward under its model argument name, and
    the head returns a loss from them."""
    task = tasks.get_task(name)
    head = _head(task)
    accepted = set(inspect.signature(head.forward).parameters)
    arguments = [MODEL_ARGUMENT.get(column, column) for column in task.train_layout.required]
    assert set(arguments) <= accepted
    batch = {"input_ids": torch.randint(1, 100, (2, 8)), "attention_mask": torch.ones(2, 8),
             "token_type_ids": torch.zeros(2, 8, dtype=torch.long)}
    for argument in arguments:
        if argument not in batch:
            scalar = argument in {MODEL_ARGUMENT.get(c, c) for c in task.train_layout.scalars}
            batch[argument] = torch.randint(0, 2, (2,) if scalar else (2, 8))
    assert torch.isfinite(head(**batch)["loss"])


@pytest.mark.parametrize("name", tasks.TASK_NAMES)
def test_hf_heads_cover_every_head_parameter(name: str) -> None:
    """Everything outside the encoder is under one of the task's declared head prefixes, so
    export, load_model_dir and init checkpoints find it."""
    task = tasks.get_task(name)
    state = task.build_head(TINY, 3 if task.needs_labels else None, name == "ner").state_dict()
    outside = [key for key in state if not key.startswith("bert.")]
    assert outside
    assert all(key.startswith(tuple(task.hf_heads.values())) for key in outside), outside


@pytest.mark.parametrize("name", tasks.TASK_NAMES)
def test_hf_architecture_is_the_transformers_class_of_the_same_state_dict(name: str) -> None:
    import transformers

    task = tasks.get_task(name)
    ours = set(_head(task).state_dict())
    peer_class = getattr(transformers, task.hf_architecture)
    peer = peer_class(transformers.BertConfig(**TINY.to_hf_dict(), num_labels=3))
    # Tied aliases (pretraining's decoder = the word embeddings) are not saved by transformers.
    tied = set(getattr(peer, "_tied_weights_keys", None) or ())
    theirs = {key for key in peer.state_dict() if not key.endswith("position_ids")} - tied
    assert ours == theirs
    assert tasks.task_of_architecture(task.hf_architecture) == name


def test_the_tasks_without_prediction_are_named_in_the_registry() -> None:
    """The option checks refuse --do-eval for these before any task module (or torch) loads."""
    assert {task.name for task in tasks.all_tasks() if task.write_predictions is None} == \
        tasks.TASKS_WITHOUT_PREDICTION


@pytest.mark.parametrize("name", tasks.TASK_NAMES)
def test_scorers_are_names_bertkit_eval_knows(name: str) -> None:
    task = tasks.get_task(name)
    if task.write_predictions is None:  # no prediction step (pretraining): nothing to score
        assert not task.scorers
        return
    assert task.scorers and all(canonical_task(scorer) == scorer for scorer in task.scorers)


def test_build_model_checks_labels_and_crf_per_task() -> None:
    with pytest.raises(UsageError, match="needs num_labels"):
        tasks.build_model("classification", TINY)
    with pytest.raises(UsageError, match="--use-crf applies to the ner task only"):
        tasks.build_model("classification", TINY, num_labels=2, use_crf=True)
    assert tasks.build_model("ner", TINY, num_labels=4, use_crf=True).crf is not None


# --- a fourth task, added the way CONTRIBUTING.md says: one module, its name in the registry


class WeightedClassification(BertForSequenceClassification):
    """Classification whose loss weighs each record by a column of its own, and which counts
    its correct answers: a head that needs more columns than the inputs and labels."""

    task = "weighted"

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None,
                sample_weight=None):
        outputs = super().forward(input_ids, attention_mask, token_type_ids)
        if labels is not None:
            losses = F.cross_entropy(outputs["logits"].float(), labels.long(), reduction="none")
            outputs["loss"] = (losses * sample_weight).sum() / sample_weight.sum()
            outputs["correct"] = (outputs["logits"].argmax(-1) == labels).sum()
            outputs["count"] = torch.tensor(len(labels))
        return outputs


class AccuracySums:
    """The task's step metrics: correct and count summed over micro-batches and ranks."""

    def __init__(self) -> None:
        self.sums = torch.zeros(2)

    def add(self, outputs):
        self.sums += torch.stack([outputs["correct"], outputs["count"]]).float()

    def finish(self, world_size, mean_over_ranks):
        correct, count = (mean_over_ranks(self.sums) * world_size).tolist()
        return {"accuracy": correct / count, "records": count}


def _weighted_records(path: Path, count: int) -> Path:
    rng = np.random.default_rng(0)
    with TFRecordWriter(path) as writer:
        for number in range(count):
            ids = np.zeros(16, dtype=np.int64)
            ids[:10] = rng.integers(1000, 3963, size=10)
            mask = (ids > 0).astype(np.int64)
            writer.write({"input_ids": ids, "input_mask": mask,
                          "segment_ids": np.zeros(16, dtype=np.int64),
                          "label_ids": [number % 2], "sample_weight": FloatList([1.0 + number % 3])})
    (path.parent / "label2id.json").write_text('{"no": 0, "yes": 1}')
    return path


@pytest.fixture
def weighted_task(monkeypatch: pytest.MonkeyPatch) -> Task:
    columns = ("label_ids", "sample_weight")
    task = Task(
        name="weighted",
        train_layout=RecordLayout(INPUT_FEATURES + columns, scalars=columns),
        predict_layout=None,  # no prediction writer: `predict` refuses it
        build_head=lambda config, num_labels, use_crf: WeightedClassification(config, num_labels),
        resolve_labels=labels_from_data,
        hf_architecture="BertForSequenceClassification",
        hf_heads={"classifier.": "classifier."},
        step_metrics=AccuracySums,
    )
    module = types.ModuleType("bertkit.train.tasks.weighted")
    module.TASK = task  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(tasks, "TASK_NAMES", (*tasks.TASK_NAMES, "weighted"))
    return task


def test_a_new_task_trains_saves_and_reloads_through_the_registry(tmp_path, weighted_task):
    from bertkit.train.checkpoints.hf import load_model_dir
    from bertkit.train.predict import PredictOptions, predict_with_model
    from bertkit.train.trainer import TrainOptions, train

    data = _weighted_records(tmp_path / "data" / "train.tf_record", 32)
    result = train(TrainOptions(task="weighted", train_file=data, output_dir=tmp_path / "run",
                                config_file=tiny_config(tmp_path / "cfg"), max_steps=3,
                                batch_size=4, grad_accum=2, device="cpu", quiet=True))
    log = read_log(result.run_dir)
    assert [row["step"] for row in log] == [1, 2, 3]
    # The step metrics span both micro-batches of each step: 8 records, k of them right.
    assert all(row["records"] == 8 and row["accuracy"] * 8 == int(row["accuracy"] * 8)
               for row in log)
    model, _config, meta = load_model_dir(result.run_dir / "model")
    assert isinstance(model, WeightedClassification)
    assert meta["task"] == "weighted" and meta["id2label"] == ["no", "yes"]
    with pytest.raises(UsageError, match="task 'weighted' is not one predict knows"):
        predict_with_model(model, PredictOptions(model_dir=result.run_dir, eval_file=data),
                           device=torch.device("cpu"))
    with pytest.raises(UsageError, match="the weighted task has no prediction step"):
        train(TrainOptions(task="weighted", train_file=data, output_dir=tmp_path / "again",
                           config_file=tiny_config(tmp_path / "cfg"), max_steps=1,
                           do_eval=True, eval_file=data, device="cpu", quiet=True))


def test_a_model_dir_of_a_task_this_bertkit_does_not_know_is_named(tmp_path) -> None:
    """A run-dir model written by a bertkit with more tasks: one line naming config.json
    (it used to surface as a usage error without the file)."""
    import json

    from bertkit.errors import InputError
    from bertkit.train.checkpoints.hf import load_model_dir, save_model_dir

    model = tasks.build_model("classification", TINY, num_labels=2)
    save_model_dir(model, TINY, tmp_path / "model", task="classification", num_labels=2,
                   id2label=None, use_crf=False, vocab_path=None)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    config["bertkit"]["task"] = "summarize"
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=r"config\.json.*unknown task 'summarize'"):
        load_model_dir(tmp_path / "model")


def test_the_tasks_with_a_masked_lm_head_are_named_in_the_registry() -> None:
    """--mlm-bias-init is refused for the other tasks before any task module loads."""
    assert {task.name for task in tasks.all_tasks() if task.init_output_bias is not None} == \
        set(tasks.TASKS_WITH_MLM_HEAD)
