"""Peer for bench_eval.py: the official SQuAD v1.1 scoring loop, re-expressed plainly.

No installed package ships the official ``evaluate-v1.1.py`` (torchmetrics has a torch
port, used as a second peer). This file re-implements its loop from the documented
behaviour (reference-formats E.1), keeping the official cost structure: every
(prediction, gold answer) pair is normalised afresh, once for EM and once for F1.
Runnable as a command like the official script:
``python bench/squad_v1_reference.py DATASET.json PREDICTIONS.json`` prints the JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import string
import sys
from collections import Counter


def normalize(text: str) -> str:
    lowered = text.lower()
    punctuation = set(string.punctuation)
    no_punctuation = "".join(ch for ch in lowered if ch not in punctuation)
    no_articles = re.sub(r"\b(a|an|the)\b", " ", no_punctuation)
    return " ".join(no_articles.split())


def token_f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize(prediction).split(), normalize(gold).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if not same:
        return 0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def exact(prediction: str, gold: str) -> bool:
    return normalize(prediction) == normalize(gold)


def best_over_golds(metric, prediction: str, golds: list[str]) -> float:
    return max(metric(prediction, gold) for gold in golds)


def evaluate(dataset: list, predictions: dict) -> dict:
    exact_sum = f1_sum = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    print(f"Unanswered question {qa['id']} will receive score 0.",
                          file=sys.stderr)
                    continue
                golds = [answer["text"] for answer in qa["answers"]]
                prediction = predictions[qa["id"]]
                exact_sum += best_over_golds(exact, prediction, golds)
                f1_sum += best_over_golds(token_f1, prediction, golds)
    return {"exact_match": 100.0 * exact_sum / total, "f1": 100.0 * f1_sum / total}


def main() -> None:
    parser = argparse.ArgumentParser(description="SQuAD v1.1 scoring (bench peer)")
    parser.add_argument("dataset_file")
    parser.add_argument("prediction_file")
    args = parser.parse_args()
    with open(args.dataset_file) as handle:
        dataset = json.load(handle)
    if dataset.get("version") != "1.1":
        print("Evaluation expects v-1.1, but got dataset with v-" + str(dataset.get("version")),
              file=sys.stderr)
    with open(args.prediction_file) as handle:
        predictions = json.load(handle)
    print(json.dumps(evaluate(dataset["data"], predictions)))


if __name__ == "__main__":
    main()
