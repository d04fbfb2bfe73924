"""What every task's prediction writer shares: the result record, the eval_meta.json that
lets `bertkit eval` score the files again (the eval contract prep recorded in its manifest),
and what prep left beside the eval records (its manifest, the label map)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from bertkit.console import warn
from bertkit.errors import InputError
from bertkit.evaluate.contract import EvalContract, contract_for_split
from bertkit.fsutil import write_json_atomic

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
    """prep's manifest beside ``eval_file``; {} when there is none (records from elsewhere,
    left to a task's older rule). One that is there but cannot be read is an InputError
    naming it: taken as absent, a damaged manifest silently lost its eval contract."""
    path = eval_file.parent / "manifest.json"
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(path, f"prep's manifest is not valid JSON: {error.msg}",
                         f"{error.lineno}:{error.colno}") from None
    except UnicodeDecodeError as error:
        raise InputError(path, f"prep's manifest is not UTF-8 (byte {error.start})") from None
    except OSError as error:
        raise InputError(path, f"cannot read prep's manifest: "
                               f"{error.strerror or type(error).__name__}") from None
    except RecursionError:
        raise InputError(path, "prep's manifest nests too deeply to be one prep wrote") from None
    if not isinstance(manifest, dict):
        raise InputError(path, "prep's manifest must be a JSON object")
    return manifest


# What a task's older rule gives: always a contract (SQuAD, NER), or maybe none (classification).
_Legacy = TypeVar("_Legacy", EvalContract, EvalContract | None)


def eval_contract(eval_file: Path, legacy: Callable[[dict[str, Any]], _Legacy],
                  manifest: dict[str, Any] | None = None) -> _Legacy:
    """The eval contract that prep recorded in its manifest for ``eval_file``'s split
    (``manifest``: that manifest, when the caller has read it already).

    A manifest written before prep recorded one (or none at all) gets ``legacy``, the rule
    predict used to guess by, and a warning says so. None: nothing names a scorer.
    """
    if manifest is None:
        manifest = prep_manifest(eval_file)
    contract = recorded_contract(eval_file, manifest)
    if contract is not None:
        return contract
    contract = legacy(manifest)
    if contract is not None:
        warn(f"{eval_file.parent / 'manifest.json'} has no eval contract (prep of an older "
             f"bertkit): scoring with {contract.scorer} against {contract.gold}, as guessed "
             "from the prep command and inputs; run prep again to record it")
    return contract


def recorded_contract(eval_file: Path, manifest: dict[str, Any] | None = None,
                      scorers: tuple[str, ...] | None = None) -> EvalContract | None:
    """The contract of prep's manifest beside ``eval_file`` (None: the manifest has none),
    checked: a malformed block, or a scorer that is not one of ``scorers`` (the task's), is
    an ``InputError`` naming the manifest. A relative gold path is relative to the manifest.
    """
    path = eval_file.parent / "manifest.json"
    if manifest is None:
        manifest = prep_manifest(eval_file)
    try:
        contract = contract_for_split(manifest, eval_file.name.split(".")[0])
    except ValueError as error:
        raise InputError(path, str(error)) from None
    if contract is None:
        return None
    if scorers is not None and contract.scorer not in scorers:
        raise InputError(path, f'"eval": scorer {contract.scorer!r} does not score this '
                               f"model's predictions (one of: {', '.join(scorers)})")
    if contract.gold is not None and not Path(contract.gold).is_absolute():
        contract = replace(contract, gold=str(eval_file.parent.resolve() / contract.gold))
    return contract


def write_eval_meta(output_dir: Path, contract: EvalContract, predictions: str,
                    na_prob_file: str | None = None) -> Path:
    """``eval_meta.json``: the contract (its scorer under ``task``), relative file names."""
    meta: dict[str, Any] = {"task": contract.scorer, "gold": contract.gold,
                            "format": contract.format, "predictions": predictions}
    if na_prob_file is not None:
        meta["na_prob_file"] = na_prob_file
    return write_json_atomic(output_dir / EVAL_META_NAME, meta)


def gold_for(manifest: dict[str, Any], eval_file: Path) -> str | None:
    """The raw input that prep turned into ``eval_file`` (the gold file for scoring), found
    the way predict did before manifests carried an eval block."""
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
        from bertkit.prep.ner.decode import load_id2label

        id2label = load_id2label(label_map)
        head = getattr(model, "num_labels", len(id2label))
        if head != len(id2label) and head != 1:
            raise InputError(label_map, f"the data's label map has {len(id2label)} labels but "
                                        f"the model's head has {head}")
        return id2label
    return {int(k): str(v) for k, v in (saved or {}).items()}
