"""The oracle check of SQuAD-style alignment and post-processing.

Every feature's own training labels (its gold start/end positions) are fed back to the
post-processing as logits. If the converter labels the right pieces and the
post-processing maps pieces back to the right text, the predicted answers equal the gold
ones; what does not come back is a defect of one of the two, or an answer that pieces
cannot express (it starts or ends inside a word piece). Each question is converted with
its first gold answer, which for DRCD is the annotated one (answer id "1").

Google's code scores 96.83 EM on CMRC dev this way (reference-formats I); character doc
tokens (`bertkit.prep.squad.chinese`) bring Chinese to the level of English SQuAD.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bertkit.evaluate.cmrc import score_cmrc
from bertkit.evaluate.squad_v1 import GoldQuestion, iter_gold_questions, score_squad_v1
from bertkit.prep.squad.chinese import WHITESPACE
from bertkit.prep.squad.convert import SquadPrepOptions
from bertkit.prep.squad.encode import WindowOptions, encode_paragraphs
from bertkit.prep.squad.reader import load_json, read_squad_data
from bertkit.prep.squad.records import FIRST_UNIQUE_ID
from bertkit.prep.squad.sidecar import build_eval_sidecar, squad_eval_data_from_sidecar
from bertkit.tokenization.reference import basic_tokenize
from bertkit.train.squad_postprocess import (
    PostprocessOptions,
    SpanLogits,
    compute_predictions,
    detokenize_pieces,
)

GOLD_LOGIT = 10.0

NO_WINDOW = "no window holds the whole answer"
INSIDE_PIECE = "answer starts or ends inside a word piece"
FALLBACK = "pieces right, mapping back to the text failed (whole doc-token text returned)"
SPACING = "gold text has other spacing (whitespace doc tokens are joined by one space)"


@dataclass
class OracleReport:
    """Scores of the oracle predictions over the questions whose first answer aligned."""

    doc_tokens: str
    questions: int  # in the file
    aligned: int  # questions converted with a label (answer placed, not skipped)
    repaired: int
    skipped: int
    exact_first: float  # % of aligned questions predicted exactly as the first gold text
    scores: dict[str, Any]  # the task metric (CMRC or SQuAD v1.1) over aligned questions
    misses: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    predictions: dict[str, str] = field(default_factory=dict)
    max_answer_length: int = 0

    @property
    def em(self) -> float:
        return float(self.scores.get("EM", self.scores.get("exact_match", 0.0)))


def first_answers_only(document: Any) -> Any:
    """A copy of a SQuAD-layout document in which every question keeps its first answer."""
    document = copy.deepcopy(document)
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qa["answers"] = qa.get("answers", [])[:1]
    return document


def run_oracle(
    path: str | Path,
    tokenizer: Any,
    *,
    doc_tokens: str,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
    do_lower_case: bool = True,
    metric: str | None = None,
) -> OracleReport:
    """Convert ``path`` with its first answers as labels, feed the labels back as logits,
    and score; ``metric`` is "cmrc" or "squad" (default: cmrc for character doc tokens)."""
    path = Path(path)
    original = load_json(path)
    read = read_squad_data(
        first_answers_only(original), path, is_training=True,
        version_2_with_negative=False, doc_tokens=doc_tokens,
    )
    window = WindowOptions(
        max_seq_length=max_seq_length, doc_stride=doc_stride,
        max_query_length=max_query_length, is_training=True, keep_eval_details=True,
    )
    chunk = encode_paragraphs(read.paragraphs, tokenizer, window)
    unique_ids = FIRST_UNIQUE_ID + np.arange(len(chunk.input_ids))
    options = SquadPrepOptions(
        split="eval", max_seq_length=max_seq_length, doc_stride=doc_stride,
        max_query_length=max_query_length, do_lower_case=do_lower_case,
        doc_tokens=read.doc_tokens,
    )
    eval_data = squad_eval_data_from_sidecar(build_eval_sidecar(
        path, read, chunk, unique_ids, options.recorded(read.doc_tokens),
        tokenizer.cls_token, tokenizer.sep_token))

    results = {}
    longest = 1
    labelled_pieces: dict[int, list[str]] = {}  # example -> pieces of its first labelled span
    for feature, start, end in zip(eval_data.features, chunk.start_positions, chunk.end_positions):
        logits_start = [0.0] * len(feature.tokens)
        logits_end = [0.0] * len(feature.tokens)
        if start > 0:
            logits_start[start] = logits_end[end] = GOLD_LOGIT
            longest = max(longest, int(end - start + 1))
            labelled_pieces.setdefault(
                feature.example_index, list(feature.tokens[start : end + 1]))
        results[feature.unique_id] = SpanLogits(logits_start, logits_end)
    predictions = compute_predictions(
        eval_data.examples, eval_data.features, results,
        PostprocessOptions(max_answer_length=longest, do_lower_case=do_lower_case),
    ).answers

    first_gold = {
        example.qas_id: question.answer_text
        for example, question in zip(
            eval_data.examples, (q for p in read.paragraphs for q in p.questions))
    }
    all_golds = {q.qid: q for q in iter_gold_questions(original["data"])}
    aligned = [all_golds[qid] for qid in first_gold]
    metric = metric or ("squad" if read.doc_tokens == WHITESPACE else "cmrc")
    if metric == "cmrc":
        scores = score_cmrc(aligned, predictions)
        scores = {key: scores[key] for key in ("EM", "F1", "AVERAGE", "TOTAL")}
    else:
        scores = score_squad_v1(aligned, predictions).as_dict()
        scores = {key: scores[key] for key in ("exact_match", "f1", "total")}

    misses: dict[str, list[tuple[str, str, str]]] = {}
    for index, example in enumerate(eval_data.examples):
        gold, predicted = first_gold[example.qas_id], predictions[example.qas_id]
        if predicted == gold:
            continue
        cause = _miss_cause(gold, predicted, labelled_pieces.get(index), do_lower_case)
        misses.setdefault(cause, []).append((example.qas_id, gold, predicted))
    exact = sum(predictions[qid] == text for qid, text in first_gold.items())
    return OracleReport(
        doc_tokens=read.doc_tokens,
        questions=len(all_golds),
        aligned=len(first_gold),
        repaired=len(read.repaired),
        skipped=len(read.skipped),
        exact_first=100.0 * exact / len(first_gold) if first_gold else 0.0,
        scores=scores,
        misses=misses,
        predictions=predictions,
        max_answer_length=longest,
    )


def miss_counts(report: OracleReport) -> Counter[str]:
    return Counter({cause: len(items) for cause, items in report.misses.items()})


def gold_questions(path: str | Path) -> list[GoldQuestion]:
    return list(iter_gold_questions(load_json(path)["data"]))


def _miss_cause(gold: str, predicted: str, pieces: list[str] | None, do_lower_case: bool) -> str:
    if pieces is None:
        return NO_WINDOW
    if " ".join(gold.split()) == predicted:
        return SPACING
    piece_text = detokenize_pieces(pieces).replace(" ", "")
    if "[UNK]" in pieces or piece_text == "".join(basic_tokenize(gold, do_lower_case)):
        return FALLBACK
    return INSIDE_PIECE
