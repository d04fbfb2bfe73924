"""What every task's prediction writer shares: the result record, the eval_meta.json that
lets `bertkit eval` score the files again, and what prep left beside the eval records (its
manifest, the raw input that is the gold file, the label map)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertkit.errors import InputError

EVAL_META_NAME = "eval_meta.json"
EVAL_RESULTS_NAME = "eval_results.json"

UNLABELLED_NOTE = ("the eval data has no gold labels (a test set): predictions written, "
                   "not scored; `bertkit submit` makes the leaderboard files")


@dataclass
class PredictResult:
    task: str
    output_dir: Path
    num_records: int
    files: list[Path] = field(default_factory=list)
    scores: dict[str, Any] | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "output_dir": str(self.output_dir),
                "num_records": self.num_records, "files": [str(p) for p in self.files],
                "scores": self.scores, "note": self.note}


def cluener_gold_has_labels(gold: str | None) -> bool:
    """CLUENER test files have no "label" field; the first record tells."""
    if not gold:
        return False
    try:
        with open(gold, encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    return "label" in json.loads(line)
    except (OSError, ValueError):
        return True  # let scoring report the problem
    return False


def prep_manifest(eval_file: Path) -> dict[str, Any]:
    path = eval_file.parent / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def gold_for(manifest: dict[str, Any], eval_file: Path) -> str | None:
    """The raw input that prep turned into ``eval_file`` (the gold file for scoring)."""
    split = eval_file.name.split(".")[0]
    splits = (manifest.get("options") or {}).get("splits") or {}
    if split in splits:
        return str(splits[split])
    inputs = [entry.get("path") for entry in manifest.get("inputs") or []]
    named = [path for path in inputs if path and Path(path).stem == split]
    if named:
        return named[0]
    return inputs[0] if len(inputs) == 1 else None


def label_names(model: Any, eval_file: Path, saved: dict[int, str] | None) -> dict[int, str]:
    """The head's label names: prep's label map beside the records (checked against the
    head's size), else the names saved with the model."""
    label_map = eval_file.parent / "label2id.json"
    if label_map.is_file():
        from bertkit.prep.ner_decode import load_id2label

        id2label = load_id2label(label_map)
        head = getattr(model, "num_labels", len(id2label))
        if head != len(id2label) and head != 1:
            raise InputError(label_map, f"the data's label map has {len(id2label)} labels but "
                                        f"the model's head has {head}")
        return id2label
    return {int(k): str(v) for k, v in (saved or {}).items()}
