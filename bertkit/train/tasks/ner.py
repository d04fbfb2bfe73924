"""Named-entity recognition / token tagging (CLUENER 2020, ChineseNER, CoNLL-style data).

A tag per token (`heads.BertForTokenClassification`), optionally through a linear-chain CRF
(`--use-crf`). Prediction decodes tags (Viterbi or argmax) and turns them back into the
input's units through prep's offsets sidecar: CLUENER JSON lines (`predictions.json`), or
`predictions.txt` with `unit gold predicted` lines (conlleval's input) for tag datasets;
without a sidecar, `predictions.txt` with one line of predicted tags per record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bertkit.errors import InputError
from bertkit.evaluate.contract import CLUENER_JSONL, CONLL_BIO, GOLD_TAG_SCHEMES, EvalContract
from bertkit.fsutil import write_text_atomic
from bertkit.train.config import BertConfig
from bertkit.train.data import INPUT_FEATURES, RecordLayout, labels_from_data
from bertkit.train.heads import BertForTokenClassification
from bertkit.train.prediction_files import (
    UNLABELLED_NOTE,
    PredictResult,
    cluener_gold_has_labels,
    eval_contract,
    gold_for,
    label_names,
    write_eval_meta,
)
from bertkit.train.tasks.base import PredictionContext, Task


def build_head(config: BertConfig, num_labels: int | None, use_crf: bool
               ) -> BertForTokenClassification:
    return BertForTokenClassification(config, int(num_labels), use_crf=use_crf)  # type: ignore[arg-type]


def decoded_tags(model: nn.Module, inputs: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Predict's forward: the best tag per valid position (Viterbi or argmax), per record."""
    return {"tags": model.decode(**inputs)}  # type: ignore[operator]


def write_ner_predictions(outputs: dict[str, list[Any]], context: PredictionContext
                          ) -> PredictResult:
    eval_file, output_dir = context.eval_file, context.output_dir
    id2label = label_names(context.model, eval_file, context.id2label)
    seq_length = len(outputs["attention_mask"][0])
    # decode() returns tags for the masked prefix; pad back to record positions.
    predicted = [list(tags) + [0] * (seq_length - len(tags)) for tags in outputs["tags"]]
    split = eval_file.name.split(".")[0]
    sidecar = eval_file.parent / f"{split}.offsets.jsonl"
    files: list[Path] = []
    if sidecar.is_file():
        from bertkit.prep.ner.decode import decode_cluener_line, decode_tags, load_ner_sidecar

        entries = load_ner_sidecar(sidecar)
        if len(entries) != len(predicted):
            raise InputError(sidecar, f"{len(entries)} entries for {len(predicted)} records")
        contract = eval_contract(eval_file, lambda manifest: _legacy_ner_contract(manifest,
                                                                                  eval_file))
        if contract.scorer == "cluener":
            lines = [json.dumps(decode_cluener_line(tags, entry, id2label), ensure_ascii=False)
                     for tags, entry in zip(predicted, entries)]
            path = write_text_atomic(output_dir / "predictions.json", "\n".join(lines) + "\n")
        else:
            # Both tag columns in the gold file's scheme (ChineseNER's files are BIO, the
            # labels may be IOBES), so a perfect prediction equals the gold tags.
            scheme = GOLD_TAG_SCHEMES.get(contract.format)
            blocks = []
            golds = outputs.get("labels") or [None] * len(predicted)
            for tags, gold, entry in zip(predicted, golds, entries):
                units = _unit_texts(entry)
                guess = decode_tags(tags, entry, id2label, as_scheme=scheme)
                truth = (decode_tags(list(gold), entry, id2label, as_scheme=scheme)
                         if gold is not None else None)
                rows = [f"{u} {t} {g}" if truth else f"{u} {g}"
                        for u, g, t in zip(units, guess, truth or guess)]
                blocks.append("\n".join(rows) + "\n")
            path = write_text_atomic(output_dir / "predictions.txt", "\n".join(blocks))
        files.append(path)
        files.append(write_eval_meta(output_dir, contract, path.name))
        if contract.scorer == "cluener" and not cluener_gold_has_labels(contract.gold):
            return PredictResult("ner", output_dir, 0, files, note=UNLABELLED_NOTE)
        return PredictResult("ner", output_dir, 0, files)
    lines = [" ".join(id2label.get(int(t), str(t)) for t, m in zip(tags, mask) if m)
             for tags, mask in zip(predicted, outputs["attention_mask"])]
    files.append(write_text_atomic(output_dir / "predictions.txt", "\n".join(lines) + "\n"))
    return PredictResult("ner", output_dir, 0, files,
                         note=f"no offsets sidecar {sidecar.name}: wrote tag lines, not scored")


def _legacy_ner_contract(manifest: dict[str, Any], eval_file: Path) -> EvalContract:
    """Before the eval block: CLUENER when prep's command names it, else tag lines."""
    gold = gold_for(manifest, eval_file)
    if "cluener" in str(manifest.get("command", "")):
        return EvalContract("cluener", gold, CLUENER_JSONL)
    return EvalContract("conll", gold, CONLL_BIO)


def _unit_texts(entry: Any) -> list[str]:
    """The text of every input unit, truncated ones included (they are scored as O)."""
    if len(entry.text) == entry.num_units:  # one character per unit (ChineseNER, CLUENER)
        return list(entry.text)
    kept = [entry.text[start:end] for start, end in (pair for pair in entry.offsets if pair)]
    return kept + ["<cut>"] * (entry.num_units - len(kept))


_LABELS = ("label_ids",)

TASK = Task(
    name="ner",
    train_layout=RecordLayout(INPUT_FEATURES + _LABELS),
    # Gold tags are read when present: the CoNLL-style file lists them beside the predictions.
    predict_layout=RecordLayout(INPUT_FEATURES, optional=_LABELS),
    build_head=build_head,
    resolve_labels=labels_from_data,
    hf_architecture="BertForTokenClassification",
    # transformers has no CRF: its transitions ride along under crf.* (see export.py).
    hf_heads={"classifier.": "classifier.", "crf.": "crf."},
    model_outputs=decoded_tags,
    write_predictions=write_ner_predictions,
    scorers=("cluener", "conll"),
)
