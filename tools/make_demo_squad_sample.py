"""Rebuild the SQuAD files `bertkit demo` trains and scores on (bertkit/data/squad_sample/).

    python tools/make_demo_squad_sample.py [--shared ../shared/data]

- `demo-train.json`: paragraphs of the SQuAD v1.1 *train* set, from
  `squad_v1.1/train-subset-du2017-test-v1.1.json` (one answer per question);
- `demo-heldout.json`: paragraphs of the SQuAD v1.1 *dev* set, `squad_v1.1/dev-v1.1.json`
  (every gold answer kept). Dev articles are not train articles, so no held-out question,
  and no passage, is ever trained on.

Both take short paragraphs (at most MAX_CONTEXT_WORDS whitespace-separated words, so a
question and its passage fit one window of the demo's sequence length), round-robin over
the articles in file order (first short paragraph of every article, then the second...),
until the question budget is reached. Paragraphs are copied unchanged; articles keep their
titles and order. The output depends only on the inputs, so re-running it gives the same
bytes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "bertkit" / "data" / "squad_sample"
MAX_CONTEXT_WORDS = 90
TRAIN_QUESTIONS = 800
HELDOUT_QUESTIONS = 200


def short_paragraphs_round_robin(squad: dict[str, Any], max_words: int,
                                 question_budget: int) -> dict[str, Any]:
    """The first paragraphs, taken one per article per round, until the budget is met."""
    queues = [[paragraph for paragraph in article["paragraphs"]
               if len(paragraph["context"].split()) <= max_words]
              for article in squad["data"]]
    chosen: list[list[dict[str, Any]]] = [[] for _ in queues]
    questions = 0
    for round_index in range(max(map(len, queues), default=0)):
        for article_index, queue in enumerate(queues):
            if questions >= question_budget:
                break
            if round_index < len(queue):
                chosen[article_index].append(queue[round_index])
                questions += len(queue[round_index]["qas"])
    articles = [{"title": article["title"], "paragraphs": paragraphs}
                for article, paragraphs in zip(squad["data"], chosen) if paragraphs]
    return {"data": articles, "version": squad.get("version", "1.1")}


def count_questions(squad: dict[str, Any]) -> tuple[int, int, int]:
    paragraphs = [p for article in squad["data"] for p in article["paragraphs"]]
    return len(squad["data"]), len(paragraphs), sum(len(p["qas"]) for p in paragraphs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    sources = {
        "demo-train.json": (args.shared / "squad_v1.1" / "train-subset-du2017-test-v1.1.json",
                            TRAIN_QUESTIONS),
        "demo-heldout.json": (args.shared / "squad_v1.1" / "dev-v1.1.json", HELDOUT_QUESTIONS),
    }
    for name, (source, budget) in sources.items():
        squad = json.loads(source.read_text(encoding="utf-8"))
        sample = short_paragraphs_round_robin(squad, MAX_CONTEXT_WORDS, budget)
        (OUT_DIR / name).write_text(json.dumps(sample), encoding="utf-8")
        articles, paragraphs, questions = count_questions(sample)
        size = (OUT_DIR / name).stat().st_size
        print(f"{name}: {articles} articles, {paragraphs} paragraphs, {questions} questions, "
              f"{size:,} bytes (from {source.name})")


if __name__ == "__main__":
    main()
