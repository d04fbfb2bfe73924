"""The eval contract (issue 16): prep records `"eval": {"scorer", "gold", "format"}` in every
manifest, predict copies it into eval_meta.json instead of guessing from prep's command, and
`bertkit eval` scores with it; detection is left for files bertkit did not write.

Also here: the benchmarks' task and label lists defined once, and a perfect ChineseNER
prediction scoring 1.0 although the labels are IOBES and the gold file is BIO.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from eval_support import error_line, run_eval
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.evaluate import benchmarks
from bertkit.evaluate.contract import EvalContract, contract_for_split

runner = CliRunner()


def _prep(*args: str) -> dict:
    result = runner.invoke(app, ["prep", *args, "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _head_lines(source: Path, count: int, target: Path) -> Path:
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)[:count]
    target.write_text("".join(lines), encoding="utf-8")
    return target


def _first_article(source: Path, target: Path) -> Path:
    document = json.loads(source.read_text(encoding="utf-8"))
    document["data"] = document["data"][:1]
    target.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return target


# --- prep writes the contract ------------------------------------------------------------

def test_every_converter_records_scorer_gold_and_format(shared_data: Path, uncased_vocab: Path,
                                                        chinese_vocab: Path,
                                                        tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    squad1 = _first_article(shared_data / "squad_v1.1" / "dev-v1.1.json", raw / "dev-v1.1.json")
    squad2 = _first_article(shared_data / "squad_v2.0" / "cs224n-dev-v2.0.json",
                            raw / "dev-v2.0.json")
    cmrc = _first_article(shared_data / "cmrc2018" / "cmrc2018_dev.json", raw / "cmrc.json")
    drcd = _first_article(shared_data / "drcd" / "DRCD_dev.json", raw / "drcd.json")
    cluener = _head_lines(shared_data / "cluener2020" / "dev.json", 30, raw / "dev.json")
    tnews = _head_lines(shared_data / "tnews" / "dev.json", 30, raw / "tnews_dev.json")
    chinesener = _head_lines(shared_data / "chinese_ner" / "example.dev", 400,
                             raw / "example.dev")
    mrpc = shared_data / "glue" / "MRPC" / "dev.tsv"
    runs = {
        "squad1": (["squad", str(squad1), "--split", "eval", "--vocab", str(uncased_vocab)],
                   ("squad", {"eval": squad1}, "squad-json")),
        "squad2": (["squad", str(squad2), "--split", "eval", "--version-2-with-negative",
                    "--vocab", str(uncased_vocab)], ("squad2", {"eval": squad2}, "squad-json")),
        "cmrc": (["squad", str(cmrc), "--split", "eval", "--vocab", str(chinese_vocab)],
                 ("cmrc", {"eval": cmrc}, "squad-json")),
        "drcd": (["squad", str(drcd), "--split", "eval", "--vocab", str(chinese_vocab)],
                 ("cmrc", {"eval": drcd}, "squad-json")),
        "cluener": (["cluener", str(cluener), "--vocab", str(chinese_vocab)],
                    ("cluener", {"dev": cluener}, "cluener-jsonl")),
        "chinesener": (["chinesener", str(chinesener), "--vocab", str(chinese_vocab)],
                       ("conll", {"dev": chinesener}, "conll-bio")),
        "tnews": (["tnews", str(tnews), "--split", "dev", "--vocab", str(chinese_vocab)],
                  ("tnews", {"dev": tnews}, "tnews-jsonl")),
        "mrpc": (["glue", "MRPC", str(mrpc), "--vocab", str(uncased_vocab)],
                 ("glue-mrpc", {"dev": mrpc}, "glue-tsv")),
    }
    for name, (args, (scorer, gold, gold_format)) in runs.items():
        out = tmp_path / name
        _prep(*args, "-o", str(out))
        block = _manifest(out)["eval"]
        assert block == {"scorer": scorer, "format": gold_format,
                         "gold": {split: str(path.absolute()) for split, path in gold.items()}}
        # The gold is keyed by the records file it belongs to.
        assert all((out / f"{split}.tf_record").is_file() for split in block["gold"])


def test_gold_paths_are_recorded_like_inputs(shared_data: Path, chinese_vocab: Path,
                                             tmp_path: Path, monkeypatch) -> None:
    """Relative input, symlink kept: the same path the manifest's "inputs" record."""
    folder = tmp_path / "data"
    folder.mkdir()
    _head_lines(shared_data / "cluener2020" / "dev.json", 10, folder / "real.json")
    (folder / "dev.json").symlink_to(folder / "real.json")
    monkeypatch.chdir(tmp_path)
    _prep("cluener", "data/dev.json", "--vocab", str(chinese_vocab), "-o", "out")
    manifest = _manifest(tmp_path / "out")
    assert manifest["eval"]["gold"] == {"dev": manifest["inputs"][0]["path"]}
    assert manifest["eval"]["gold"]["dev"] == str(tmp_path / "data" / "dev.json")


def test_contract_for_split_reads_the_block_and_old_manifests_have_none() -> None:
    manifest = {"eval": {"scorer": "glue-mnli", "format": "glue-tsv",
                         "gold": {"dev_matched": "/d/dev_matched.tsv"}}}
    assert contract_for_split(manifest, "dev_matched") == EvalContract(
        "glue-mnli", "/d/dev_matched.tsv", "glue-tsv")
    assert contract_for_split(manifest, "test_matched") == EvalContract(
        "glue-mnli", None, "glue-tsv")
    assert contract_for_split({"command": "prep glue MNLI"}, "dev_matched") is None
    assert contract_for_split({}, "dev") is None


# --- predict copies it; eval uses it ------------------------------------------------------

class _PerfectTagger:
    """A stand-in NER model that predicts every record's own gold label ids (looked up by
    its input ids), so the written predictions are what a perfect model would write."""

    task = "ner"
    training = False

    def __init__(self, records: Path, num_labels: int):
        from bertkit.tfrecord.reader import read_records

        self.num_labels = num_labels
        self.config = SimpleNamespace(vocab_size=30000, type_vocab_size=2,
                                      max_position_embeddings=512)
        self._tags: dict[tuple[int, ...], list[int]] = {}
        for record in read_records(records):
            length = int(sum(record["input_mask"]))
            key = tuple(int(i) for i in record["input_ids"][:length])
            tags = [int(t) for t in record["label_ids"][:length]]
            assert self._tags.setdefault(key, tags) == tags  # no two readings of one input
        self.looked_up = 0

    def decode(self, input_ids, attention_mask=None, token_type_ids=None) -> list[list[int]]:
        rows = []
        for ids, mask in zip(input_ids.tolist(), attention_mask.tolist()):
            rows.append(self._tags[tuple(ids[:sum(mask)])])
        self.looked_up += len(rows)
        return rows

    def eval(self) -> None:
        pass

    def train(self, mode: bool = True) -> None:
        pass


def _predict_perfect(prep: Path, out: Path, eval_name: str = "dev.tf_record"):
    import torch

    from bertkit.train.predict import PredictOptions, predict_with_model

    label2id = json.loads((prep / "label2id.json").read_text(encoding="utf-8"))
    model = _PerfectTagger(prep / eval_name, len(label2id))
    result = predict_with_model(model, PredictOptions(model_dir=prep, eval_file=prep / eval_name,
                                                      output_dir=out, quiet=True),
                                device=torch.device("cpu"))
    assert model.looked_up > 0
    return result


def _fitting_sentences(path: Path, most: int, limit: int) -> str:
    """The first ``limit`` sentences of a ChineseNER file with at most ``most`` characters."""
    blocks = [b for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    return "\n\n".join([b for b in blocks if len(b.splitlines()) <= most][:limit]) + "\n"


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("scheme", ["iobes", "iob2"])
def test_perfect_chinesener_prediction_scores_1(shared_data: Path, chinese_vocab: Path,
                                                tmp_path: Path, scheme: str) -> None:
    """IOBES labels were written as they are against the BIO gold file: token accuracy 0.973
    for a perfect prediction. Both tag columns are now written in the gold file's BIO."""
    dev = tmp_path / "raw" / "example.dev"
    dev.parent.mkdir()
    # Real dev sentences that fit 128 positions (a cut character is predicted O, as it must).
    dev.write_text(_fitting_sentences(shared_data / "chinese_ner" / "example.dev", 126, 400),
                   encoding="utf-8")
    prep = tmp_path / "prep"
    _prep("chinesener", str(dev), "--vocab", str(chinese_vocab), "--scheme", scheme,
          "-o", str(prep))
    out = tmp_path / "eval"
    result = _predict_perfect(prep, out)
    meta = json.loads((out / "eval_meta.json").read_text(encoding="utf-8"))
    assert meta == {"task": "conll", "gold": str(dev), "format": "conll-bio",
                    "predictions": "predictions.txt"}
    assert result.scores["accuracy"] == 1.0 and result.scores["f1"] == 1.0
    written = [line.split() for line in (out / "predictions.txt").read_text("utf-8").splitlines()
               if line]
    gold = [line.split() for line in dev.read_text("utf-8").splitlines() if line]
    assert [row[1] for row in written] == [row[-1] for row in gold]  # the gold's own tags
    assert [row[2] for row in written] == [row[-1] for row in gold]
    if scheme == "iobes":
        assert any(tag.startswith(("E-", "S-")) for tag in
                   json.loads((prep / "label2id.json").read_text(encoding="utf-8")))
    rescored = run_eval(out / "predictions.txt", "--json", "--verbose")
    assert rescored.exit_code == 0, rescored.output
    assert json.loads(rescored.stdout)["accuracy"] == 1.0
    assert "detection: task from eval_meta.json (the prep manifest's eval contract" in \
        rescored.stderr


@pytest.mark.usefixtures("one_torch_thread")
def test_predict_takes_the_scorer_from_the_manifest_not_the_command(
        shared_data: Path, chinese_vocab: Path, tmp_path: Path) -> None:
    """The old rule read "cluener" out of prep's command; the contract names the scorer."""
    dev = _head_lines(shared_data / "cluener2020" / "dev.json", 12, tmp_path / "dev.json")
    prep = tmp_path / "prep"
    _prep("cluener", str(dev), "--vocab", str(chinese_vocab), "-o", str(prep))
    manifest = _manifest(prep)
    manifest["command"] = "prep something-else"  # no longer says cluener
    (prep / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = tmp_path / "eval"
    result = _predict_perfect(prep, out)
    meta = json.loads((out / "eval_meta.json").read_text(encoding="utf-8"))
    assert meta == {"task": "cluener", "gold": str(dev), "format": "cluener-jsonl",
                    "predictions": "predictions.json"}
    assert result.scores["task"] == "cluener"
    assert result.scores["strict"]["micro"]["f1"] == 1.0


@pytest.mark.usefixtures("one_torch_thread")
def test_manifest_without_eval_block_falls_back_and_says_so(
        shared_data: Path, chinese_vocab: Path, tmp_path: Path, capsys) -> None:
    dev = _head_lines(shared_data / "cluener2020" / "dev.json", 12, tmp_path / "dev.json")
    prep = tmp_path / "prep"
    _prep("cluener", str(dev), "--vocab", str(chinese_vocab), "-o", str(prep))
    manifest = _manifest(prep)
    del manifest["eval"]  # as an older bertkit wrote it
    (prep / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    capsys.readouterr()
    result = _predict_perfect(prep, tmp_path / "eval")
    assert result.scores["task"] == "cluener"
    assert result.scores["strict"]["micro"]["f1"] == 1.0
    warned = capsys.readouterr().err
    assert "has no eval contract" in warned and "run prep again" in warned
    meta = json.loads((tmp_path / "eval" / "eval_meta.json").read_text(encoding="utf-8"))
    assert meta["task"] == "cluener" and meta["gold"] == str(dev)


# --- eval: the gold file decides when it is given -----------------------------------------

def test_unknown_gold_is_not_overruled_by_tag_looking_predictions(tmp_path: Path) -> None:
    """It used to score conll whenever the predictions looked like tags, whatever --gold held."""
    gold = tmp_path / "gold.txt"
    gold.write_text("this is prose\nnot a gold file of any task\n", encoding="utf-8")
    predictions = tmp_path / "predictions.txt"
    predictions.write_text("a O O\nb B-PER B-PER\n", encoding="utf-8")
    result = run_eval(predictions, "--gold", gold)
    assert result.exit_code == 2
    line = error_line(result)
    assert f"cannot tell the task from the gold file {gold}" in line and "--task" in line
    assert run_eval(predictions, "--gold", gold, "--task", "conll").exit_code == 1  # checked


# --- task and label lists defined once ----------------------------------------------------

def test_glue_tnews_cluener_lists_come_from_evaluate_benchmarks() -> None:
    from bertkit import submission
    from bertkit.evaluate import cluener, detect, glue
    from bertkit.prep.classification import glue as prep_glue
    from bertkit.prep.classification import tnews
    from bertkit.prep.ner import tags as ner_tags

    assert set(prep_glue.GLUE_TASKS) == set(benchmarks.GLUE)
    for key, task in prep_glue.GLUE_TASKS.items():
        assert task.benchmark is benchmarks.GLUE[key]
    assert detect.TASKS[-len(benchmarks.GLUE_SCORED_TASKS):] == tuple(
        f"glue-{key}" for key in benchmarks.GLUE_SCORED_TASKS)
    assert glue.glue_task_name("AX") is None and glue.glue_task_name("SST2") == "sst-2"
    assert tnews.TNEWS_LABELS is benchmarks.TNEWS_LABELS
    assert ner_tags.CLUENER_TYPES is cluener.CLUENER_TYPES is benchmarks.CLUENER_TYPES
    assert submission.GLUE_LABELS["mnli-mm"] is benchmarks.NLI
    assert submission.GLUE_LABELS["ax"] is benchmarks.NLI
    assert list(submission.GLUE_FILES) == list(benchmarks.GLUE_SUBMISSION_SLOTS)
    assert submission.GLUE_FILES["sst-2"] == ("SST-2.tsv", "SST-2/test.tsv")
    assert submission.GLUE_FILES["mnli-mm"] == ("MNLI-mm.tsv", "MNLI/test_mismatched.tsv")
    assert submission.GLUE_FILES["ax"] == ("AX.tsv", "diagnostic/diagnostic.tsv")


def test_prep_reads_the_task_tables_without_loading_the_scorers() -> None:
    import subprocess

    code = ("import sys, bertkit.prep.classification.glue, bertkit.prep.classification.tnews, "
            "bertkit.prep.outputs; print('bertkit.evaluate.api' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


# --- submit reads through evaluate.inputs -------------------------------------------------

_CLUENER_TEST = '{"id": 0, "text": "北京"}\n{"id": 1, "text": "上海"}\n'
_TNEWS_TEST = '{"id": 0, "sentence": "一"}\n{"id": 1, "sentence": "二"}\n{"id": 2}\n'


@pytest.mark.parametrize("kind, test, predictions, problem, line", [
    # Blank lines used to shift the line numbers in submission errors.
    ("cluener", _CLUENER_TEST, '{"id": 0, "label": {}}\n\n{"id": 1, "label": {"address": '
     '{"北京": [[0, 1]]}}}\n', "not that text", 3),
    ("tnews", _TNEWS_TEST, "index\tprediction\n0\t100\n1\t101\n1\t102\n", "an id repeats", 4),
    # {"id", "label"} lines out of order were written in file order, every answer on the
    # wrong test line; the ids must be the record numbers, in order.
    ("tnews", _TNEWS_TEST, '{"id": 1, "label": "100"}\n{"id": 0, "label": "116"}\n'
     '{"id": 2, "label": "100"}\n', "id '1' where record 0 is expected", 1),
])
def test_submission_refusals_name_the_real_line(tmp_path: Path, kind: str, test: str,
                                                predictions: str, problem: str,
                                                line: int) -> None:
    from bertkit.errors import InputError
    from bertkit.submission import cluener_submission, tnews_submission

    make = cluener_submission if kind == "cluener" else tnews_submission
    (tmp_path / "test.json").write_text(test, "utf-8")
    (tmp_path / "p").write_text(predictions, "utf-8")
    with pytest.raises(InputError, match=problem) as error:
        make(tmp_path / "p", tmp_path / "test.json")
    assert error.value.position == line


def test_submission_json_lines_in_id_order_are_accepted(tmp_path: Path) -> None:
    from bertkit.submission import tnews_submission

    (tmp_path / "test.json").write_text(_TNEWS_TEST, "utf-8")
    lines = '{"id": 0, "label": "116"}\n{"id": 1, "label": "100"}\n{"id": 2, "label": "101"}\n'
    (tmp_path / "p.json").write_text(lines, "utf-8")
    assert tnews_submission(tmp_path / "p.json", tmp_path / "test.json").text == lines
