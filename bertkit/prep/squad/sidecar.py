"""The SQuAD eval sidecar, `squad_eval.json`: built by prep, read back by predict.

`bertkit prep squad --split eval` writes `squad_eval.json` beside `eval.tf_record`, so
post-processing (Google's `write_predictions`, reference-formats A.5) never re-reads or
re-tokenizes the source JSON. The sidecar is compact JSON, not pickle: every paragraph's
doc tokens and word pieces are stored once and each feature is stored as a window
(start, length) over them plus a "0"/"1" string of max-context flags; the loader expands
that back into Google's per-feature `tokens`, `token_to_orig_map` and
`token_is_max_context`.

`build_eval_sidecar` makes the object (from the read file and its encoded features),
`save_squad_eval_sidecar` writes it, `load_squad_eval_data` reads a file back and
`squad_eval_data_from_sidecar` expands an object (the oracle check uses it without a file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bertkit.compact_json import Raw
from bertkit.compact_json import int_items as int_item_texts
from bertkit.errors import InputError
from bertkit.prep.outputs import recorded_path
from bertkit.prep.squad.chinese import WHITESPACE
from bertkit.prep.squad.encode import ChunkFeatures
from bertkit.prep.squad.reader import SquadReadResult

EVAL_SIDECAR_NAME = "squad_eval.json"
EVAL_SIDECAR_FORMAT = "bertkit.squad_eval/1"


@dataclass
class SquadExample:
    """One question with its paragraph, as post-processing sees it."""

    qas_id: str
    question_text: str
    doc_tokens: list[str]  # shared by all questions of a paragraph
    answers: list[str]  # every gold answer text (empty when unanswerable or unknown)
    is_impossible: bool
    # Character doc tokens (CMRC/DRCD) only: the context and each doc token's offset in it,
    # so answers are cut from the context (no spaces between Chinese characters).
    context: str | None = None
    token_starts: list[int] | None = None


@dataclass
class SquadFeature:
    """One window of one example: the row with `unique_id` in eval.tf_record."""

    unique_id: int
    example_index: int
    doc_span_index: int
    tokens: list[str]
    token_to_orig_map: dict[int, int]  # token position -> doc token index (window pieces only)
    token_is_max_context: dict[int, bool]


@dataclass
class SquadEvalData:
    examples: list[SquadExample]
    features: list[SquadFeature]
    do_lower_case: bool
    version_2_with_negative: bool
    max_seq_length: int
    doc_stride: int
    max_query_length: int
    input_path: str  # the source JSON, i.e. the gold file for scoring


def build_eval_sidecar(
    input_path: str | Path,
    read: SquadReadResult,
    features: ChunkFeatures,
    unique_ids: np.ndarray,
    options: Mapping[str, Any],
    cls_token: str,
    sep_token: str,
    as_json_text: bool = False,
) -> dict[str, Any]:
    """The sidecar object for ``features`` (in file order, numbered ``unique_ids``);
    ``options`` are the conversion's options as recorded (doc_tokens resolved).
    ``as_json_text``: the per-paragraph lists (an item per piece, the bulk of the file) come
    as JSON text already (`compact_json.Raw`), for `save_squad_eval_sidecar` only."""
    texts = features.paragraph_texts
    if as_json_text and texts is not None:
        lists = texts.json_lists()
        columns = {name: lists[name] for name in ("doc_tokens", "pieces", "piece_to_word")}
    else:
        columns = {
            "doc_tokens": [paragraph.doc_tokens for paragraph in read.paragraphs],
            "pieces": list(features.paragraph_pieces),
            "piece_to_word": list(features.paragraph_piece_to_word),
        }
    paragraphs = [dict(zip(columns, values)) for values in zip(*columns.values())]
    if read.doc_tokens != WHITESPACE:
        # Character doc tokens: answers are cut from the context itself (squad_postprocess).
        starts: list[Any]
        if as_json_text:
            # Straight from the doc tokens' arrays (every paragraph has them here), with
            # no int object per character.
            made = [paragraph.cjk.starts for paragraph in read.paragraphs]  # type: ignore
            bounds = np.cumsum([0, *map(len, made)])
            starts = int_item_texts(np.concatenate([*made, np.zeros(0, np.int64)])).lists(bounds)
        else:
            starts = [paragraph.token_starts for paragraph in read.paragraphs]
        for entry, paragraph, token_starts in zip(paragraphs, read.paragraphs, starts):
            entry["context"] = paragraph.context
            entry["token_starts"] = token_starts
    questions = [(index, q) for index, p in enumerate(read.paragraphs) for q in p.questions]
    example_index = np.repeat(np.arange(len(questions)), features.windows_per_question)
    return {
        "format": EVAL_SIDECAR_FORMAT,
        "input_path": recorded_path(input_path),
        "options": dict(options),
        "cls_token": cls_token,
        "sep_token": sep_token,
        "paragraphs": paragraphs,
        "examples": {
            "id": [q.qas_id for _, q in questions],
            "question": [q.question_text for _, q in questions],
            "paragraph": [index for index, _ in questions],
            "answers": [q.answers for _, q in questions],
            "is_impossible": [q.is_impossible for _, q in questions],
            "query_pieces": list(features.query_pieces),
        },
        "features": {
            "unique_id": unique_ids.reshape(-1).tolist(),
            "example_index": example_index.tolist(),
            "doc_span_index": features.doc_span_index.tolist(),
            "span_start": features.span_start.tolist(),
            "span_length": features.span_length.tolist(),
            "max_context": _flag_strings(features.max_context, as_json_text),
        },
    }


def _flag_strings(flags: list[str], as_json_text: bool) -> list[str] | Raw:
    """The per-window "0"/"1" strings, as JSON text when asked: they hold nothing to
    escape, and there is one per window, each as long as the window."""
    if not as_json_text:
        return list(flags)
    return Raw(('["' + '","'.join(flags) + '"]').encode("ascii") if flags else b"[]")


def save_squad_eval_sidecar(path: Path, payload: dict[str, Any]) -> None:
    """Write the sidecar object built by the converter (see `build_eval_sidecar`)."""
    from bertkit.compact_json import dumps
    from bertkit.fsutil import atomic_path

    # compact_json.dumps: json.dumps(ensure_ascii=False, compact separators) as UTF-8,
    # writing the lists the converter already made JSON text of (compact_json.Raw).
    text = dumps(payload)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(text)


def load_squad_eval_data(outdir_or_path: str | Path) -> SquadEvalData:
    """Load `squad_eval.json` from a prep output directory (or the file itself)."""
    path = Path(outdir_or_path)
    if path.is_dir():
        path = path / EVAL_SIDECAR_NAME
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            path, "no SQuAD eval sidecar here; run `bertkit prep squad --split eval`"
        ) from None
    except json.JSONDecodeError as error:
        raise InputError(
            path, f"invalid JSON: {error.msg}", f"{error.lineno}:{error.colno}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != EVAL_SIDECAR_FORMAT:
        raise InputError(path, f"not a {EVAL_SIDECAR_FORMAT} sidecar")
    return squad_eval_data_from_sidecar(payload)


def squad_eval_data_from_sidecar(payload: dict[str, Any]) -> SquadEvalData:
    """The examples and features of a sidecar object, as `load_squad_eval_data` returns them."""
    paragraphs = payload["paragraphs"]
    columns = payload["examples"]
    examples = [
        SquadExample(
            qas_id=qas_id,
            question_text=question,
            doc_tokens=paragraphs[paragraph]["doc_tokens"],
            answers=answers,
            is_impossible=is_impossible,
            context=paragraphs[paragraph].get("context"),
            token_starts=paragraphs[paragraph].get("token_starts"),
        )
        for qas_id, question, paragraph, answers, is_impossible in zip(
            columns["id"],
            columns["question"],
            columns["paragraph"],
            columns["answers"],
            columns["is_impossible"],
        )
    ]
    query_pieces = columns["query_pieces"]
    example_paragraph = columns["paragraph"]
    cls_token, sep_token = payload["cls_token"], payload["sep_token"]
    rows = payload["features"]
    features = []
    for unique_id, example_index, span_index, start, length, flags in zip(
        rows["unique_id"],
        rows["example_index"],
        rows["doc_span_index"],
        rows["span_start"],
        rows["span_length"],
        rows["max_context"],
    ):
        paragraph = paragraphs[example_paragraph[example_index]]
        query = query_pieces[example_index]
        offset = len(query) + 2
        positions = range(offset, offset + length)
        features.append(
            SquadFeature(
                unique_id=unique_id,
                example_index=example_index,
                doc_span_index=span_index,
                tokens=[
                    cls_token,
                    *query,
                    sep_token,
                    *paragraph["pieces"][start : start + length],
                    sep_token,
                ],
                token_to_orig_map=dict(
                    zip(positions, paragraph["piece_to_word"][start : start + length])
                ),
                token_is_max_context=dict(zip(positions, map("1".__eq__, flags))),
            )
        )
    options = payload["options"]
    return SquadEvalData(
        examples=examples,
        features=features,
        do_lower_case=options["do_lower_case"],
        version_2_with_negative=options["version_2_with_negative"],
        max_seq_length=options["max_seq_length"],
        doc_stride=options["doc_stride"],
        max_query_length=options["max_query_length"],
        input_path=payload["input_path"],
    )
