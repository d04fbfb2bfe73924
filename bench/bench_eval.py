"""Benchmark: `bertkit eval` SQuAD v1.1 scoring vs the official v1.1 scoring loop.

Same run, same inputs (the official dev-v1.1.json, 10,570 questions, and the BERT-ensemble
predictions from the SQuAD leaderboard):
1. In-process scoring after the JSON is loaded (both sides get the parsed objects):
   - bertkit: ``score_squad_v1(iter_gold_questions(data), predictions)``;
   - peer: ``bench/squad_v1_reference.py`` (the official loop, see its docstring);
   - second peer: torchmetrics' ``functional.text.squad`` (its torch port), timed on the
     call alone, with its input dicts built beforehand.
   Each is run --repeat times; the best time is reported. Outputs must agree: bertkit and
   the peer exactly (float equality), torchmetrics to float32 precision.
2. Whole command, fresh interpreter each time: ``bertkit eval PRED --gold DEV --json`` vs
   ``python bench/squad_v1_reference.py DEV PRED``; median of --repeat wall times, and the
   printed figures must agree.

Usage: /work/venv/bin/python bench/bench_eval.py [--repeat K] [--no-torchmetrics]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BERTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
DEV = SHARED / "squad_v1.1" / "dev-v1.1.json"
PREDICTIONS = SHARED / "squad_v1.1" / "predictions" / "bert_ensemble_google_ai_language.json"
sys.path.insert(0, str(REPO / "bench"))


def best_time(function, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - began)
    return min(times), result


def in_process(repeat: int, with_torchmetrics: bool) -> dict:
    import squad_v1_reference

    from bertkit.evaluate.squad_v1 import iter_gold_questions, score_squad_v1

    data = json.loads(DEV.read_text())["data"]
    predictions = json.loads(PREDICTIONS.read_text())
    ours_s, ours = best_time(lambda: score_squad_v1(iter_gold_questions(data), predictions), repeat)
    peer_s, peer = best_time(lambda: squad_v1_reference.evaluate(data, predictions), repeat)
    assert (ours.exact_match, ours.f1) == (peer["exact_match"], peer["f1"]), (ours, peer)
    figures = {"questions": ours.total, "bertkit_s": ours_s, "official_loop_s": peer_s,
               "exact_match": ours.exact_match, "f1": ours.f1}
    if with_torchmetrics:
        from torchmetrics.functional.text import squad

        questions = list(iter_gold_questions(data))
        preds = [{"prediction_text": predictions[q.qid], "id": q.qid} for q in questions]
        targets = [{"answers": {"answer_start": [0] * len(q.answers), "text": list(q.answers)},
                    "id": q.qid} for q in questions]
        tm_s, tm = best_time(lambda: squad(preds, targets), repeat)
        assert abs(float(tm["exact_match"]) - ours.exact_match) < 1e-3 * ours.exact_match
        assert abs(float(tm["f1"]) - ours.f1) < 1e-5 * ours.f1
        figures["torchmetrics_s"] = tm_s
    return figures


def median_wall(command: list[str], repeat: int) -> tuple[float, str]:
    times, stdout = [], ""
    for _ in range(repeat):
        began = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - began)
        stdout = completed.stdout
    return statistics.median(times), stdout


def whole_command(repeat: int) -> dict:
    bertkit = str(Path(sys.executable).with_name("bertkit"))
    ours_s, ours_out = median_wall([bertkit, "eval", str(PREDICTIONS), "--gold", str(DEV),
                                    "--json"], repeat)
    peer_s, peer_out = median_wall([sys.executable, str(REPO / "bench" / "squad_v1_reference.py"),
                                    str(DEV), str(PREDICTIONS)], repeat)
    ours, peer = json.loads(ours_out), json.loads(peer_out)
    assert (ours["exact_match"], ours["f1"]) == (peer["exact_match"], peer["f1"]), (ours, peer)
    return {"bertkit_cmd_s": ours_s, "official_cmd_s": peer_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-torchmetrics", action="store_true")
    args = parser.parse_args()
    scoring = in_process(args.repeat, not args.no_torchmetrics)
    n = scoring["questions"]
    print(f"SQuAD v1.1 dev, {n} questions; EM {scoring['exact_match']!r} F1 {scoring['f1']!r} "
          "(identical on both sides)")
    print("in-process scoring (after JSON load), best of", args.repeat)
    rows = [("bertkit", scoring["bertkit_s"]), ("official v1.1 loop", scoring["official_loop_s"])]
    if "torchmetrics_s" in scoring:
        rows.append(("torchmetrics squad", scoring["torchmetrics_s"]))
    for name, seconds in rows:
        print(f"  {name:20s} {seconds * 1000:8.1f} ms  {n / seconds:10.0f} questions/s")
    print(f"  speed-up vs official loop: {scoring['official_loop_s'] / scoring['bertkit_s']:.2f}x")
    if "torchmetrics_s" in scoring:
        print(f"  speed-up vs torchmetrics:  {scoring['torchmetrics_s'] / scoring['bertkit_s']:.2f}x")
    commands = whole_command(args.repeat)
    print("whole command (fresh interpreter, median of", args.repeat, "runs)")
    print(f"  bertkit eval --json        {commands['bertkit_cmd_s']:.3f} s")
    print(f"  python squad_v1_reference  {commands['official_cmd_s']:.3f} s")
    print(f"  ratio official/bertkit:    {commands['official_cmd_s'] / commands['bertkit_cmd_s']:.2f}x")


if __name__ == "__main__":
    main()
