"""SQuAD answers from start/end logits: Google's `write_predictions`, file for file.

Behaviour follows google-research/bert `run_squad.py` (reference-formats.md A.5):
n-best candidates per feature, filtering by the token map and max-context flags,
projection back to the original text with `get_final_text`, softmax over the
n-best, and for SQuAD 2.0 the null answer with its score difference. The three
output files are byte-identical to Google's for the same features and logits
(tests/test_squad_postprocess.py checks that against the real script).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bertkit.fsutil import write_text_atomic
from bertkit.tokenization.reference import basic_tokenize

N_BEST_SIZE = 20
MAX_ANSWER_LENGTH = 30


class SquadExampleLike(Protocol):
    qas_id: str
    doc_tokens: Sequence[str]
    # Character doc tokens (CMRC/DRCD) also carry ``context`` and ``token_starts``; see
    # `original_text`. Google-style examples may lack both.


class SquadFeatureLike(Protocol):
    unique_id: int
    example_index: int
    tokens: Sequence[str]
    token_to_orig_map: Mapping[int, int]
    token_is_max_context: Mapping[int, bool]


@dataclass(frozen=True)
class SpanLogits:
    """The model's output for one feature (one doc span), as Python floats."""

    start_logits: Sequence[float]
    end_logits: Sequence[float]


@dataclass(frozen=True)
class PostprocessOptions:
    n_best_size: int = N_BEST_SIZE
    max_answer_length: int = MAX_ANSWER_LENGTH
    do_lower_case: bool = True
    version_2_with_negative: bool = False
    null_score_diff_threshold: float = 0.0


@dataclass
class SquadPredictions:
    """qid -> answer text, qid -> n-best list, and (v2) qid -> null score difference."""

    answers: dict[str, str] = field(default_factory=dict)
    nbest: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    null_odds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Candidate:
    feature_index: int
    start_index: int
    end_index: int
    start_logit: float
    end_logit: float


def best_indexes(logits: Sequence[float], n_best_size: int) -> list[int]:
    """Indices of the ``n_best_size`` largest logits; ties keep position order (stable sort)."""
    ranked = sorted(range(len(logits)), key=lambda i: logits[i], reverse=True)
    return ranked[:n_best_size]


def softmax(scores: Sequence[float]) -> list[float]:
    """Plain-float softmax, summed in list order so the floats match Google's exactly."""
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = 0.0
    for value in exps:
        total += value
    return [value / total for value in exps]


def _without_spaces(text: str) -> tuple[str, dict[int, int]]:
    """The text with spaces removed, and for each kept char its index in ``text``."""
    kept: list[str] = []
    position_of: dict[int, int] = {}
    for index, char in enumerate(text):
        if char == " ":
            continue
        position_of[len(kept)] = index
        kept.append(char)
    return "".join(kept), position_of


def get_final_text(pred_text: str, orig_text: str, do_lower_case: bool) -> str:
    """Map the normalised predicted text back onto the original characters.

    The prediction was built from WordPiece tokens (lower-cased, accents stripped,
    punctuation split), so it can't be shown as is. Tokenizing ``orig_text`` the
    same way and assuming a 1:1 char alignment once spaces are removed recovers the
    original substring; whenever that assumption fails, ``orig_text`` is returned.
    """
    tok_text = " ".join(basic_tokenize(orig_text, do_lower_case))
    start = tok_text.find(pred_text)
    if start == -1:
        return orig_text
    end = start + len(pred_text) - 1

    orig_ns, orig_ns_to_s = _without_spaces(orig_text)
    tok_ns, tok_ns_to_s = _without_spaces(tok_text)
    if len(orig_ns) != len(tok_ns):
        return orig_text
    tok_s_to_ns = {spaced: plain for plain, spaced in tok_ns_to_s.items()}

    def to_orig(tok_position: int) -> int | None:
        plain = tok_s_to_ns.get(tok_position)
        return None if plain is None else orig_ns_to_s.get(plain)

    orig_start, orig_end = to_orig(start), to_orig(end)
    if orig_start is None or orig_end is None:
        return orig_text
    return orig_text[orig_start : orig_end + 1]


def original_text(example: SquadExampleLike, first: int, last: int) -> str:
    """The original text of doc tokens ``first..last``.

    Google joins whitespace doc tokens with single spaces. Character doc tokens (CMRC
    baseline) are exact substrings of the context at known offsets, so the text is the
    context between them: Chinese characters are not spaced out and any original spacing
    between Latin words is kept, and `get_final_text` then narrows it to a substring.
    """
    context = getattr(example, "context", None)
    if context is None:
        return " ".join(example.doc_tokens[first : last + 1])
    starts = example.token_starts  # type: ignore[attr-defined]
    return context[starts[first] : starts[last] + len(example.doc_tokens[last])]


def detokenize_pieces(pieces: Sequence[str]) -> str:
    """Word pieces joined back into text: ``##`` continuations glued, whitespace collapsed."""
    text = " ".join(pieces).replace(" ##", "").replace("##", "")
    return " ".join(text.strip().split())


def compute_predictions(
    examples: Sequence[SquadExampleLike],
    features: Sequence[SquadFeatureLike],
    results: Mapping[int, SpanLogits],
    options: PostprocessOptions = PostprocessOptions(),
) -> SquadPredictions:
    """Answers for every example from the logits of its features (keyed by unique_id)."""
    features_of: dict[int, list[SquadFeatureLike]] = defaultdict(list)
    for feature in features:
        features_of[feature.example_index].append(feature)

    out = SquadPredictions()
    v2 = options.version_2_with_negative
    for example_index, example in enumerate(examples):
        example_features = features_of[example_index]
        candidates: list[_Candidate] = []
        # v2: the null score is the *smallest* [CLS] score over the example's spans.
        score_null = 1000000.0
        null_feature, null_start, null_end = 0, 0.0, 0.0
        for feature_index, feature in enumerate(example_features):
            result = results[feature.unique_id]
            if v2:
                feature_null = result.start_logits[0] + result.end_logits[0]
                if feature_null < score_null:
                    score_null = feature_null
                    null_feature = feature_index
                    null_start, null_end = result.start_logits[0], result.end_logits[0]
            candidates.extend(_span_candidates(feature_index, feature, result, options))
        if v2:
            candidates.append(_Candidate(null_feature, 0, 0, null_start, null_end))
        candidates.sort(key=lambda c: c.start_logit + c.end_logit, reverse=True)

        nbest = _nbest(candidates, example, example_features, options)
        if v2 and not any(text == "" for text, _, _ in nbest):
            nbest.append(("", null_start, null_end))
        if not nbest:  # no valid span at all: Google's placeholder keeps the files well-formed
            nbest.append(("empty", 0.0, 0.0))

        probabilities = softmax([start + end for _, start, end in nbest])
        out.nbest[example.qas_id] = [
            {"text": text, "probability": probability, "start_logit": start, "end_logit": end}
            for (text, start, end), probability in zip(nbest, probabilities)
        ]
        if not v2:
            out.answers[example.qas_id] = nbest[0][0]
            continue
        best_non_null = next((entry for entry in nbest if entry[0]), None)
        if best_non_null is None:
            # Google would crash here (only the null answer survived); answer null instead.
            out.null_odds[example.qas_id] = score_null
            out.answers[example.qas_id] = ""
            continue
        score_diff = score_null - best_non_null[1] - best_non_null[2]
        out.null_odds[example.qas_id] = score_diff
        answer_null = score_diff > options.null_score_diff_threshold
        out.answers[example.qas_id] = "" if answer_null else best_non_null[0]
    return out


def _span_candidates(
    feature_index: int, feature: SquadFeatureLike, result: SpanLogits,
    options: PostprocessOptions,
) -> list[_Candidate]:
    """Valid (start, end) pairs among the top start and end positions of one feature."""
    found = []
    num_tokens = len(feature.tokens)
    ends = best_indexes(result.end_logits, options.n_best_size)
    for start in best_indexes(result.start_logits, options.n_best_size):
        for end in ends:
            # Spans in the question, special tokens or padding have no original text.
            if start >= num_tokens or end >= num_tokens:
                continue
            if start not in feature.token_to_orig_map or end not in feature.token_to_orig_map:
                continue
            # A token is scored only in the window where it has the most context.
            if not feature.token_is_max_context.get(start, False):
                continue
            if end < start or end - start + 1 > options.max_answer_length:
                continue
            found.append(_Candidate(feature_index, start, end,
                                    result.start_logits[start], result.end_logits[end]))
    return found


def _nbest(
    candidates: Sequence[_Candidate], example: SquadExampleLike,
    features: Sequence[SquadFeatureLike], options: PostprocessOptions,
) -> list[tuple[str, float, float]]:
    """Up to n_best_size (text, start_logit, end_logit), best first, texts de-duplicated."""
    seen: set[str] = set()
    nbest: list[tuple[str, float, float]] = []
    for candidate in candidates:
        if len(nbest) >= options.n_best_size:
            break
        if candidate.start_index > 0:
            feature = features[candidate.feature_index]
            pieces = feature.tokens[candidate.start_index : candidate.end_index + 1]
            first = feature.token_to_orig_map[candidate.start_index]
            last = feature.token_to_orig_map[candidate.end_index]
            orig_text = original_text(example, first, last)
            text = get_final_text(detokenize_pieces(pieces), orig_text, options.do_lower_case)
            if text in seen:
                continue
        else:
            text = ""
        seen.add(text)
        nbest.append((text, candidate.start_logit, candidate.end_logit))
    return nbest


def _google_json(obj: object) -> str:
    # Google writes json.dumps(indent=4) with ASCII escapes, plus a newline.
    return json.dumps(obj, indent=4) + "\n"


def write_predictions(predictions: SquadPredictions, output_dir: str | Path,
                      version_2_with_negative: bool) -> list[Path]:
    """predictions.json, nbest_predictions.json and (v2) null_odds.json; returns the paths."""
    output_dir = Path(output_dir)
    written = [
        write_text_atomic(output_dir / "predictions.json", _google_json(predictions.answers)),
        write_text_atomic(output_dir / "nbest_predictions.json", _google_json(predictions.nbest)),
    ]
    if version_2_with_negative:
        written.append(
            write_text_atomic(output_dir / "null_odds.json", _google_json(predictions.null_odds)))
    return written
