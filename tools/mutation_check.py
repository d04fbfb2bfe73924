"""Mutation spot-check: does the default test suite fail when key code is subtly wrong?

Each mutation below is a small deliberate bug in one function (the four that once passed every
test, plus others across prep, tokenization, the TFRecord codec, eval and training). For each,
the repository is copied to a temporary directory, the one edit is applied to the copy, and the
tests chosen for that function run against the copy (PYTHONPATH points at it). A mutation the
tests do not fail on is a hole in the suite. The unmutated copy is run first: tests that fail
without any bug would make every result meaningless.

    python tools/mutation_check.py            # all mutations, a table at the end
    python tools/mutation_check.py -k argmin  # those whose name contains "argmin"
    python tools/mutation_check.py --list

Exit status 0 when every mutation was caught, 1 when one survived (or the baseline failed).
Not part of CI: it runs the selected tests once per mutation (several minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]  # pytest arguments (files or node ids)
    what: str


MUTATIONS = [
    Mutation("predict-ner-tags-shifted", "bertkit/train/predict.py",
             "predicted = [list(tags) + [0] * (seq_length - len(tags)) for tags in outputs[\"tags\"]]",
             "predicted = [[0] + list(tags) + [0] * (seq_length - len(tags) - 1) "
             "for tags in outputs[\"tags\"]]",
             ("tests/test_predict_exact.py", "tests/test_predict_tasks.py"),
             "predict writes NER tags shifted by one position"),
    Mutation("predict-classification-argmin", "bertkit/train/predict.py",
             "logits.argmax(axis=1)", "logits.argmin(axis=1)",
             ("tests/test_predict_exact.py", "tests/test_predict_tasks.py"),
             "predict writes classification argmin instead of argmax"),
    Mutation("accumulation-unscaled-backward", "bertkit/train/trainer.py",
             "                loss = model(**batch)[\"loss\"] / options.grad_accum\n"
             "            scaler.scale(loss).backward()",
             "                unscaled = model(**batch)[\"loss\"]\n"
             "                loss = unscaled / options.grad_accum\n"
             "            scaler.scale(unscaled).backward()",
             ("tests/test_train_recipe.py", "tests/test_train_loop.py"),
             "accumulation: backward on the unscaled loss, logged loss still scaled"),
    Mutation("warmup-rounds-up", "bertkit/train/optim.py",
             "return int(total_steps * warmup_proportion)",
             "return -int(-(total_steps * warmup_proportion) // 1)",
             ("tests/test_train_recipe.py", "tests/test_train_optim.py"),
             "warmup step count rounds up (Google's int() rounds down)"),
    Mutation("clip-at-twice-the-norm", "bertkit/train/optim.py",
             "clip_grad_norm_(parameters, max_norm, foreach=True)",
             "clip_grad_norm_(parameters, 2 * max_norm, foreach=True)",
             ("tests/test_train_recipe.py", "tests/test_train_optim.py"),
             "global-norm clipping to twice the bound"),
    Mutation("weight-decay-on-layernorm", "bertkit/train/optim.py",
             'NO_DECAY_MARKERS = ("bias", "LayerNorm", "layer_norm")',
             'NO_DECAY_MARKERS = ("bias",)',
             ("tests/test_train_optim.py",),
             "weight decay applied to LayerNorm weights"),
    Mutation("lr-decay-off-by-one", "bertkit/train/optim.py",
             "max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))",
             "max(0.0, (total_steps - step + 1) / max(1, total_steps - warmup_steps))",
             ("tests/test_train_optim.py", "tests/test_train_recipe.py"),
             "linear decay one step late"),
    Mutation("glue-truncation-tie-side", "bertkit/prep/classification/convert.py",
             "half_a, half_b = (budget + 1) // 2, budget // 2",
             "half_a, half_b = budget // 2, (budget + 1) // 2",
             ("tests/test_prep_glue.py", "tests/test_prep_glue_google_features.py"),
             "pair truncation cuts text_a first on a tie (Google pops from b)"),
    Mutation("wordpiece-single-hash", "bertkit/tokenization/reference.py",
             'candidate = word[start:end] if start == 0 else "##" + word[start:end]',
             'candidate = word[start:end] if start == 0 else "#" + word[start:end]',
             ("tests/test_tokenization.py",),
             "WordPiece continuation prefix '#' instead of '##'"),
    Mutation("wordpiece-max-chars-100", "bertkit/tokenization/reference.py",
             "MAX_INPUT_CHARS_PER_WORD = 200", "MAX_INPUT_CHARS_PER_WORD = 100",
             ("tests/test_tokenization.py", "tests/test_tokenization_codepoints.py"),
             "words of 101-200 characters become [UNK]"),
    Mutation("squad-doc-stride-short", "bertkit/prep/squad/windows.py",
             # never a step of 0: doc_stride 1 would loop forever (and be killed, not failed)
             "start += min(length, doc_stride)", "start += max(1, min(length, doc_stride) - 1)",
             ("tests/test_prep_squad.py", "tests/test_prep_squad_identity.py"),
             "SQuAD windows advance one piece less than doc_stride"),
    Mutation("cluener-span-end-inclusive", "bertkit/prep/ner/decode.py",
             "start, end = start_pair[0], end_pair[1] - 1",
             "start, end = start_pair[0], end_pair[1]",
             ("tests/test_predict_exact.py", "tests/test_ner_decode.py",
              "tests/test_prep_cluener.py"),
             "CLUENER span end one character too far"),
    Mutation("tfrecord-crc-mask-delta", "bertkit/tfrecord/framing.py",
             "return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF",
             "return (((crc >> 15) | (crc << 17)) + _MASK_DELTA + 1) & 0xFFFFFFFF",
             ("tests/test_tfrecord_codec.py", "tests/test_tfrecord_tensorflow.py"),
             "masked CRC off by one (TensorFlow would reject the file)"),
    Mutation("squad-eval-keeps-an", "bertkit/evaluate/squad_v1.py",
             r'_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)',
             r'_ARTICLES = re.compile(r"\b(a|the)\b", re.UNICODE)',
             ("tests/test_eval_squad.py",),
             "SQuAD normalisation keeps the article 'an'"),
    Mutation("mcc-sign", "bertkit/evaluate/classification.py",
             "cov_true_pred = correct * samples - sum(",
             "cov_true_pred = correct * samples + sum(",
             ("tests/test_eval_glue.py",),
             "Matthews correlation with the wrong sign in the covariance"),
    Mutation("spearman-without-ranks", "bertkit/evaluate/classification.py",
             "return pearson(average_ranks(x), average_ranks(y))",
             "return pearson(average_ranks(x), list(y))",
             ("tests/test_eval_glue.py",),
             "Spearman ranks only one side"),
]


def copy_repository(target: Path) -> Path:
    """The library, tests and project file (no venv, caches or .git) under ``target``."""
    repo = target / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    for name in ("bertkit", "tests", "tools"):
        shutil.copytree(REPO_ROOT / name, repo / name, ignore=ignore)
    shutil.copy2(REPO_ROOT / "pyproject.toml", repo / "pyproject.toml")
    return repo


def environment(repo: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(repo), PYTHONDONTWRITEBYTECODE="1")
    # The copy lives elsewhere, so ../shared/data would not be found next to it.
    env.setdefault("BERTKIT_SHARED_DATA", str(REPO_ROOT.parent / "shared" / "data"))
    return env


def run_tests(repo: Path, tests: tuple[str, ...], *, first_failure: bool) -> tuple[int, float, str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    if first_failure:
        command.append("-x")
    started = time.monotonic()
    done = subprocess.run(command, cwd=repo, env=environment(repo), capture_output=True,
                          text=True, check=False)
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    return done.returncode, time.monotonic() - started, last


def check_imports_the_copy(repo: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", "import bertkit; print(bertkit.__file__)"],
                           cwd=repo, env=environment(repo), capture_output=True, text=True,
                           check=True)
    imported = Path(probe.stdout.strip()).resolve()
    if repo.resolve() not in imported.parents:
        raise SystemExit(f"the copy is not what Python imports ({imported}); "
                         "is bertkit installed non-editable over PYTHONPATH?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", dest="keyword", default="", help="only mutations whose name has this")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not run the selected tests on the unmutated copy first")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.keyword in m.name]
    if args.list or not chosen:
        for mutation in MUTATIONS:
            print(f"{mutation.name:32} {mutation.path:40} {mutation.what}")
        return 0 if args.list else 2

    with tempfile.TemporaryDirectory(prefix="bertkit-mutation-") as temporary:
        repo = copy_repository(Path(temporary))
        check_imports_the_copy(repo)
        for mutation in chosen:  # every edit must apply to today's source
            text = (repo / mutation.path).read_text(encoding="utf-8")
            if text.count(mutation.old) != 1:
                print(f"{mutation.name}: the text to mutate occurs {text.count(mutation.old)} "
                      f"times in {mutation.path} (expected once); update the mutation")
                return 1
        if not args.skip_baseline:
            union = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            code, seconds, last = run_tests(repo, union, first_failure=False)
            print(f"baseline (no mutation): exit {code} in {seconds:.0f} s: {last}", flush=True)
            if code != 0:
                print("the selected tests fail without any mutation; fix that first")
                return 1
        rows = []
        for mutation in chosen:
            target = repo / mutation.path
            original = target.read_text(encoding="utf-8")
            target.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
            try:
                code, seconds, last = run_tests(repo, mutation.tests, first_failure=True)
            finally:
                target.write_text(original, encoding="utf-8")
            caught = code == 1  # 1: tests failed; other codes are errors of the run itself
            verdict = "caught" if caught else ("SURVIVED" if code == 0 else f"ERROR (exit {code})")
            rows.append((mutation, verdict, seconds, last))
            print(f"{mutation.name}: {verdict} ({seconds:.0f} s) {last}", flush=True)

    print()
    print("| mutation | what | tests run | result | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for mutation, verdict, seconds, _ in rows:
        tests = ", ".join(Path(t).name for t in mutation.tests)
        print(f"| {mutation.name} | {mutation.what} | {tests} | {verdict} | {seconds:.0f} |")
    survived = [m.name for m, verdict, _, _ in rows if verdict != "caught"]
    print(f"\n{len(rows) - len(survived)}/{len(rows)} mutations caught"
          + (f"; not caught: {', '.join(survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
