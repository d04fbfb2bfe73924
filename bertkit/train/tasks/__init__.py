"""The task registry: what ``--task NAME`` means, one module per task.

``bertkit/train/tasks/<name>.py`` defines ``TASK``, a `base.Task` that declares the task's
record columns, head and loss, label resolution, HF architecture and head names, prediction
writer and scorers. The trainer, data loading, predict, the checkpoint readers and export look
the task up here instead of branching on its name. Adding a task is one module, its name in
`TASK_NAMES`, and its tests (CONTRIBUTING.md, "How to add a task").

This module imports neither torch nor any task: option checks run before the heavy imports,
and `get_task` imports a task's module only when it is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from bertkit.errors import UsageError

if TYPE_CHECKING:
    from torch import nn

    from bertkit.train.config import BertConfig
    from bertkit.train.tasks.base import Task

# Every task, in the order help texts list them; each is bertkit.train.tasks.<name>.TASK.
TASK_NAMES = ("squad", "classification", "ner", "pretrain")
# The tasks without a prediction step (no `predict`, no `train --do-eval`), named here so
# the option checks refuse them before torch loads; each module's ``write_predictions`` is
# None for exactly these (tests/test_tasks.py).
TASKS_WITHOUT_PREDICTION = frozenset({"pretrain"})
# The tasks whose head has a masked-LM output bias (`--mlm-bias-init`), named here for the
# same reason; each module's ``init_output_bias`` is set for exactly these.
TASKS_WITH_MLM_HEAD = ("pretrain",)


def get_task(name: str) -> Task:
    """The task called ``name``; a UsageError naming the known ones otherwise."""
    if name not in TASK_NAMES:
        raise UsageError(f"unknown task {name!r} (expected one of {', '.join(TASK_NAMES)})")
    task: Task = importlib.import_module(f"{__name__}.{name}").TASK
    return task


def no_prediction_step(name: str) -> UsageError:
    """The error for predicting with, or evaluating after training, a task that cannot."""
    return UsageError(f"the {name} task has no prediction step (predict, train --do-eval)")


def find_task(name: str | None) -> Task | None:
    """The task called ``name``, or None when there is none."""
    return get_task(name) if name in TASK_NAMES else None


def all_tasks() -> list[Task]:
    return [get_task(name) for name in TASK_NAMES]


def build_model(task: str, config: BertConfig, num_labels: int | None = None,
                use_crf: bool = False) -> nn.Module:
    """The model for a task name of the CLI, with fresh weights."""
    spec = get_task(task)
    if spec.needs_labels and num_labels is None:
        raise UsageError(f"task {task!r} needs num_labels")
    return spec.build_head(config, num_labels, use_crf)


def hf_head_prefixes() -> dict[str, str]:
    """Every task's head parameters: HF state-dict prefix -> ours."""
    prefixes: dict[str, str] = {}
    for task in all_tasks():
        prefixes.update(task.hf_heads)
    return prefixes


def task_of_architecture(architecture: str) -> str | None:
    """The task whose head transformers calls ``architecture`` (None if none is)."""
    return next((task.name for task in all_tasks() if task.hf_architecture == architecture),
                None)
