"""GLUE and TNEWS label scoring on the real gold files, with sklearn/scipy as oracles for
the metrics (test-only imports; bertkit implements them with numpy)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import scipy.stats as scipy_stats  # oracles: conftest stops the run when one is missing
import sklearn.metrics as sklearn_metrics
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.errors import InputError
from bertkit.evaluate import classification, evaluate


def _gold_rows(path: Path, label_column: int, header: bool) -> list[str]:
    rows = path.read_text(encoding="utf-8-sig").splitlines()
    return [row.split("\t")[label_column] for row in (rows[1:] if header else rows) if row]


def _flip(labels: list[str], choices: list[str], seed: int, rate: float = 0.2) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(choices) if rng.random() < rate else label for label in labels]


def _write_submission(path: Path, labels: list[str]) -> Path:
    path.write_text("index\tprediction\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(labels)))
    return path


def test_cola_mcc_and_accuracy_match_sklearn(shared_data: Path, tmp_path: Path) -> None:
    gold_path = shared_data / "glue" / "CoLA" / "dev.tsv"
    gold = _gold_rows(gold_path, 1, header=False)
    assert len(gold) == 1043
    predicted = _flip(gold, ["0", "1"], seed=1)
    result = evaluate(_write_submission(tmp_path / "CoLA.tsv", predicted), gold_path)
    assert result["task"] == "glue-cola"  # detected from the gold folder name
    assert result["mcc"] == pytest.approx(sklearn_metrics.matthews_corrcoef(gold, predicted),
                                          abs=1e-12)
    assert result["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(gold, predicted))


def test_mrpc_f1_from_json_lines(shared_data: Path, tmp_path: Path) -> None:
    gold_path = shared_data / "glue" / "MRPC" / "dev.tsv"
    gold = _gold_rows(gold_path, 0, header=True)
    assert len(gold) == 408
    predicted = _flip(gold, ["0", "1"], seed=2)
    lines = tmp_path / "mrpc.jsonl"
    lines.write_text("".join(json.dumps({"idx": i, "label": int(v)}) + "\n"
                             for i, v in enumerate(predicted)))
    result = evaluate(lines, gold_path.parent, task="glue-mrpc")
    assert result["f1"] == pytest.approx(
        sklearn_metrics.f1_score(gold, predicted, pos_label="1"), abs=1e-12)
    assert result["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(gold, predicted))


def test_stsb_correlations_match_scipy(shared_data: Path, tmp_path: Path) -> None:
    gold_path = shared_data / "glue" / "STS-B" / "dev.tsv"
    rows = gold_path.read_text(encoding="utf-8").splitlines()[1:]
    ids = [row.split("\t")[0] for row in rows]
    gold = [float(row.split("\t")[-1]) for row in rows]
    rng = random.Random(3)
    # Rounded noise keeps many ties, which is where Spearman's average ranks matter.
    predicted = [round(min(5.0, max(0.0, g + rng.gauss(0, 0.8))), 1) for g in gold]
    path = tmp_path / "STS-B.tsv"
    path.write_text("index\tprediction\n" + "".join(f"{i}\t{p}\n" for i, p in zip(ids, predicted)))
    result = evaluate(path, gold_path)
    assert result["task"] == "glue-sts-b"
    assert result["pearson"] == pytest.approx(scipy_stats.pearsonr(gold, predicted)[0], abs=1e-12)
    assert result["spearman"] == pytest.approx(scipy_stats.spearmanr(gold, predicted)[0],
                                               abs=1e-12)


@pytest.mark.parametrize("folder, label_column", [("RTE", 3), ("QNLI", 3), ("WNLI", 3),
                                                  ("SST-2", 1)])
def test_text_and_numeric_label_tasks_accuracy(shared_data: Path, tmp_path: Path, folder: str,
                                              label_column: int) -> None:
    gold_path = shared_data / "glue" / folder / "dev.tsv"
    gold = _gold_rows(gold_path, label_column, header=True)
    predicted = _flip(gold, sorted(set(gold)), seed=4)
    result = evaluate(_write_submission(tmp_path / "p.tsv", predicted), gold_path)
    assert result["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(gold, predicted))
    assert result["examples"] == len(gold)


def test_tnews_accuracy_macro_f1_and_confusion(shared_data: Path, tmp_path: Path) -> None:
    gold_path = shared_data / "tnews" / "dev.json"
    gold = [json.loads(line)["label"] for line in gold_path.read_text(encoding="utf-8").splitlines()]
    labels = sorted(set(gold))
    predicted = _flip(gold, labels, seed=5, rate=0.3)
    path = tmp_path / "tnews_predict.json"
    path.write_text("".join(json.dumps({"id": i, "label": v, "label_desc": ""}) + "\n"
                            for i, v in enumerate(predicted)))
    result = evaluate(path, gold_path)
    assert result["task"] == "tnews"
    assert result["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(gold, predicted))
    assert result["macro_f1"] == pytest.approx(
        sklearn_metrics.f1_score(gold, predicted, average="macro"), abs=1e-12)
    matrix = result["confusion_matrix"]
    assert matrix["labels"] == labels
    assert matrix["counts"] == sklearn_metrics.confusion_matrix(gold, predicted,
                                                                labels=labels).tolist()


def test_mnli_matched_and_mismatched(tmp_path: Path) -> None:
    gold_dir, pred_dir = tmp_path / "MNLI", tmp_path / "submission"
    gold_dir.mkdir()
    pred_dir.mkdir()
    header = "index\tsentence1\tsentence2\tgold_label\n"
    (gold_dir / "dev_matched.tsv").write_text(
        header + "0\ta\tb\tentailment\n1\tc\td\tneutral\n")
    (gold_dir / "dev_mismatched.tsv").write_text(
        header + "0\ta\tb\tcontradiction\n1\tc\td\tneutral\n2\te\tf\tneutral\n")
    (pred_dir / "MNLI-m.tsv").write_text("index\tprediction\n0\tentailment\n1\tentailment\n")
    (pred_dir / "MNLI-mm.tsv").write_text(
        "index\tprediction\n0\tcontradiction\n1\tneutral\n2\tneutral\n")
    result = evaluate(pred_dir, gold_dir)
    assert result["task"] == "glue-mnli"
    assert result["accuracy_matched"] == 0.5 and result["accuracy_mismatched"] == 1.0
    assert set(result["splits"]) == {"matched", "mismatched"}


def test_unknown_ids_are_counted_and_missing_ids_listed(shared_data: Path, tmp_path: Path) -> None:
    gold_path = shared_data / "glue" / "WNLI" / "dev.tsv"
    gold = _gold_rows(gold_path, 3, header=True)
    path = tmp_path / "p.tsv"
    path.write_text("index\tprediction\n" + "".join(f"{i}\t{v}\n" for i, v in
                                                     enumerate(gold[:-1])) + "999\t1\n")
    result = evaluate(path, gold_path)
    assert result["unknown_ids"] == ["999"] and result["missing_ids"] == [str(len(gold) - 1)]
    # The missing example counts as wrong (issue 11: it used to be left out, giving 1.0).
    assert result["accuracy"] == (len(gold) - 1) / len(gold) and len(result["warnings"]) == 2
    assert (result["missing_count"], result["unknown_count"]) == (1, 1)


def test_labels_unrelated_to_gold_are_an_error(shared_data: Path, tmp_path: Path) -> None:
    gold_path = shared_data / "glue" / "RTE" / "dev.tsv"
    path = _write_submission(tmp_path / "p.tsv", ["0", "1"] * 5)
    with pytest.raises(InputError, match="share nothing with the gold labels"):
        evaluate(path, gold_path)


def test_unlabelled_test_split_is_an_error(shared_data: Path, tmp_path: Path) -> None:
    path = _write_submission(tmp_path / "p.tsv", ["1"] * 3)
    with pytest.raises(InputError, match="no label column"):
        evaluate(path, shared_data / "glue" / "SST-2" / "test.tsv")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1,
                max_size=40))
def test_metrics_match_sklearn_on_generated_labels(pairs: list[tuple[str, str]]) -> None:
    gold = [g for g, _ in pairs]
    predicted = [p for _, p in pairs]
    assert classification.matthews_corrcoef(gold, predicted) == pytest.approx(
        sklearn_metrics.matthews_corrcoef(gold, predicted), abs=1e-12)
    assert classification.macro_f1(gold, predicted) == pytest.approx(
        sklearn_metrics.f1_score(gold, predicted, average="macro", zero_division=0), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=3, max_size=40))
def test_correlations_match_scipy_with_ties(pairs: list[tuple[int, int]]) -> None:
    x = [float(a) for a, _ in pairs]
    y = [float(b) for _, b in pairs]
    if len(set(x)) < 2 or len(set(y)) < 2:
        return  # undefined for constant input (nan on both sides)
    assert classification.spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y)[0],
                                                           abs=1e-9)
    assert classification.pearson(x, y) == pytest.approx(scipy_stats.pearsonr(x, y)[0], abs=1e-9)
