"""`bertkit submit`: CLUE and GLUE leaderboard files (reference-formats J), their names,
order and schema, refusals, and a round trip through bertkit's own scorers."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.errors import InputError
from bertkit.evaluate import evaluate
from bertkit.submission import (
    TNEWS_LABELS,
    cluener_submission,
    cmrc_submission,
    glue_submission,
    tnews_submission,
)

runner = CliRunner()


def submit(*args: str) -> object:
    return runner.invoke(app, ["submit", *args])


def test_clue_files_for_cluener_test_and_tnews(shared_data: Path, tmp_path: Path) -> None:
    test = shared_data / "cluener2020" / "test.json"
    tests = [json.loads(line) for line in test.read_text(encoding="utf-8").splitlines()]
    assert len(tests) == 1345
    # Predictions as bertkit predict writes them: the first two characters of every
    # sentence as a "name", spans end-inclusive.
    cluener = tmp_path / "cluener.json"
    cluener.write_text("".join(json.dumps(
        {"id": t["id"], "label": {"name": {t["text"][:2]: [[0, 1]]}}}, ensure_ascii=False) + "\n"
        for t in tests), encoding="utf-8")
    # TNEWS: dev with its labels removed stands in for the (unpublished) test labels.
    dev = [json.loads(line) for line in
           (shared_data / "tnews" / "dev.json").read_text(encoding="utf-8").splitlines()]
    tnews_test = tmp_path / "tnews_test.json"
    tnews_test.write_text("".join(json.dumps({k: v for k, v in d.items()
                                              if k not in ("label", "label_desc")},
                                             ensure_ascii=False) + "\n" for d in dev),
                          encoding="utf-8")
    tnews = tmp_path / "predictions.tsv"
    tnews.write_text("index\tprediction\n" + "".join(
        f"{i}\t{d['label']}\n" for i, d in enumerate(dev)), encoding="utf-8")

    result = submit("-o", str(tmp_path / "out"), "--cluener", str(cluener), "--cluener-test",
                    str(test), "--tnews", str(tnews), "--tnews-test", str(tnews_test),
                    "--name", "team", "--date", "20261205")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    with zipfile.ZipFile(out / "submit_team_20261205.zip") as archive:
        assert sorted(archive.namelist()) == ["cluener_predict.json", "tnews11_predict.json"]
    lines = [json.loads(x) for x in (out / "cluener_predict.json").read_text("utf-8").splitlines()]
    assert [line["id"] for line in lines] == [t["id"] for t in tests]
    assert all(set(line) == {"id", "label"} for line in lines)
    first = lines[0]["label"]["name"]
    assert list(first.values()) == [[[0, 1]]] and list(first) == [tests[0]["text"][:2]]
    tnews_lines = [json.loads(x) for x in
                   (out / "tnews11_predict.json").read_text("utf-8").splitlines()]
    assert [line["id"] for line in tnews_lines] == list(range(len(dev)))
    assert [line["label"] for line in tnews_lines] == [d["label"] for d in dev]
    assert {line["label"] for line in tnews_lines} <= set(TNEWS_LABELS)


def test_tnews_version_1_0_name(shared_data: Path, tmp_path: Path) -> None:
    test = tmp_path / "test.json"
    test.write_text('{"id": 7, "sentence": "一"}\n{"id": 9, "sentence": "二"}\n', "utf-8")
    predictions = tmp_path / "p.tsv"
    predictions.write_text("index\tprediction\n0\t100\n1\t116\n", "utf-8")
    made = tnews_submission(predictions, test, "1.0")
    assert made.name == "tnews10_predict.json"
    assert made.text == '{"id": 7, "label": "100"}\n{"id": 9, "label": "116"}\n'


def test_refusals_name_the_problem(shared_data: Path, tmp_path: Path) -> None:
    test = tmp_path / "test.json"
    test.write_text('{"id": 0, "text": "北京"}\n{"id": 1, "text": "上海"}\n', "utf-8")
    cluener_refusals = {
        "short.json": ('{"id": 0, "label": {}}\n', "1 predictions for 2 lines"),
        "wrong.json": ('{"id": 0, "label": {}}\n{"id": 5, "label": {}}\n', "id 5"),
        # an end-exclusive span is not CLUENER's schema
        "exclusive.json": ('{"label": {"address": {"北京": [[0, 2]]}}}\n{"label": {}}\n',
                           "not that text"),
    }
    for name, (content, problem) in cluener_refusals.items():
        (tmp_path / name).write_text(content, "utf-8")
        with pytest.raises(InputError, match=problem):
            cluener_submission(tmp_path / name, test)
    short = tmp_path / "short.json"
    tsv = tmp_path / "p.tsv"
    tsv.write_text("index\tprediction\n0\t105\n1\t100\n", "utf-8")
    with pytest.raises(InputError, match="not TNEWS labels"):
        tnews_submission(tsv, test)
    result = submit("-o", str(tmp_path / "o"), "--tnews", str(tsv))
    assert result.exit_code == 2
    result = submit("-o", str(tmp_path / "o"), "--cluener", str(short), "--cluener-test",
                    str(test))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_cluener_round_trip_scores_like_bertkit_eval(shared_data: Path, tmp_path: Path) -> None:
    """Dev through the submission path: the CLUENER scorer reads cluener_predict.json back
    and gives the same F1 as `bertkit eval` on the original predictions."""
    dev = shared_data / "cluener2020" / "dev.json"
    baseline = shared_data / "cluener2020" / "baseline_predictions" / "ner_predict_dev.json"
    made = cluener_submission(baseline, dev)
    path = tmp_path / made.name
    path.write_text(made.text, encoding="utf-8")
    direct = evaluate(baseline, dev, task="cluener")
    through = evaluate(path, dev, task="cluener")
    assert direct["macro_f1"] > 0.5
    direct.pop("predictions"), through.pop("predictions")
    assert through == direct  # every per-type and overall figure


def test_cmrc_file_has_exactly_the_test_questions(shared_data: Path, tmp_path: Path) -> None:
    test = shared_data / "drcd" / "DRCD_test.json"
    document = json.loads(test.read_text(encoding="utf-8"))
    qids = [qa["id"] for a in document["data"] for p in a["paragraphs"] for qa in p["qas"]]
    predictions = {qid: "答案" for qid in reversed(qids)}
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions), encoding="utf-8")
    made = cmrc_submission(path, test)
    assert made.name == "cmrc2018_predict.json"
    assert list(json.loads(made.text)) == qids  # test order, one object
    predictions.pop(qids[3])
    path.write_text(json.dumps(predictions), encoding="utf-8")
    with pytest.raises(InputError, match="1 missing"):
        cmrc_submission(path, test)


def test_glue_files(shared_data: Path, tmp_path: Path) -> None:
    glue = shared_data / "glue"
    rows = (glue / "RTE" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]
    rte = tmp_path / "rte.tsv"
    rte.write_text("index\tprediction\n" + "".join(
        f"{i}\t{'entailment' if i % 2 else 'not_entailment'}\n" for i in range(len(rows))), "utf-8")
    sts_rows = (glue / "STS-B" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]
    sts = tmp_path / "sts.tsv"
    sts.write_text("index\tprediction\n" + "".join(f"{i}\t{i % 5}.25\n"
                                                   for i in range(len(sts_rows))), "utf-8")
    result = submit("-o", str(tmp_path / "out"), "--glue-dir", str(glue), f"rte={rte}",
                    f"sts-b={sts}", "--name", "x", "--date", "20260101")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "out" / "submit_x_20260101.zip") as archive:
        assert sorted(archive.namelist()) == ["RTE.tsv", "STS-B.tsv"]  # no folder inside
    written = (tmp_path / "out" / "RTE.tsv").read_text(encoding="utf-8").splitlines()
    assert written[0] == "index\tprediction"
    assert [line.split("\t")[0] for line in written[1:]] == [r.split("\t")[0] for r in rows]
    assert written[1].split("\t")[1] == "not_entailment"
    bad = tmp_path / "bad.tsv"
    bad.write_text("index\tprediction\n" + "".join(f"{i}\t1\n" for i in range(len(rows))), "utf-8")
    with pytest.raises(InputError, match="rte predictions are one of"):
        glue_submission("rte", bad, glue / "RTE" / "test.tsv")


def test_tnews_labels_come_from_the_data_not_the_file_name(shared_data: Path, chinese_vocab: Path,
                                                           tmp_path: Path) -> None:
    dev = (shared_data / "tnews" / "dev.json").read_text(encoding="utf-8").splitlines()[:40]
    unlabelled = tmp_path / "stand_in.json"  # no split in the name: --split dev
    unlabelled.write_text("".join(json.dumps({k: v for k, v in json.loads(line).items()
                                              if k not in ("label", "label_desc")},
                                             ensure_ascii=False) + "\n" for line in dev), "utf-8")
    labelled = tmp_path / "test.json"  # named test, but it carries labels
    labelled.write_text("\n".join(dev) + "\n", encoding="utf-8")
    for path, split, expected in ((unlabelled, "dev", None), (labelled, None, 40)):
        args = ["prep", "tnews", str(path), "--vocab", str(chinese_vocab), "-o",
                str(tmp_path / path.stem), "--json"] + (["--split", split] if split else [])
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        counts = json.loads(result.stdout)["counts"]
        labels = next(iter(counts.values()))["labels"]
        assert (None if labels is None else sum(labels.values())) == expected


def test_qqp_test_file_with_an_id_column_makes_a_submission(tmp_path: Path) -> None:
    # GLUE's QQP test.tsv names its first column "id", not "index" (as the scorer and prep
    # already accept); its submission keeps those ids in order.
    test = tmp_path / "test.tsv"
    test.write_text("id\tquestion1\tquestion2\n"
                    "0\tHow do I learn?\tHow can I learn?\n"
                    "1\tWhat is BERT?\tWho made BERT?\n", encoding="utf-8")
    predictions = tmp_path / "qqp.tsv"
    predictions.write_text("index\tprediction\n0\t1\n1\t0\n", encoding="utf-8")
    written = glue_submission("qqp", predictions, test)
    assert written.text.splitlines() == ["index\tprediction", "0\t1", "1\t0"]
