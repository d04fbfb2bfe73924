"""SQuAD post-processing against Google's `run_squad.write_predictions` on real dev data.

Both sides get the same examples and features (made by Google's converter from a slice
of the real dev sets) and the same random logits; the three files must be byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, UNCASED_VOCAB

from bertkit.train.squad_postprocess import (
    PostprocessOptions,
    SpanLogits,
    compute_predictions,
    get_final_text,
    softmax,
    write_predictions,
)

V1_DEV = SHARED_DATA / "squad_v1.1" / "dev-v1.1.json"
V2_DEV = SHARED_DATA / "squad_v2.0" / "cs224n-dev-v2.0.json"


@pytest.fixture(scope="module")
def run_squad():
    from google_oracle import google_run_squad

    return google_run_squad()


def _slice_of(source: Path, articles: int, paragraphs: int, tmp_path: Path) -> Path:
    data = json.loads(source.read_text(encoding="utf-8"))
    data["data"] = [dict(a, paragraphs=a["paragraphs"][:paragraphs])
                    for a in data["data"][:articles]]
    path = tmp_path / source.name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _google_features(run_squad, path: Path, v2: bool, max_seq_length: int = 96,
                     doc_stride: int = 32, max_query_length: int = 24):
    """Examples and eval features exactly as Google's predict path builds them."""
    from google_oracle import google_tokenization

    flags = run_squad.FLAGS
    old = flags.version_2_with_negative
    flags.version_2_with_negative = v2
    try:
        examples = run_squad.read_squad_examples(str(path), is_training=False)
    finally:
        flags.version_2_with_negative = old
    tokenizer = google_tokenization().FullTokenizer(str(UNCASED_VOCAB), do_lower_case=True)
    features = []
    # Short windows with a small stride: many questions span several windows, so the
    # max-context filter and the cross-window null score are exercised.
    run_squad.convert_examples_to_features(
        examples, tokenizer, max_seq_length=max_seq_length, doc_stride=doc_stride,
        max_query_length=max_query_length, is_training=False, output_fn=features.append)
    return examples, features


def _random_logits(features, seed: int, quantum: float | None, length: int = 96,
                   context_bias: float = 0.0) -> dict[int, SpanLogits]:
    rng = np.random.default_rng(seed)
    results = {}
    for feature in features:
        logits = rng.normal(0.0, 3.0, size=(2, length)).astype(np.float32)
        # Like a trained model, favour paragraph tokens: otherwise some question may end up
        # with only the null answer, where Google's v2 code crashes (best_non_null is None).
        logits[:, sorted(feature.token_to_orig_map)] += context_bias
        # A strong [CLS] score on some windows makes the null answer win for some questions.
        logits[:, 0] += rng.choice([0.0, 12.0])
        if quantum:  # coarse values make ties, which the stable sort must break like Google
            logits = (np.round(logits / quantum) * quantum).astype(np.float32)
        results[feature.unique_id] = SpanLogits(logits[0].tolist(), logits[1].tolist())
    return results


def _google_files(run_squad, examples, features, results, out: Path, v2: bool,
                  threshold: float) -> None:
    flags = run_squad.FLAGS
    saved = (flags.version_2_with_negative, flags.null_score_diff_threshold)
    flags.version_2_with_negative, flags.null_score_diff_threshold = v2, threshold
    try:
        raw = [run_squad.RawResult(unique_id=uid, start_logits=list(r.start_logits),
                                   end_logits=list(r.end_logits)) for uid, r in results.items()]
        out.mkdir(parents=True)
        run_squad.write_predictions(
            examples, features, raw, 20, 30, True, str(out / "predictions.json"),
            str(out / "nbest_predictions.json"), str(out / "null_odds.json"))
    finally:
        flags.version_2_with_negative, flags.null_score_diff_threshold = saved


@pytest.mark.parametrize(
    ("dataset", "v2", "quantum", "threshold"),
    [("v1", False, None, 0.0), ("v1", False, 0.5, 0.0),
     ("v2", True, None, 0.0), ("v2", True, 0.5, -1.5)],
)
def test_files_match_google_write_predictions(run_squad, shared_data, tmp_path, dataset, v2,
                                              quantum, threshold):
    source = V1_DEV if dataset == "v1" else V2_DEV
    path = _slice_of(source, articles=2, paragraphs=4, tmp_path=tmp_path)
    examples, features = _google_features(run_squad, path, v2)
    assert len(features) > len(examples)  # several windows per question somewhere
    results = _random_logits(features, seed=7, quantum=quantum)

    _google_files(run_squad, examples, features, results, tmp_path / "google", v2, threshold)
    ours = compute_predictions(examples, features, results, PostprocessOptions(
        do_lower_case=True, version_2_with_negative=v2, null_score_diff_threshold=threshold))
    written = write_predictions(ours, tmp_path / "ours", v2)

    names = ["predictions.json", "nbest_predictions.json"] + (["null_odds.json"] if v2 else [])
    assert sorted(p.name for p in written) == sorted(names)
    for name in names:
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "google" / name).read_bytes()
    if v2:  # the threshold really decided something: both empty and non-empty answers occur
        answers = json.loads((tmp_path / "ours" / "predictions.json").read_text())
        assert "" in answers.values() and any(answers.values())


def test_get_final_text_matches_google_on_hard_cases(run_squad):
    cases = [
        ("steve smith", "Steve Smith's", True),
        ("la", "(La Fontaine)", True),
        ("1,000", "1,000-year", True),
        ("cafe", "Café", True),
        ("café", "Café", False),
        ("nowhere", "Steve Smith's", True),
        ("jean - paul", "Jean-Paul", True),
    ]
    for pred, orig, lower in cases:
        assert get_final_text(pred, orig, lower) == run_squad.get_final_text(pred, orig, lower)


def test_softmax_matches_google(run_squad):
    scores = [3.5, -1.25, 0.0, 3.5, 10.0]
    assert softmax(scores) == run_squad._compute_softmax(scores)
    assert softmax([]) == []


@pytest.mark.oracle
@pytest.mark.parametrize(("source", "v2"), [(V1_DEV, False), (V2_DEV, True)],
                         ids=["v1.1-dev", "v2.0-dev"])
def test_full_dev_sets_match_google(run_squad, shared_data, tmp_path, source, v2):
    """Every question of the real dev sets, Google's default window settings."""
    examples, features = _google_features(run_squad, source, v2, 384, 128, 64)
    results = _random_logits(features, seed=3, quantum=None, length=384, context_bias=6.0)
    _google_files(run_squad, examples, features, results, tmp_path / "google", v2, -1.0)
    ours = compute_predictions(examples, features, results, PostprocessOptions(
        version_2_with_negative=v2, null_score_diff_threshold=-1.0))
    write_predictions(ours, tmp_path / "ours", v2)
    for name in ["predictions.json", "nbest_predictions.json"] + (["null_odds.json"] if v2 else []):
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "google" / name).read_bytes()


def test_v2_question_with_only_the_null_answer_is_answered_null():
    """Google's code crashes here (no non-null entry); we answer "" with the null score."""
    from types import SimpleNamespace

    example = SimpleNamespace(qas_id="q1", doc_tokens=["Paris"])
    # Only position 3 maps to the paragraph, and it is not max-context in this window.
    feature = SimpleNamespace(unique_id=7, example_index=0, tokens=["[CLS]", "a", "[SEP]", "paris"],
                              token_to_orig_map={3: 0}, token_is_max_context={3: False})
    logits = SpanLogits([2.0, 0.0, 0.0, 5.0], [1.5, 0.0, 0.0, 5.0])
    out = compute_predictions([example], [feature], {7: logits},
                              PostprocessOptions(version_2_with_negative=True))
    assert out.answers == {"q1": ""}
    assert out.null_odds == {"q1": 3.5}
    assert out.nbest["q1"] == [{"text": "", "probability": 1.0, "start_logit": 2.0,
                                "end_logit": 1.5}]
